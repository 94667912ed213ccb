"""``graph_jobs.suggestions._ahead``: the scoring thread hands the writer its users in order,
in chunks, and a failure in the scoring reaches the writer instead of hanging it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graph_jobs.suggestions import _ahead


def test_every_item_in_order_in_chunks() -> None:
    chunks = list(_ahead(iter(range(10)), 4))
    assert chunks == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(_ahead(iter([]), 4)) == []


def test_a_failure_while_scoring_is_raised_to_the_writer() -> None:
    def scoring() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("the kernel failed")

    got = _ahead(scoring(), 1)
    assert next(got) == [1]
    assert next(got) == [2]
    with pytest.raises(ValueError, match="the kernel failed"):
        next(got)
