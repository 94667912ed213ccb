"""bench.moderation_cost's summary and report, on made-up runs: no stack needed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import metrics_cost, moderation_cost


def _run(mode: str, round_no: int, rate: float | None) -> dict[str, Any]:
    return {
        "moderation": mode,
        "round": round_no,
        "max_sustained_rate": rate,
        "fixed_delivery_p95_ms": 40.0,
        "steps": [
            {"rate": 900.0, "delivery_p95_ms": 310.0, "delivery_rate": 1.0, "sustained": False}
        ],
    }


def test_the_report_gives_each_round_and_the_median_ratio(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(moderation_cost, "RESULTS", tmp_path)
    runs = [
        _run("mask", 1, 800.0),
        _run("off", 1, 850.0),
        _run("off", 2, None),
        _run("mask", 2, 850.0),
        _run("mask", 3, 700.0),
        _run("off", 3, 900.0),
    ]
    summary = metrics_cost.rate_summary([800.0, 850.0, 700.0], [850.0, 0.0, 900.0])
    report = {"abusive_share": 0.05, "runs": runs, **summary}
    path = moderation_cost.write_report(report, "python -m bench.moderation_cost --rounds 3")
    text = path.read_text()
    assert "5% of the messages carry an insult" in text
    assert "| 2 | off | None | 900/s: delivery p95 310.0 ms, delivered 1.0 | 40.0 |" in text
    assert "Median with moderation: 800.0/s; off: 850.0/s; ratio 0.941 (the bar: 0.9)." in text
    assert "Best with moderation: 850.0/s; off: 900.0/s; ratio 0.944." in text
    saved = json.loads(path.with_suffix(".json").read_text())
    assert saved["command"] == "python -m bench.moderation_cost --rounds 3"


def test_the_command_line_refuses_a_share_outside_zero_to_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        moderation_cost.main(["--abusive-share", "1.5"])
    assert "--abusive-share must be between 0 and 1" in capsys.readouterr().err
