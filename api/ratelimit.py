"""Fixed-window rate limits in Redis (one INCR + EXPIRE round trip per request)."""

from __future__ import annotations

import time

import redis.asyncio as aioredis

from api.errors import RateLimited


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    async def hit(self, scope: str, subject: str, *, limit: int, window_s: int = 60) -> None:
        """Count one request of ``subject``; raise RateLimited once it is over ``limit``."""
        now = time.time()
        window = int(now // window_s)
        key = f"{self.namespace}:{scope}:{subject}:{window}"
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.incr(key)
            pipe.expire(key, window_s + 1)
            count, _ = await pipe.execute()
        if int(count) > limit:
            retry_after = max(1, int((window + 1) * window_s - now) + 1)
            raise RateLimited(
                f"too many {scope} requests: at most {limit} per {window_s}s; "
                f"retry in {retry_after}s",
                retry_after=retry_after,
            )
