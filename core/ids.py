"""Globally unique, time-ordered 64-bit ids (Snowflake layout).

Rows of one kind live on several MySQL shards, so ids cannot come from AUTO_INCREMENT. The layout
is 41 bits of milliseconds since 2025-01-01, 10 bits of generator id and 12 bits of sequence:
4,096 ids per millisecond per generator, ordered by creation time, and they fit a signed BIGINT.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from core import wire

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
GENERATOR_BITS = 10
SEQUENCE_BITS = 12
MAX_GENERATOR_ID = (1 << GENERATOR_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


class IdGenerator:
    def __init__(self, generator_id: int) -> None:
        if not 0 <= generator_id <= MAX_GENERATOR_ID:
            raise ValueError(f"generator_id must be in 0..{MAX_GENERATOR_ID}, got {generator_id}")
        self._generator_id = generator_id
        self._lock = threading.Lock()
        self._last_ms = -1
        self._sequence = 0

    def next_id(self) -> int:
        with self._lock:
            now = int(time.time() * 1000)
            # If the wall clock went back (NTP step), keep issuing from the last instant rather
            # than risk a duplicate.
            now = max(now, self._last_ms)
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:
                    while now <= self._last_ms:
                        now = max(int(time.time() * 1000), self._last_ms)
                        if now == self._last_ms:
                            time.sleep(0.0001)
                            now = int(time.time() * 1000)
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (GENERATOR_BITS + SEQUENCE_BITS))
                | (self._generator_id << SEQUENCE_BITS)
                | self._sequence
            )


def id_timestamp_ms(snowflake_id: int) -> int:
    """The creation time (Unix ms) encoded in an id."""
    return (snowflake_id >> (GENERATOR_BITS + SEQUENCE_BITS)) + EPOCH_MS


# Generator ids 0-899 are leased by running services; 900-999 are the tests' and tools' own,
# 1000-1010 mark synthetic benchmark populations (bench/bulk.py deletes by them).
LEASABLE = range(900)


async def lease_generator_id(redis: Any, owner: str, *, ttl_s: int = 3600) -> int:
    """Claim a generator id no other live process holds (``SET NX`` with a TTL in Redis).

    Every process that makes ids needs its own generator id, or two processes could mint the
    same id in the same millisecond. Workers of one uvicorn and gateways on several hosts all
    lease from the same Redis; the holder refreshes its lease (``renew_generator_id``) well
    within the TTL, and a crashed holder's id comes free when its lease expires.
    """
    for candidate in LEASABLE:
        if await redis.set(wire.id_lease_key(candidate), owner, nx=True, ex=ttl_s):
            return candidate
    raise RuntimeError(f"all {len(LEASABLE)} generator ids are leased; are leases leaking?")


async def renew_generator_id(
    redis: Any, generator_id: int, owner: str, *, ttl_s: int = 3600
) -> bool:
    """Extend our lease; False if it was lost (then the process must stop minting ids)."""
    key = wire.id_lease_key(generator_id)
    if await redis.get(key) != owner:
        return False
    return bool(await redis.expire(key, ttl_s))
