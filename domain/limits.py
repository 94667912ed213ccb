"""Rate limits: fixed windows in Redis for REST requests, token buckets for chat sends.

Two REST limits, both fixed windows summed over every worker in Redis:
- ``RateLimiter.hit`` (sign-ins per address): one INCR + EXPIRE round trip per request, exact.
- ``RateLimiter.count`` (every signed-in request): counted in the process's memory and added to
  Redis in one pipeline every ``FLUSH_EVERY_S`` by ``keep_flushing``. The round trip per
  request was 7 % of an API worker's CPU under the benchmark's load (py-spy, issue 14). Exact
  within a process. Across processes each one learns the others' counts at its flushes, so a
  user can pass the limit by at most one flush interval's worth of their requests per process
  (at 600 a minute spread over the minute, one request; a burst gets what it sends in 0.1 s).

The chat send limit is a per-process token bucket per user: a send is refused at once, without a
round trip, and a user's sockets on one gateway share one bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Final

import redis
import redis.asyncio as aioredis

from core import wire
from domain.errors import RateLimited

log = logging.getLogger(__name__)

FLUSH_EVERY_S: Final = 0.1


def _refused(scope: str, limit: int, window_s: int, window: int, now: float) -> RateLimited:
    retry_after = max(1, int((window + 1) * window_s - now) + 1)
    return RateLimited(
        f"too many {scope} requests: at most {limit} per {window_s}s; retry in {retry_after}s",
        retry_after=retry_after,
    )


class RateLimiter:
    def __init__(self, redis: aioredis.Redis, namespace: str) -> None:
        self.redis = redis
        self.namespace = namespace
        # count(): per key, requests not yet added to Redis, the last total Redis gave back
        # (every process's requests, this one's included), and when the key's window ends.
        self._pending: dict[str, int] = {}
        self._flushing: dict[str, int] = {}  # on their way to Redis: in neither of the others
        self._totals: dict[str, int] = {}
        self._ends: dict[str, int] = {}
        self._next_end = 0.0  # the earliest window end among _ends: nothing to forget before

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
            raise _refused(scope, limit, window_s, window, now)

    def count(self, scope: str, subject: str, *, limit: int, window_s: int = 60) -> None:
        """Count one request of ``subject`` without a round trip; raise RateLimited once every
        process's count (as of the last flush) plus this one's since passes ``limit``."""
        now = time.time()
        window = int(now // window_s)
        key = wire.rate_limit_key(self.namespace, scope, subject, window)
        pending = self._pending.get(key, 0) + 1
        self._pending[key] = pending
        end = self._ends[key] = (window + 1) * window_s
        self._next_end = min(self._next_end, end)
        if self._totals.get(key, 0) + self._flushing.get(key, 0) + pending > limit:
            raise _refused(scope, limit, window_s, window, now)

    async def flush(self) -> None:
        """Add the counts since the last flush to Redis and read back every process's totals."""
        pending, self._pending = self._pending, {}
        if not pending:
            self._forget_old()
            return
        self._flushing = pending
        keys = list(pending)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.incrby(key, pending[key])
                    pipe.expireat(key, self._ends[key] + 1)
                replies = await pipe.execute()
        except BaseException:
            now = time.time()
            for key, n in pending.items():  # added on the next flush, unless the window is over
                if self._ends[key] > now:
                    self._pending[key] = self._pending.get(key, 0) + n
            raise
        finally:
            self._flushing = {}
        for key, total in zip(keys, replies[::2], strict=True):
            self._totals[key] = int(total)
        self._forget_old()

    def _forget_old(self) -> None:
        """Drop what is kept of windows that are over: a pass over the keys once a window ends,
        not at every flush."""
        now = time.time()
        if now < self._next_end:
            return
        for key in [k for k, end in self._ends.items() if end <= now and k not in self._pending]:
            del self._ends[key]
            self._totals.pop(key, None)
        self._next_end = min(self._ends.values(), default=now + 1)

    async def keep_flushing(self, every_s: float = FLUSH_EVERY_S) -> None:
        """Flush every ``every_s`` until cancelled, and once more on the way out. With Redis
        away, counts wait in memory for the next flush and the limit holds per process."""
        try:
            while True:
                await asyncio.sleep(every_s)
                try:
                    await self.flush()
                except (redis.RedisError, OSError) as error:
                    log.debug("could not flush the request counts: %s", error)
        finally:
            with contextlib.suppress(redis.RedisError, OSError):
                await self.flush()


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
