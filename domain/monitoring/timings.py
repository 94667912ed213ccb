"""The chat path's own timings: room joins and message deliveries, measured where they happen
and summed across every process in Redis, for the monitor to judge (docs/metrics.md).

Each process keeps a ``Timings``: counters and fixed-bucket histograms, updated in memory
(a dict increment on the hot path, nothing more). Once a second ``keep_flushing`` adds what
it gathered to that second's Redis hash (``wire.health_key``) in one pipelined round trip.
Fixed buckets are what make this work: histograms from many processes add up by bucket, and
a percentile of the sum is a percentile of everything. The price is resolution: a value is
known to within its bucket, and a percentile is reported as its bucket's upper bound.

``read_window`` sums the last seconds' hashes (the monitor's probe).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Final

import redis
import redis.asyncio as aioredis

from core import wire

log = logging.getLogger(__name__)

# Upper bounds in ms; a value above the last lands in an overflow bucket reported as +inf.
BOUNDS_MS: Final = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 50, 70, 100, 150, 200, 300, 500, 700, 1_000, 1_500, 2_000,
    3_000, 5_000, 7_000, 10_000, 30_000,
)  # fmt: skip
KEY_TTL_S: Final = 600
FLUSH_EVERY_S: Final = 1.0

JOIN: Final = "join_ms"  # a room join, from the call to its answer (domain.rooms.join_room)
SEND: Final = "send_ms"  # a chat send, from its arrival to its ack (domain.chat.send)
DELIVERY: Final = "delivery_ms"  # a message frame, from the gateway's accept to its socket
DELIVERED: Final = "delivered"  # message frames written to a socket
DROPPED: Final = "dropped"  # message frames a socket was too slow for (it must resume)


class Timings:
    """One process's counts since its last flush."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def observe(self, name: str, ms: float, n: int = 1) -> None:
        """``n`` values of ``ms`` (a frame fanned out to ``n`` sockets at once)."""
        self._counts[f"{name}:{bisect.bisect_left(BOUNDS_MS, ms)}"] += n

    def count(self, name: str, n: int = 1) -> None:
        self._counts[name] += n

    def drain(self) -> dict[str, int]:
        counts, self._counts = self._counts, Counter()
        return dict(counts)


async def flush(client: aioredis.Redis, timings: Timings, now_s: float | None = None) -> int:
    """Add what ``timings`` gathered to this second's hash; how many fields. On failure the
    counts are lost (the next second's go on): health data is not worth a queue."""
    counts = timings.drain()
    if not counts:
        return 0
    key = wire.health_key(int(now_s if now_s is not None else time.time()))
    async with client.pipeline(transaction=False) as pipe:
        for name, n in counts.items():
            pipe.hincrby(key, name, n)
        pipe.expire(key, KEY_TTL_S)
        await pipe.execute()
    return len(counts)


async def keep_flushing(client: aioredis.Redis, timings: Timings) -> None:
    """Flush once a second until cancelled, and once more on the way out."""
    try:
        while True:
            await asyncio.sleep(FLUSH_EVERY_S)
            try:
                await flush(client, timings)
            except (redis.RedisError, OSError) as error:  # Redis away: this second's are lost
                log.debug("could not flush the chat path's timings: %s", error)
    finally:
        with contextlib.suppress(redis.RedisError, OSError):
            await flush(client, timings)


@dataclass
class Window:
    """Every process's counts over some seconds."""

    seconds: int
    counts: dict[str, int] = field(default_factory=dict)
    histograms: dict[str, list[int]] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(self.histograms.get(name, ()))

    def percentile(self, name: str, q: float) -> float | None:
        """The upper bound of the bucket holding the q-quantile (nearest rank); None if no
        value was observed."""
        buckets = self.histograms.get(name)
        if not buckets or sum(buckets) == 0:
            return None
        rank = max(1, math.ceil(q * sum(buckets)))
        seen = 0
        for index, n in enumerate(buckets):
            seen += n
            if seen >= rank:
                return float(BOUNDS_MS[index]) if index < len(BOUNDS_MS) else float("inf")
        return float("inf")  # unreachable: the ranks add up to the total


def parse(window: Window, fields: dict[str, str]) -> None:
    """Add one second's hash to ``window``."""
    for name, value in fields.items():
        if ":" in name:
            histogram, _, index = name.rpartition(":")
            buckets = window.histograms.setdefault(histogram, [0] * (len(BOUNDS_MS) + 1))
            buckets[int(index)] += int(value)
        else:
            window.counts[name] = window.counts.get(name, 0) + int(value)


def read_window(
    client: redis.Redis, seconds: int, now_s: float | None = None, *, grace_s: float = 2.0
) -> Window:
    """The sum of the ``seconds`` whole seconds before ``grace_s`` ago (a second still being
    flushed to is left for the next read)."""
    end = int((now_s if now_s is not None else time.time()) - grace_s)
    keys = [wire.health_key(second) for second in range(end - seconds, end)]
    with client.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hgetall(key)
        found = pipe.execute()
    window = Window(seconds=seconds)
    for fields in found:
        parse(
            window,
            {
                (k.decode() if isinstance(k, bytes) else str(k)): (
                    v.decode() if isinstance(v, bytes) else str(v)
                )
                for k, v in fields.items()
            },
        )
    return window
