"""bench.api_latency's report: CPU per request of the whole run and of each operation alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import api_latency


def test_per_operation_cpu_of_the_api_and_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(api_latency, "RESULTS", tmp_path)
    report = api_latency.Report(
        command="python -m bench.api_latency --per-operation 600",
        params={
            "requests": 4,
            "concurrency": 16,
            "processes": 2,
            "rooms": 1,
            "history_per_room": 0,
            "sampled_users": 2,
            "scored_users": 0,
            "planted_users": 0,
            "fallbacks_computed": 120,
            "population_users": 100_000,
            "friendship_rows": 5_000_000,
        },
        metrics={
            "friend_list": {"count": 1000, "p50": 1.0, "p95": 2.0, "p99": 3.0, "max": 4.0},
            "friends_of_friends": {"count": 300, "p50": 9.0, "p95": 20.0, "p99": 30.0, "max": 40},
        },
        errors={},
        throughput={"requests_per_s": 1000.0, "operations_per_s": 1000.0, "elapsed_s": 1.0},
        api_cpu_seconds=0.5,
        generator_cpu_seconds=0.1,
        stack_cpu_seconds={"mariadb-0": 0.25},
        per_operation={
            "friends": {
                "requests": 600,
                "requests_per_s": 1649.2,
                "api_cpu_ms_per_request": 0.417,
                "mariadb_cpu_ms_per_request": 0.2,
            },
            # A report written before the database column existed still renders.
            "mutual": {"requests": 600, "requests_per_s": 1835.7, "api_cpu_ms_per_request": 0.317},
        },
    )
    text = api_latency.write_report(report).read_text()
    assert "the API (every worker) 0.5 s, 0.38 ms per request" in text  # 1,300 requests
    assert "| friends (friend list) | 600 | 1649.2 | 0.417 | 0.2 |" in text
    assert "| mutual (mutual friends) | 600 | 1835.7 | 0.317 | - |" in text
    assert "| mariadb-0 | 0.25 | 0.250 |" in text
    assert "Friends of friends: 120 pages computed for 300 requests" in text
