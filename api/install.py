"""Everything the REST edge adds to an application: routes, error rendering, the web client."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.errors import install_error_handlers
from api.routes import ROUTERS

WEB_DIR = Path(__file__).resolve().parent / "web"


def install(app: FastAPI) -> None:
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    # The web client: static files, no build step (api/web/).
    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="web")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/app/")

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}
