"""The application: `uvicorn server.app:create_app --factory` (what `make up` runs).

One process serves the REST API and the WebSocket gateway over one ``Resources`` container;
the API's docs at /docs are served from local assets (fastapi-offline), never from a CDN.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from api.hot import HotRoutes
from api.install import install as install_api
from core.settings import Settings, get_settings
from domain.resources import open_resources
from realtime import gateway


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_resources(settings) as resources:
            app.state.resources = resources
            app.state.gateway = gateway.Gateway(resources)
            try:
                yield
            finally:
                await app.state.gateway.close()

    app = FastAPIOffline(
        title="studyhub",
        version="0.1.0",
        description="Study rooms, discussion groups, study buddies and friends.",
        lifespan=lifespan,
    )
    install_api(app)
    app.include_router(gateway.router)
    if settings.api_hot_routes:
        app.add_middleware(HotRoutes)
    return app
