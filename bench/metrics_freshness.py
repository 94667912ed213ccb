"""The metrics job's freshness: from a chat message produced to its count in a Flux query.

    .venv/bin/python -m bench.metrics_freshness [--probes 5] [--timeout 120]

Each probe puts one message on chat-messages, in a synthetic room (an id no real room has)
and from a snowflake sender (the job leaves ids below 2^22 out). It then reads the room's
1-minute point through core.metrics, the code the API and the dashboards use, every 0.25 s.
Two times are taken: when the count first shows (a provisional point) and when its minute
is complete. Issue 12 asks for at most 70 s. The probes' rows in MySQL (the chat job stores
them too) are deleted afterwards. The report goes to
bench/results/metrics-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from bench.bulk import delete_chat_messages
from core import metrics
from core.clients import influx_client
from core.db.sharding import ShardRouter
from core.events import CHAT_MESSAGES, ChatMessageSent
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings
from ingest.kafka import make_producer, produce_sync

RESULTS = REPO_ROOT / "bench" / "results"
console = Console()


def probe(settings: Settings, ids: IdGenerator, timeout: float) -> dict[str, Any]:
    room_id = ids.next_id()
    event = ChatMessageSent(
        room_id=room_id,
        message_id=ids.next_id(),
        sender_id=ids.next_id(),
        client_msg_id=str(uuid.uuid4()),
        body="how fresh are the metrics?",
    )
    producer = make_producer(settings)
    started = time.monotonic()
    produce_sync(producer, event, topic=CHAT_MESSAGES)
    seen_s: float | None = None
    complete_s: float | None = None
    with influx_client(settings) as client:
        while time.monotonic() - started < timeout and complete_s is None:
            points = metrics.query(
                client,
                settings.influx_bucket,
                metrics.ROOM_ACTIVITY,
                "1m",
                start="-5m",
                tags={"room_id": str(room_id)},
            )
            counted = sum(int(p.fields.get("messages", 0)) for p in points)
            if counted >= 1 and seen_s is None:
                seen_s = time.monotonic() - started
            if counted >= 1 and all(p.complete for p in points):
                complete_s = time.monotonic() - started
            time.sleep(0.25)
    return {
        "room_id": room_id,
        "sent_at": event.occurred_at.isoformat(),
        "second_of_minute": event.occurred_at.second,
        "visible_s": None if seen_s is None else round(seen_s, 2),
        "complete_s": None if complete_s is None else round(complete_s, 2),
    }


def summarize(probes: list[dict[str, Any]]) -> dict[str, Any]:
    def stats(key: str) -> dict[str, float | None]:
        values = [p[key] for p in probes if p[key] is not None]
        if not values:
            return {"p50": None, "max": None, "missing": len(probes)}
        return {
            "p50": round(statistics.median(values), 2),
            "max": round(max(values), 2),
            "missing": len(probes) - len(values),
        }

    return {"visible_s": stats("visible_s"), "complete_s": stats("complete_s")}


def render(report: dict[str, Any]) -> str:
    s = report["summary"]
    lines = [
        f"# The metrics job's freshness, {report['stamp']}",
        "",
        f"`{report['command']}`",
        "",
        "From a message produced to chat-messages to its count in a Flux query "
        "(`core.metrics.query`, the room's 1-minute point), polled every 0.25 s.",
        "",
        "| | p50 s | max s | never seen |",
        "|---|---|---|---|",
        f"| counted (provisional point) | {s['visible_s']['p50']} | {s['visible_s']['max']} | "
        f"{s['visible_s']['missing']} |",
        f"| its minute complete | {s['complete_s']['p50']} | {s['complete_s']['max']} | "
        f"{s['complete_s']['missing']} |",
        "",
        "| probe | sent at second | counted after s | complete after s |",
        "|---|---|---|---|",
    ]
    for n, p in enumerate(report["probes"], 1):
        lines.append(f"| {n} | {p['second_of_minute']} | {p['visible_s']} | {p['complete_s']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--probes", type=int, default=5, help="messages, one after another (5)")
    parser.add_argument("--timeout", type=float, default=120, help="seconds per probe (120)")
    args = parser.parse_args(argv)
    if args.probes < 1:
        parser.error("--probes must be at least 1")
    settings = get_settings()
    ids = IdGenerator(992)
    probes: list[dict[str, Any]] = []
    for n in range(args.probes):
        with console.status(f"probe {n + 1} of {args.probes}"):
            found = probe(settings, ids, args.timeout)
        probes.append(found)
        console.print(
            f"probe {n + 1}: counted after {found['visible_s']} s, "
            f"complete after {found['complete_s']} s"
        )
    router = ShardRouter(settings)
    delete_chat_messages(router, [p["room_id"] for p in probes])
    router.dispose()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report = {
        "stamp": stamp,
        "command": "python -m bench.metrics_freshness "
        + " ".join(argv if argv is not None else [f"--probes {args.probes}"]),
        "probes": probes,
        "summary": summarize(probes),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"metrics-{stamp}.json").write_text(json.dumps(report, indent=2))
    (RESULTS / f"metrics-{stamp}.md").write_text(render(report))
    console.print(render(report))
    console.print(f"written: {RESULTS / f'metrics-{stamp}.md'}")


if __name__ == "__main__":
    main()
