"""Globally unique, time-ordered 64-bit ids (Snowflake layout).

Rows of one kind live on several MySQL shards, so ids cannot come from AUTO_INCREMENT. The layout
is 41 bits of milliseconds since 2025-01-01, 10 bits of generator id and 12 bits of sequence:
4,096 ids per millisecond per generator, ordered by creation time, and they fit a signed BIGINT.
"""

from __future__ import annotations

import threading
import time

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
