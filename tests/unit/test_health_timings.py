"""The chat path's timings (domain.monitoring.timings) and the alerts judged on them: pure
logic, no service. The Redis round trip and the forced conditions are in
tests/integration/test_alerts.py."""

from __future__ import annotations

import math

from core.settings import Settings
from domain.monitoring import timings
from domain.monitoring.alerts import evaluate
from domain.monitoring.probes import Sample


def _window(counts: dict[str, int]) -> timings.Window:
    window = timings.Window(seconds=30)
    timings.parse(window, {name: str(n) for name, n in counts.items()})
    return window


def test_a_value_lands_in_the_first_bucket_whose_bound_holds_it() -> None:
    t = timings.Timings()
    t.observe(timings.JOIN, 0.2)  # <= 1 ms: bucket 0
    t.observe(timings.JOIN, 1.0)  # a bound holds its own value
    t.observe(timings.JOIN, 1.01)  # bucket 1 (<= 2 ms)
    t.observe(timings.DELIVERY, 40_000, n=3)  # past the last bound: the overflow bucket
    t.count(timings.DELIVERED, 3)
    drained = t.drain()
    overflow = len(timings.BOUNDS_MS)
    assert drained == {
        "join_ms:0": 2,
        "join_ms:1": 1,
        f"delivery_ms:{overflow}": 3,
        "delivered": 3,
    }
    assert t.drain() == {}  # drained means gone


def test_percentiles_are_nearest_rank_bucket_bounds_of_the_summed_histograms() -> None:
    index = {bound: i for i, bound in enumerate(timings.BOUNDS_MS)}
    # Two processes' seconds add up by bucket.
    window = _window({f"delivery_ms:{index[10]}": 90, "delivered": 90})
    timings.parse(window, {f"delivery_ms:{index[700]}": "10", "delivered": "10"})
    assert window.total(timings.DELIVERY) == 100
    assert window.counts["delivered"] == 100
    assert window.percentile(timings.DELIVERY, 0.5) == 10.0
    assert window.percentile(timings.DELIVERY, 0.90) == 10.0  # rank 90 is the last fast one
    assert window.percentile(timings.DELIVERY, 0.91) == 700.0
    assert window.percentile(timings.DELIVERY, 1.0) == 700.0
    assert window.percentile(timings.JOIN, 0.95) is None  # nothing observed
    overflow = _window({f"join_ms:{len(timings.BOUNDS_MS)}": 1})
    assert math.isinf(overflow.percentile(timings.JOIN, 0.95) or 0.0)


def _rules(samples: list[Sample], settings: Settings) -> dict[str, tuple[bool, float]]:
    conditions, evaluated = evaluate({"chat": samples}, settings)
    assert {"join_latency", "delivery_latency", "delivery_success"} <= evaluated
    return {c.rule: (c.firing, c.value) for c in conditions if c.rule != "probe"}


def test_the_seeds_thresholds_fire_past_them_and_not_at_them() -> None:
    settings = Settings()
    tags = {"window_s": "30"}
    at = [
        Sample("chat_delivery", tags, {"delivered": 99, "dropped": 1, "success": 0.99,
                                       "p50_ms": 5.0, "p95_ms": 500.0, "p99_ms": 700.0}),
        Sample("room_join", tags, {"joins": 4, "p50_ms": 50.0, "p95_ms": 1000.0, "max_ms": 1000.0}),
    ]  # fmt: skip
    assert _rules(at, settings) == {
        "delivery_latency": (False, 500.0),
        "delivery_success": (False, 0.99),
        "join_latency": (False, 1000.0),
    }
    past = [
        Sample("chat_delivery", tags, {"delivered": 98, "dropped": 2, "success": 0.98,
                                       "p50_ms": 5.0, "p95_ms": 700.0, "p99_ms": 700.0}),
        Sample("room_join", tags, {"joins": 4, "p50_ms": 50.0, "p95_ms": 1500.0, "max_ms": 1500.0}),
    ]  # fmt: skip
    assert _rules(past, settings) == {
        "delivery_latency": (True, 700.0),
        "delivery_success": (True, 0.98),
        "join_latency": (True, 1500.0),
    }


def test_a_quiet_window_judges_nothing_so_open_alerts_resolve() -> None:
    tags = {"window_s": "30"}
    quiet = [
        Sample("chat_delivery", tags, {"delivered": 0, "dropped": 0}),
        Sample("room_join", tags, {"joins": 0}),
    ]
    assert _rules(quiet, Settings()) == {}
