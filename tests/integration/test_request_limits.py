"""The per-user request limit, counted in each process and summed in the real Redis."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest
import redis.asyncio as aioredis

from core.settings import Settings
from domain.errors import RateLimited
from domain.limits import RateLimiter
from tests.conftest import require

pytestmark = pytest.mark.integration


async def _limiters(
    settings: Settings, namespace: str
) -> tuple[aioredis.Redis, RateLimiter, RateLimiter]:
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True)
    return client, RateLimiter(client, namespace), RateLimiter(client, namespace)


async def _stored(client: aioredis.Redis, key: str) -> int:
    value = await client.get(key)
    assert value is not None, key
    return int(value)


def _refused(limiter: RateLimiter, user: str, limit: int) -> bool:
    try:
        limiter.count("user", user, limit=limit)
    except RateLimited:
        return True
    return False


def test_two_processes_share_one_limit(settings: Settings) -> None:
    require(settings, "redis")

    async def scenario() -> None:
        while time.time() % 60 > 55:  # the whole scenario inside one window
            await asyncio.sleep(0.5)
        namespace = f"rl-{uuid.uuid4().hex}"
        client, first, second = await _limiters(settings, namespace)
        try:
            # Within one process the count is exact before any flush.
            assert [_refused(first, "7", 5) for _ in range(4)] == [False] * 4
            await first.flush()  # Redis now holds 4
            key = f"{namespace}:user:7:{int(time.time() // 60)}"
            assert await _stored(client, key) == 4
            window_end = (int(time.time() // 60) + 1) * 60
            assert abs(await client.ttl(key) - (window_end + 1 - time.time())) <= 2  # then gone
            # The second process learns the total at its next flush, and counts on top of it.
            assert not _refused(second, "7", 5)  # it knows nothing yet: 1 of its own
            await second.flush()  # Redis: 5, and it now knows
            assert _refused(second, "7", 5)  # refused requests count too, as with INCR
            # The first still believes 4: one more is within the limit as far as it knows, and
            # its flush brings back everyone's count.
            assert not _refused(first, "7", 5)
            await first.flush()  # Redis: 6 (the second's refused one is still in memory)
            assert _refused(first, "7", 5)
            assert not _refused(first, "8", 5)  # another user is not affected
            await first.flush()
            await second.flush()
            assert await _stored(client, key) == 8
        finally:
            await client.aclose()

    asyncio.run(scenario())


def test_counts_wait_for_redis_and_are_not_lost(settings: Settings) -> None:
    require(settings, "redis")

    async def scenario() -> None:
        while time.time() % 60 > 55:
            await asyncio.sleep(0.5)
        namespace = f"rl-{uuid.uuid4().hex}"
        client, _, _ = await _limiters(settings, namespace)
        away = RateLimiter(aioredis.Redis(port=1, socket_connect_timeout=0.2), namespace)
        try:
            for _ in range(3):
                away.count("user", "9", limit=10)
            with pytest.raises((OSError, aioredis.ConnectionError)):
                await away.flush()
            assert _refused(away, "9", 3)  # the 3 counted still hold, per process
            away.redis = client  # Redis back
            await away.flush()
            key = f"{namespace}:user:9:{int(time.time() // 60)}"
            assert await _stored(client, key) == 4
        finally:
            await client.aclose()

    asyncio.run(scenario())
