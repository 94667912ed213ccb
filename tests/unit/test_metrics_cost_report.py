"""bench.metrics_cost's arithmetic and reports, on made-up runs: no stack needed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench import metrics_cost


def _run(with_job: bool, rate: float | None, cpu: float, catch_up: float | None) -> dict[str, Any]:
    return {
        "metrics_job": with_job,
        "max_sustained_rate": rate,
        "taskmanager_cpu_share": cpu,
        "catch_up_s": catch_up,
        "round": 1,
        "steps": [
            {"rate": 1200.0, "delivery_p95_ms": 500.0, "delivery_rate": 1.0, "sustained": False}
        ],
    }


def test_the_ratio_is_best_with_the_job_over_best_without_and_a_run_with_none_counts_as_zero() -> (
    None
):
    runs = [
        _run(True, 1000.0, 0.36, 4.1),
        _run(False, 1200.0, 0.28, None),
        _run(False, None, 0.32, None),
        _run(True, 1100.0, 0.34, 66.8),
    ]
    summary = metrics_cost.summarize(runs)
    assert summary["best_with_job"] == 1100.0
    assert summary["best_without_job"] == 1200.0
    assert summary["ratio"] == pytest.approx(0.917)
    # Medians: 1050 with the job (1000, 1100) over 600 without (1200 and a run at 0).
    assert summary["median_with_job"] == 1050.0
    assert summary["median_without_job"] == 600.0
    assert summary["median_ratio"] == pytest.approx(1.75)
    assert summary["job_cpu_share"] == pytest.approx(0.05)


def test_the_reports_name_the_catch_up_and_the_jobs_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics_cost, "RESULTS", tmp_path)
    runs = [_run(True, 1000.0, 0.36, 4.1), _run(False, 1200.0, 0.28, None)]
    chat = metrics_cost.write_report({"runs": runs, **metrics_cost.summarize(runs)}, "cmd a")
    text = chat.read_text()
    assert "| 1 | running | 4.1 | 1000.0 | 1200/s: delivery p95 500.0 ms" in text
    assert "| 1 | stopped | - | 1200.0 |" in text
    assert "ratio 0.833" in text
    assert "Median with the job: 1000.0/s; without: 1200.0/s; ratio 0.833 (the bar: 0.9)" in text
    assert chat.with_suffix(".json").exists()

    produced = {
        "rate": 1000.0,
        "seconds": 40.0,
        "with_job": [0.507, 0.453],
        "without_job": [0.394, 0.384],
        "job_cpu_share": 0.091,
        "job_cpu_per_1k_per_s": 0.091,
    }
    text = metrics_cost.write_produced_report(produced, "cmd b").read_text()
    assert "| running | 0.507, 0.453 |" in text
    assert "The job's CPU: 0.091 of a core" in text


def test_the_median_of_five_rounds_ignores_one_bad_sweep_in_either_arm() -> None:
    on = [1000.0, 1100.0, 0.0, 1000.0, 1050.0]
    off = [1100.0, 1100.0, 1200.0, 600.0, 1100.0]
    summary = metrics_cost.rate_summary(on, off)
    assert summary["median_on"] == 1000.0
    assert summary["median_off"] == 1100.0
    assert summary["median_ratio"] == pytest.approx(0.909)
    assert summary["best_ratio"] == pytest.approx(0.917)
    assert metrics_cost.rate_summary([], off)["median_ratio"] is None
