"""The chat persistence job alone: Kafka -> chat-persist -> MySQL -> Redis, at fixed rates.

The chat load measures the whole path, where the gateway sets the pace; this feeds the
running chat-persist job straight from Kafka, so its own cost shows: the TaskManager's CPU
(JVM and Python workers) per 1,000 messages/s, and whether every message was stored.

    .venv/bin/python -m bench.job_load --rates 200,1000,2000 --seconds 10

Messages go to ``--rooms`` synthetic rooms (ids no real room has); their rows are deleted
afterwards. The report goes to bench/results/job-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Producer
from rich.console import Console
from sqlalchemy import bindparam, text

from bench.bulk import delete_chat_messages
from bench.stats import stack_process, tree_usage
from core.db.sharding import ShardRouter, shard_for_room
from core.events import CHAT_MESSAGES, ChatMessageSent
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings
from ingest.kafka import make_producer

RESULTS = REPO_ROOT / "bench" / "results"
console = Console()


def stored(router: ShardRouter, rooms: list[int]) -> int:
    by_shard: dict[int, list[int]] = {}
    for room in rooms:
        by_shard.setdefault(shard_for_room(room, router.settings.mysql_shards), []).append(room)
    total = 0
    for shard, ids in by_shard.items():
        with router.engine(shard).connect() as connection:
            total += int(
                connection.execute(
                    text("SELECT COUNT(*) FROM chat_messages WHERE room_id IN :rooms").bindparams(
                        bindparam("rooms", expanding=True)
                    ),
                    {"rooms": ids},
                ).scalar_one()
            )
    return total


def produce_paced(
    producer: Producer, rate: float, seconds: float, event_for: Callable[[int], ChatMessageSent]
) -> int:
    """Produce ``event_for(n)`` to chat-messages at ``rate`` a second for ``seconds``, paced
    on the monotonic clock, then flush; returns how many were sent."""
    started, sent = time.monotonic(), 0
    while (elapsed := time.monotonic() - started) < seconds:
        while sent < int(elapsed * rate):
            event = event_for(sent)
            producer.produce(CHAT_MESSAGES, value=event.to_bytes(), key=event.key())
            sent += 1
        producer.poll(0)
        time.sleep(0.001)
    producer.flush(30)
    return sent


def run_rate(
    settings: Settings, router: ShardRouter, rate: float, seconds: float, rooms: int
) -> dict[str, Any]:
    taskmanager = stack_process(settings, "flink-taskmanager")
    if taskmanager is None:
        raise SystemExit("error: the Flink TaskManager is not running; start it with `make up`")
    ids = IdGenerator(991)
    room_ids = [ids.next_id() for _ in range(rooms)]
    producer = make_producer(settings)
    cpu_before, _ = tree_usage(taskmanager)
    started = time.monotonic()
    with console.status(f"job at {rate:g} messages/s"):
        sent = produce_paced(
            producer,
            rate,
            seconds,
            lambda n: ChatMessageSent(
                room_id=room_ids[n % rooms],
                message_id=ids.next_id(),
                sender_id=1,
                client_msg_id=str(uuid.uuid4()),
                body="a study question, about forty characters",
            ),
        )
        sending_s = time.monotonic() - started
        deadline = time.monotonic() + 60
        while (count := stored(router, room_ids)) < sent and time.monotonic() < deadline:
            time.sleep(0.05)
        drain_s = time.monotonic() - started - sending_s
    cpu_after, rss = tree_usage(taskmanager)
    wall = time.monotonic() - started
    cpu_share = (cpu_after - cpu_before) / wall
    delete_chat_messages(router, room_ids)
    return {
        "rate": rate,
        "sent": sent,
        "sent_per_s": round(sent / sending_s, 1),
        "stored": count,
        "all_stored": count == sent,
        "drain_s": round(drain_s, 2),
        "taskmanager_cpu_share": round(cpu_share, 3),
        "taskmanager_cpu_per_1k_per_s": round(cpu_share / (sent / wall) * 1000, 3),
        "taskmanager_rss_mib": round(rss / 2**20, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--rates", default="200,1000,2000", help="messages/s to offer, comma-separated"
    )
    parser.add_argument("--seconds", type=float, default=10, help="seconds per rate (10)")
    parser.add_argument("--rooms", type=int, default=100, help="synthetic rooms (100)")
    args = parser.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",") if r]
    except ValueError:
        parser.error(f"--rates: {args.rates!r} is not a comma-separated list of numbers")
    if not rates or min(rates) <= 0:
        parser.error("--rates: give at least one positive rate")
    settings = get_settings()
    router = ShardRouter(settings)
    steps = [run_rate(settings, router, rate, args.seconds, args.rooms) for rate in rates]
    router.dispose()
    command = (
        f"python -m bench.job_load --rates {args.rates} --seconds {args.seconds:g} "
        f"--rooms {args.rooms}"
    )
    report = {
        "command": command,
        "bundle_time_ms": settings.flink_bundle_time_ms,
        "steps": steps,
    }
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"job-{stamp}.json").write_text(json.dumps(report, indent=2))
    lines = [
        "# The chat persistence job alone (Kafka -> chat-persist -> MySQL -> Redis)",
        "",
        f"`{command}`, Python bundles of {settings.flink_bundle_time_ms} ms.",
        "",
        *job_table(steps),
    ]
    (RESULTS / f"job-{stamp}.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))


def job_table(steps: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| offered/s | sent/s | all stored | drained after s | TaskManager CPU share "
        "| CPU per 1,000 msg/s | TaskManager RSS MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in steps:
        lines.append(
            f"| {s['rate']:g} | {s['sent_per_s']} | {'yes' if s['all_stored'] else 'NO'} "
            f"| {s['drain_s']} | {s['taskmanager_cpu_share']} "
            f"| {s['taskmanager_cpu_per_1k_per_s']} | {s['taskmanager_rss_mib']} |"
        )
    return lines


if __name__ == "__main__":
    main()
