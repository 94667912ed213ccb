"""The gateway's per-user send buckets (pure logic, on a clock the test moves)."""

from __future__ import annotations

import pytest

from domain.errors import RateLimited
from domain.limits import SendLimits


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_burst_then_the_steady_rate(clock: Clock) -> None:
    sends = SendLimits(rate=10, burst=3, clock=clock)
    for _ in range(3):
        sends.take(1)
    with pytest.raises(RateLimited) as refused:
        sends.take(1)
    assert refused.value.retry_after == pytest.approx(0.1)
    clock.now += 0.1
    sends.take(1)  # one token back after 1/rate s


def test_buckets_that_refilled_are_dropped_and_nothing_changes_for_their_users(
    clock: Clock,
) -> None:
    sends = SendLimits(rate=10, burst=3, clock=clock)
    for user in range(100):
        sends.take(user)
    clock.now += 0.2  # under burst / rate = 0.3 s: nobody is full yet
    assert sends.sweep() == 100
    clock.now += 0.1  # now everyone is full again: the same as having no bucket
    sends.take(7)
    assert sends.sweep() == 1
    for _ in range(2):
        sends.take(7)  # user 7's bucket is the live one, with its tokens taken
    with pytest.raises(RateLimited):
        sends.take(7)
    for _ in range(3):
        sends.take(8)  # a dropped user starts again with a full burst


def test_the_sweep_runs_by_itself_every_so_many_sends(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SendLimits, "SWEEP_EVERY", 50)
    sends = SendLimits(rate=10, burst=3, clock=clock)
    for user in range(49):
        sends.take(user)
    clock.now += 1
    sends.take(1000)  # the 50th take sweeps the 49 full buckets first
    assert sends.sweep() == 1
