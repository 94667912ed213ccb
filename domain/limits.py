"""Rate limits: fixed windows in Redis for REST requests, token buckets for chat sends.

The REST limit is shared by every worker (one INCR + EXPIRE round trip per request). The chat
send limit is a per-process token bucket per user: a send is refused at once, without a round
trip, and a user's sockets on one gateway share one bucket.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import redis.asyncio as aioredis

from core import wire
from domain.errors import RateLimited


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace

    async def hit(self, scope: str, subject: str, *, limit: int, window_s: int = 60) -> None:
        """Count one request of ``subject``; raise RateLimited once it is over ``limit``."""
        now = time.time()
        window = int(now // window_s)
        key = wire.rate_limit_key(self.namespace, scope, subject, window)
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


class TokenBucket:
    """``rate`` sends a second, bursts of ``burst``."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock = clock
        self.tokens = float(burst)
        self.stamp = clock()

    def take(self) -> float:
        """0 if allowed, else the seconds until a token is free."""
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class SendLimits:
    """The chat send buckets of one process, one per user who sent lately.

    A bucket left alone for burst / rate seconds is full again, the same as no bucket, so
    such buckets are dropped: the map holds recent senders, not everyone who ever sent.
    """

    SWEEP_EVERY = 10_000  # takes between sweeps: the sweep is O(buckets), amortised

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate, self.burst = rate, burst
        self.clock = clock
        self._buckets: dict[int, TokenBucket] = {}
        self._takes = 0

    def take(self, user_id: int) -> None:
        """Count one send; raise RateLimited if the user's bucket is empty."""
        self._takes += 1
        if self._takes % self.SWEEP_EVERY == 0:
            self.sweep()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = TokenBucket(self.rate, self.burst, self.clock)
        wait = bucket.take()
        if wait:
            raise RateLimited(
                f"at most {self.rate:g} messages/s; retry in {wait:.1f}s", retry_after=wait
            )

    def sweep(self) -> int:
        """Drop the buckets that are full again; returns how many are left."""
        refill_s = self.burst / self.rate
        now = self.clock()
        self._buckets = {
            user: bucket for user, bucket in self._buckets.items() if now - bucket.stamp < refill_s
        }
        return len(self._buckets)
