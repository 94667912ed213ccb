"""A tiny run of the chat load generator: the harness works and its report holds real numbers.

Not a benchmark, and nothing here asserts on a timing."""

from __future__ import annotations

import json

import pytest

from bench import chat_load
from core.settings import Settings
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.flink]


def test_chat_load_smoke_writes_a_complete_report(settings: Settings) -> None:
    require(settings, "api", "chat-persist")
    before = set(chat_load.RESULTS.glob("chat-*.json")) if chat_load.RESULTS.exists() else set()
    chat_load.main(["--clients", "12", "--rooms", "3", "--rate", "10", "--duration", "2"])
    written = set(chat_load.RESULTS.glob("chat-*.json")) - before
    assert len(written) == 1
    (path,) = written
    report = json.loads(path.read_text())
    assert path.with_suffix(".md").exists()
    assert report["params"]["clients"] == 12
    sent = report["throughput"]["sent"]
    assert sent >= 10
    assert report["throughput"]["acked"] == sent
    # 12 clients in 3 rooms: each message has 3 other subscribers to reach.
    assert report["throughput"]["expected"] == 3 * sent
    assert report["delivery_rate"] == 1.0
    assert report["metrics"]["send_ack"]["count"] == sent
    assert report["metrics"]["delivery"]["count"] == 3 * sent
    assert report["metrics"]["delivery"]["p50"] > 0
    assert {"api", "flink-taskmanager", "load-generator"} <= set(report["processes"])
    assert report["errors"] == {}
