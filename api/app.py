"""The FastAPI application: `uvicorn api.app:create_app --factory` or `studyhub api`."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import redis.asyncio as aioredis
from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.deps import Resources
from api.errors import install_error_handlers
from api.ratelimit import RateLimiter
from api.routes import buddies, chat, groups, presence, rooms, social, users
from core.db.sharding import AsyncShardRouter
from core.ids import IdGenerator, lease_generator_id, renew_generator_id
from core.settings import Settings, get_settings
from ingest.publisher import EventPublisher
from realtime import gateway
from realtime.rooms import RoomStateStore

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).resolve().parent / "web"


async def _renew_lease(redis: aioredis.Redis, generator_id: int, owner: str) -> None:
    while True:
        await asyncio.sleep(300)
        if not await renew_generator_id(redis, generator_id, owner):
            # Someone else holds our generator id now: minting on would risk duplicate ids.
            log.critical("lost the lease on id generator %d; exiting", generator_id)
            os._exit(70)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A blocking pool queues a burst (200 joins at once) instead of failing it.
        pool = aioredis.BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=settings.redis_pool_size,
            timeout=10,
            decode_responses=True,
        )
        redis = aioredis.Redis(connection_pool=pool)
        # Each process leases its own id generator: with several workers or gateways, a
        # fixed generator id would let two processes mint the same id.
        owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        generator_id = await lease_generator_id(redis, owner)
        resources = Resources(
            settings=settings,
            db=AsyncShardRouter(settings),
            redis=redis,
            rooms=RoomStateStore(redis),
            publisher=EventPublisher(settings),
            limiter=RateLimiter(redis, settings.rate_limit_namespace),
            ids=IdGenerator(generator_id),
        )
        app.state.resources = resources
        app.state.gateway = gateway.Gateway(resources)
        renewer = asyncio.get_running_loop().create_task(_renew_lease(redis, generator_id, owner))
        try:
            yield
        finally:
            renewer.cancel()
            await redis.delete(f"idgen:lease:{generator_id}")
            await app.state.gateway.close()
            resources.publisher.close()
            await resources.db.dispose()
            await redis.aclose()
            await pool.aclose()  # a pool passed in is not closed by the client

    app = FastAPI(
        title="studyhub",
        version="0.1.0",
        description="Study rooms, discussion groups, study buddies and friends.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(users.router)
    app.include_router(rooms.router)
    app.include_router(social.router)
    app.include_router(groups.router)
    app.include_router(buddies.router)
    app.include_router(chat.router)
    app.include_router(presence.router)
    app.include_router(gateway.router)

    # The web client: static files, no build step (api/web/).
    app.mount("/app", StaticFiles(directory=WEB_DIR, html=True), name="web")

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/app/")

    @app.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
