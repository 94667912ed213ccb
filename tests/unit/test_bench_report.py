"""The benchmark report's arithmetic: sustained rates, ratios, what stopped a sweep."""

from __future__ import annotations

from typing import Any

from bench import run


def _phase(
    label: str, rate: float, p95: float, *, sustained: bool, gen: float = 0.2
) -> dict[str, Any]:
    return {
        "label": label,
        "rate": rate,
        "sustained": sustained,
        "delivery_rate": 1.0 if sustained else 0.98,
        "metrics": {"delivery": {"p95": p95}, "send_ack": {"p95": 1.0}},
        "throughput": {"sent_per_s": rate, "delivered_per_s": rate * 19},
        "processes": {"load-generator": {"cpu_share": gen}},
    }


def _chat(phases: list[dict[str, Any]], best: float | None) -> dict[str, Any]:
    return {
        "description": "x",
        "metrics": phases[0]["metrics"],
        "delivery_rate": phases[0]["delivery_rate"],
        "throughput": phases[0]["throughput"],
        "processes": phases[0]["processes"],
        "max_sustained_rate": best,
        "phases": phases,
        "quantiles": {},
        "command": "c",
    }


def test_a_server_that_gives_out_is_named_and_its_best_step_counted() -> None:
    ours = run.peer_summary(
        _chat(
            [
                _phase("fixed", 100, 40, sustained=True),
                _phase("sweep-200", 200, 60, sustained=True),
                _phase("sweep-400", 400, 900, sustained=False),
            ],
            best=200,
        )
    )
    assert ours["max_sustained_rate"] == 200
    assert ours["max_sustained_delivered_per_s"] == 200 * 19
    assert not ours["ceiling_not_reached"]
    assert run._stopped_by(ours).startswith("the server at 400/s")


def test_ratios_are_upper_bounds_when_the_peer_was_never_pushed_to_its_limit() -> None:
    ours = run.peer_summary(
        _chat(
            [
                _phase("fixed", 100, 40, sustained=True),
                _phase("sweep-400", 400, 900, sustained=False),
            ],
            best=None,
        )
    )
    peer = run.peer_summary(
        _chat(
            [_phase("fixed", 100, 2, sustained=True), _phase("sweep-400", 400, 2, sustained=True)],
            best=400,
        )
    )
    ratio = run.ratios(ours, peer)
    assert ratio["delivery_p95_at_common_rate"] == 20.0
    assert ratio["peer_ceiling_not_reached"]
    # No sweep step of ours was sustained, but the fixed phase was: that is our best.
    assert ratio["max_sustained_delivered_per_s"] == round(100 / 400, 3)
    assert run._stopped_by(peer) == "nothing: every rate offered was sustained"


def test_a_saturated_generator_is_blamed_instead_of_the_server() -> None:
    peer = run.peer_summary(
        _chat(
            [
                _phase("fixed", 100, 2, sustained=True),
                _phase("sweep-3200", 3200, 400, sustained=False, gen=0.97),
            ],
            best=None,
        )
    )
    assert run._stopped_by(peer).startswith("the load generator")
    assert run.ratios(peer, peer)["peer_ceiling_not_reached"]


def test_cpu_per_thousand_deliveries_is_counted_at_the_best_step() -> None:
    best = _phase("sweep-200", 200, 60, sustained=True, gen=0.19)
    best["processes"]["api"] = {"cpu_share": 0.38}
    best["processes"]["idle"] = {"cpu_share": 0.0}
    summary = run.peer_summary(
        _chat(
            [
                _phase("fixed", 100, 40, sustained=True),
                best,
                _phase("sweep-400", 400, 900, sustained=False, gen=0.5),
            ],
            best=200,
        )
    )
    # 200 messages/s to 19 others is 3,800 deliveries/s: 0.38 cores is 0.1 per 1,000/s.
    assert summary["cpu_per_1k_delivered_per_s"] == {"load-generator": 0.05, "api": 0.1}


def test_no_cpu_per_thousand_without_a_sustained_step() -> None:
    summary = run.peer_summary(_chat([_phase("fixed", 100, 900, sustained=False)], best=None))
    assert summary["cpu_per_1k_delivered_per_s"] == {}
