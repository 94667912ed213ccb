from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from core.ids import MAX_GENERATOR_ID, IdGenerator, id_timestamp_ms


def test_ids_are_unique_and_increasing() -> None:
    generator = IdGenerator(7)
    ids = [generator.next_id() for _ in range(50_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_ids_are_unique_across_threads() -> None:
    generator = IdGenerator(7)
    with ThreadPoolExecutor(max_workers=4) as pool:
        batches = list(pool.map(lambda _: [generator.next_id() for _ in range(5000)], range(4)))
    all_ids = [i for batch in batches for i in batch]
    assert len(set(all_ids)) == 20_000


def test_generators_never_collide() -> None:
    a, b = IdGenerator(1), IdGenerator(2)
    assert not {a.next_id() for _ in range(5000)} & {b.next_id() for _ in range(5000)}


def test_id_carries_its_creation_time() -> None:
    before = int(time.time() * 1000)
    created = id_timestamp_ms(IdGenerator(0).next_id())
    after = int(time.time() * 1000)
    assert before <= created <= after


def test_ids_fit_a_signed_bigint() -> None:
    assert IdGenerator(MAX_GENERATOR_ID).next_id() < 2**63


@pytest.mark.parametrize("bad", [-1, MAX_GENERATOR_ID + 1])
def test_generator_id_is_checked(bad: int) -> None:
    with pytest.raises(ValueError, match="generator_id"):
        IdGenerator(bad)
