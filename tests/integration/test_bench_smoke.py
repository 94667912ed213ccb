"""A tiny run of the benchmark harness: it works end to end and its report holds real numbers.

Not a benchmark, and nothing here asserts on a timing: only that every number the issue asks
for is there, was measured (counts match what was sent), and that the peers really ran.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from bench import chat_load, run
from bench.bulk import population_counts, truncate_population
from core.db.sharding import ShardRouter
from core.settings import Settings
from tests.conftest import require

pytestmark = [pytest.mark.integration, pytest.mark.flink]

BENCH_POPULATION = 1000  # bench.populate's default generator id
LATENCY_METRICS = ("room_join", "send_ack", "delivery", "friend_list", "mutual_friends")


def _measured(summary: dict[str, float]) -> bool:
    return summary["count"] > 0 and all(
        not math.isnan(summary[k]) and summary[k] > 0 for k in ("p50", "p95", "p99", "max")
    )


def test_chat_load_counts_every_ack_and_delivery(settings: Settings) -> None:
    require(settings, "api", "chat-persist")
    path = chat_load.main(
        ["--clients", "12", "--room-size", "4", "--rate", "10", "--duration", "2"]
    )
    report = json.loads(path.with_suffix(".json").read_text())
    sent = report["throughput"]["sent"]
    assert sent >= 10
    assert report["throughput"]["acked"] == sent
    # Rooms of 4: each message has 3 other subscribers to reach.
    assert report["throughput"]["expected"] == 3 * sent
    assert report["delivery_rate"] == 1.0
    assert report["metrics"]["send_ack"]["count"] == sent
    assert report["metrics"]["delivery"]["count"] == 3 * sent
    assert _measured(report["metrics"]["delivery"])
    assert {"api", "flink-taskmanager", "kafka", "redis", "load-generator"} <= set(
        report["processes"]
    )
    assert report["processes"]["api"]["peak_rss_mib"] > 0
    assert report["errors"] == {}


def test_chat_load_with_moderation_on_delivers_the_masked_share(settings: Settings) -> None:
    require(settings, "api", "chat-persist")
    path = chat_load.main(
        [
            *("--clients", "8", "--room-size", "4", "--rate", "10", "--duration", "2"),
            *("--moderation", "mask", "--abusive-share", "0.25"),
        ]
    )
    report = json.loads(path.with_suffix(".json").read_text())
    assert report["params"]["moderation"] == "mask"
    assert report["throughput"]["sent"] >= 10
    assert report["delivery_rate"] == 1.0  # a masked message is delivered, masked
    assert report["errors"] == {}
    blocked = chat_load.main(
        [
            *("--clients", "4", "--room-size", "4", "--rate", "4", "--duration", "1"),
            *("--moderation", "block", "--abusive-share", "0.5"),
        ]
    )
    errors = json.loads(blocked.with_suffix(".json").read_text())["errors"]
    assert set(errors) == {"message_blocked"}  # the insults were refused, by name


@pytest.fixture
def small_population(mysql: ShardRouter) -> Iterator[None]:
    """bench.run loads a population when there is none; remove it again if it did."""
    had = any(population_counts(mysql, BENCH_POPULATION).values())
    yield
    if not had:
        truncate_population(mysql, BENCH_POPULATION)


@pytest.mark.usefixtures("small_population")
def test_make_bench_writes_the_whole_report_with_peers(settings: Settings) -> None:
    require(settings, "api", "chat-persist", "redis")
    before = set(run.RESULTS.glob("*.json")) if run.RESULTS.exists() else set()
    run.main(
        [
            "--users",
            "2000",
            "--avg-degree",
            "10",
            "--api-requests",
            "80",
            "--api-concurrency",
            "4",
            "--clients",
            "12",
            "--room-size",
            "4",
            "--rate",
            "10",
            "--duration",
            "2",
            "--step",
            "2",
            "--sweep",
            "20",
            "--job-rates",
            "100",
        ]
    )
    combined = [p for p in set(run.RESULTS.glob("*.json")) - before if p.name[0].isdigit()]
    assert len(combined) == 1
    path = combined[0]
    report = json.loads(path.read_text())
    assert report["profile"] == "quick"
    assert report["params"]["clients"] == 12
    for name in LATENCY_METRICS:
        assert _measured(report["metrics"][name]), name
    assert report["metrics"]["history_page"]["count"] > 0
    assert report["delivery_rate"] == 1.0
    assert report["throughput"]["chat"]["sent"] >= 10
    assert report["processes"]["load-generator"]["cpu_s"] > 0
    for peer in ("bare", "centrifugo"):
        summary = report["peers"][peer]
        assert summary["delivery_rate"] == 1.0, peer
        assert _measured(summary["metrics"]["delivery"]), peer
        assert [step["rate"] for step in summary["sweep"]] == [10, 20]
        ratio = report["peers"]["ratios"][f"studyhub/{peer}"]
        assert ratio["delivery_p95_at_common_rate"] is not None
        assert ratio["delivery_p95_at_common_rate"] > 0
    assert report["peers"]["centrifugo"]["processes"]["centrifugo"]["peak_rss_mib"] > 0
    stamp = path.stem
    for plot in ("latency-cdf", "peers-delivery-cdf", "sweep", "throughput", "cpu"):
        assert (run.RESULTS / f"{stamp}-{plot}.png").stat().st_size > 1000, plot
    markdown = path.with_suffix(".md").read_text()
    assert "| room_join |" in markdown
    assert "studyhub/centrifugo" in markdown
    job = report["job"]["steps"]
    assert [step["rate"] for step in job] == [100]
    assert job[0]["all_stored"] is True
    assert job[0]["taskmanager_cpu_per_1k_per_s"] > 0
    assert "## The persistence job alone" in markdown
    moderation = report["moderation"]
    assert moderation["abusive_share"] == 0.05
    assert moderation["on"]["command"].endswith("--moderation mask --abusive-share 0.05")
    assert moderation["off"]["command"].endswith("--moderation off")
    assert moderation["filter_cost"]["mean_us"] > 0
    assert "## Moderation on and off (studyhub)" in markdown
