"""The per-process container of clients every domain function works with, and its life cycle.

Built once per process by ``open_resources`` (the server's lifespan, or a test's), then passed
to each domain function as its first argument. Both transports share the one container.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from neo4j import AsyncDriver, AsyncGraphDatabase

from core import wire
from core.db.sharding import AsyncShardRouter
from core.ids import IdGenerator, lease_generator_id, renew_generator_id
from core.settings import Settings
from domain.acks import AckLog
from domain.errors import store_unavailable
from domain.limits import RateLimiter, SendLimits
from domain.moderation.filter import WordFilter
from domain.moderation.rules import compiled as compiled_filter
from domain.monitoring.timings import Timings, keep_flushing
from domain.room_state import RoomStateStore
from ingest.publisher import EventPublisher

log = logging.getLogger(__name__)

LEASE_TTL_S = 3600
LEASE_RENEW_S = 300
LEASE_RETRY_S = 5  # after a renewal that met Redis away


@dataclass
class Resources:
    """Everything a domain function may use."""

    settings: Settings
    db: AsyncShardRouter
    redis: aioredis.Redis
    rooms: RoomStateStore
    publisher: EventPublisher
    limiter: RateLimiter
    ids: IdGenerator
    graph: AsyncDriver  # Neo4j, for the reads only the graph answers (domain.paths)
    sends: SendLimits = field(init=False)
    acks: AckLog = field(init=False)
    word_filter: WordFilter = field(init=False)  # the chat's (domain.moderation)
    timings: Timings = field(init=False)  # joins and deliveries, for the monitor

    def __post_init__(self) -> None:
        self.sends = SendLimits(self.settings.chat_rate_per_s, self.settings.chat_burst)
        self.acks = AckLog(self.redis)
        self.timings = Timings()
        self.word_filter = compiled_filter(
            tuple(self.settings.moderation_extra_words),
            tuple(self.settings.moderation_allow_words),
        )


async def keep_lease(
    redis: aioredis.Redis,
    generator_id: int,
    owner: str,
    *,
    every_s: float = LEASE_RENEW_S,
    retry_s: float = LEASE_RETRY_S,
    ttl_s: int = LEASE_TTL_S,
) -> str:
    """Renew the id generator's lease until it is lost; returns why it was lost.

    A renewal that meets Redis away is tried again every ``retry_s``. Before, the first such
    renewal ended the renewing task for good: an hour later the lease ran out while the
    process went on minting ids, and the next process to start could lease the same
    generator id and mint the same ids. If the lease may have run out unrenewed, it is lost.
    """
    renewed = time.monotonic()
    delay = every_s
    while True:
        await asyncio.sleep(delay)
        try:
            ours = await renew_generator_id(redis, generator_id, owner, ttl_s=ttl_s)
        except Exception as error:
            if store_unavailable(error) is None:
                raise
            if time.monotonic() - renewed + retry_s >= ttl_s:
                return f"not renewed for {ttl_s} s (Redis away)"
            log.warning(
                "could not renew the lease on id generator %d (%s); again in %g s",
                generator_id,
                error,
                retry_s,
            )
            delay = retry_s
            continue
        if not ours:
            return "another process holds it"
        renewed = time.monotonic()
        delay = every_s


async def _renew_lease(redis: aioredis.Redis, generator_id: int, owner: str) -> None:
    why = await keep_lease(redis, generator_id, owner)
    # Minting on would risk ids another process also mints.
    log.critical("lost the lease on id generator %d (%s); exiting", generator_id, why)
    os._exit(70)


@asynccontextmanager
async def open_resources(settings: Settings) -> AsyncIterator[Resources]:
    """Connect to every store, lease an id generator, and release it all on the way out."""
    # A blocking pool queues a burst (200 joins at once) instead of failing it.
    pool = aioredis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=10,
        decode_responses=True,
    )
    redis = aioredis.Redis(connection_pool=pool)
    # Each process leases its own id generator: with several workers or gateways, a fixed
    # generator id would let two processes mint the same id.
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    generator_id = await lease_generator_id(redis, owner, ttl_s=LEASE_TTL_S)
    resources = Resources(
        settings=settings,
        db=AsyncShardRouter(settings),
        redis=redis,
        rooms=RoomStateStore(redis),
        publisher=EventPublisher(settings),
        limiter=RateLimiter(redis, settings.rate_limit_namespace),
        ids=IdGenerator(generator_id),
        # Connects on first use: the API starts, and serves everything else, without Neo4j.
        graph=AsyncGraphDatabase.driver(
            settings.neo4j_uri,
            auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
        ),
    )
    renewer = asyncio.get_running_loop().create_task(_renew_lease(redis, generator_id, owner))
    loop = asyncio.get_running_loop()
    flushers = [
        loop.create_task(keep_flushing(redis, resources.timings)),
        loop.create_task(resources.limiter.keep_flushing()),
    ]
    try:
        yield resources
    finally:
        renewer.cancel()
        for flusher in flushers:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher  # its last flush
        await redis.delete(wire.id_lease_key(generator_id))
        resources.publisher.close()
        await resources.graph.close()
        await resources.db.dispose()
        await redis.aclose()
        await pool.aclose()  # a pool passed in is not closed by the client
