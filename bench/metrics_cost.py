"""What the metrics job costs the chat: the sustained rate with it running beside the rate
without it, and the job's CPU.

    .venv/bin/python -m bench.metrics_cost [--rounds 2] [--clients 1000] [--room-size 20]
        [--rate 200] [--duration 20] [--sweep 400,600,...,1600] [--step 10]

Each round runs bench.chat_load twice on the running stack, once with the metrics job and
once without it (``studyhub stack down metrics``, then ``up metrics`` again), swapping which
goes first each round so that a stack warming up favours neither. A submitted job reads the
day from midnight first; a run with it starts once that backlog is read (its sources'
``pendingRecords``), and the report gives how long that took. Each run is a fixed phase
at ``--rate`` (where the TaskManager's CPU is compared: with the job it runs the job's JVM
side and its Python writer) and a sweep that stops at the first rate not sustained (the
chat_load's rule: delivery p95 under its bound, every message delivered, the rate offered).

``--produce RATE`` leaves the chat out: it produces chat messages straight to Kafka at RATE
for ``--duration`` seconds, with the job and without it, and reports the TaskManager's CPU:
the job's own cost, without the noise of a 2-core box running the whole chat path.

Two ratios are reported: the median sustained rate with the job over the median without
(issue 12 asks for at least 0.9), and the best over the best. Single sweeps on a 2-core box
vary by a step or more, so the median of several rounds is the figure to quote. The job's
CPU is the TaskManager's CPU share with the job minus without it, at the fixed rate, the
mean over the rounds. The report goes to
bench/results/metrics-cost-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console

from bench import chat_load
from bench.bulk import delete_chat_messages
from bench.job_load import produce_paced
from bench.stats import stack_process, tree_usage
from core.db.sharding import ShardRouter
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings
from ingest.kafka import make_producer
from stack.services.flink import flink_rest

RESULTS = REPO_ROOT / "bench" / "results"
STUDYHUB = REPO_ROOT / ".venv" / "bin" / "studyhub"
TASKMANAGER = "flink-taskmanager"
console = Console()


def _stack(action: str) -> None:
    result = subprocess.run(
        [str(STUDYHUB), "stack", action, "metrics"],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise SystemExit(f"studyhub stack {action} metrics failed:\n{result.stdout}{result.stderr}")


def pending_records(settings: Settings, job_name: str = "metrics") -> int | None:
    """Records the running job's Kafka sources have yet to read (their ``pendingRecords``),
    summed; None while the job or its sources' metrics are not there yet."""
    jobs = flink_rest(settings, "/jobs/overview")["jobs"]
    running = [j["jid"] for j in jobs if j["name"] == job_name and j["state"] == "RUNNING"]
    if not running:
        return None
    total, seen = 0, False
    for vertex in flink_rest(settings, f"/jobs/{running[0]}")["vertices"]:
        if not vertex["name"].startswith("Source: "):
            continue
        base = f"/jobs/{running[0]}/vertices/{vertex['id']}/metrics"
        names = [m["id"] for m in flink_rest(settings, base) if m["id"].endswith(".pendingRecords")]
        if names:
            for metric in flink_rest(settings, f"{base}?get={','.join(names)}"):
                total += int(float(metric["value"]))
                seen = True
    return total if seen else None


def wait_caught_up(settings: Settings, timeout_s: float, *, below: int = 1000) -> float:
    """Seconds until the metrics job, just submitted, has read today's backlog (it starts
    at midnight): its sources' pending records under ``below`` three times in a row, 2 s
    apart. A run with the job measures its steady state, not its catch-up."""
    started = time.monotonic()
    quiet = 0
    while time.monotonic() - started < timeout_s:
        pending = pending_records(settings)
        quiet = quiet + 1 if pending is not None and pending < below else 0
        if quiet >= 3:
            return round(time.monotonic() - started, 1)
        time.sleep(2)
    raise SystemExit(f"the metrics job had not caught up after {timeout_s:g} s")


def chat_run(
    args: argparse.Namespace, with_job: bool, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    load_args = [*extra,
        "--clients", str(args.clients), "--room-size", str(args.room_size),
        "--rate", str(args.rate), "--duration", str(args.duration),
        "--sweep", ",".join(f"{r:g}" for r in args.sweep), "--step", str(args.step),
    ]  # fmt: skip
    parsed = chat_load.parse_args(load_args)
    report = uvloop.run(chat_load.run(parsed, get_settings()))
    fixed = report["processes"].get(TASKMANAGER, {})
    return {
        "metrics_job": with_job,
        "max_sustained_rate": report.get("max_sustained_rate"),
        "fixed_rate": args.rate,
        "fixed_delivery_p95_ms": report["metrics"]["delivery"]["p95"],
        "taskmanager_cpu_share": fixed.get("cpu_share"),
        "steps": [
            {
                "rate": phase["rate"],
                "delivery_p95_ms": phase["metrics"]["delivery"]["p95"],
                "delivery_rate": phase["delivery_rate"],
                "sustained": phase["sustained"],
            }
            for phase in report["phases"][1:]
        ],
    }


WORDS = [
    "integral", "derivative", "matrix", "vector", "chemistry", "physics", "essay", "history",
    "exam", "revision", "notes", "question", "answer", "homework", "biology",
]  # fmt: skip


def produced_cost(settings: Settings, rate: float, seconds: float) -> float:
    """The TaskManager's CPU share while chat messages are produced straight to Kafka at
    ``rate`` for ``seconds`` (and 10 s after, for the last windows): no gateway and no
    WebSocket clients, so the jobs' own cost shows without the chat's noise. The messages go
    to synthetic rooms (chat-persist stores them; they are deleted after) from real-looking
    senders, with six study words each and a topic, as the metrics job counts them."""
    taskmanager = stack_process(settings, TASKMANAGER)
    if taskmanager is None:
        raise SystemExit("error: the Flink TaskManager is not running; start it with `make up`")
    ids = IdGenerator(992)
    rooms = [ids.next_id() for _ in range(50)]
    senders = [ids.next_id() for _ in range(1000)]
    rng = random.Random(1)
    producer = make_producer(settings)
    cpu_before, _ = tree_usage(taskmanager)
    started = time.monotonic()
    produce_paced(
        producer,
        rate,
        seconds,
        lambda n: ChatMessageSent(
            room_id=rooms[n % len(rooms)],
            message_id=ids.next_id(),
            sender_id=senders[n % len(senders)],
            client_msg_id=str(uuid.uuid4()),
            body=" ".join(rng.choices(WORDS, k=6)),
            topic="Maths 101",
        ),
    )
    time.sleep(10)
    cpu_after, _ = tree_usage(taskmanager)
    share = (cpu_after - cpu_before) / (time.monotonic() - started)
    delete_chat_messages(ShardRouter(settings), rooms)
    return round(share, 3)


def run_produced(args: argparse.Namespace) -> dict[str, Any]:
    """The job's CPU at ``--produce`` messages/s straight to Kafka, with it and without it,
    alternating, ``--rounds`` pairs."""
    settings = get_settings()
    shares: dict[bool, list[float]] = {True: [], False: []}
    try:
        for round_no in range(args.rounds):
            for with_job in [True, False] if round_no % 2 == 0 else [False, True]:
                _stack("up" if with_job else "down")
                if with_job:
                    wait_caught_up(settings, args.catch_up_timeout)
                    time.sleep(args.settle)
                share = produced_cost(settings, args.produce, args.duration)
                shares[with_job].append(share)
                state = "running" if with_job else "stopped"
                console.print(f"round {round_no + 1}, job {state}: TaskManager {share}")
    finally:
        _stack("up")
    on, off = statistics.mean(shares[True]), statistics.mean(shares[False])
    return {
        "kind": "metrics_cost_produced",
        "rate": args.produce,
        "seconds": args.duration,
        "with_job": shares[True],
        "without_job": shares[False],
        "job_cpu_share": round(on - off, 3),
        "job_cpu_per_1k_per_s": round((on - off) / args.produce * 1000, 3),
    }


def _report_files(report: dict[str, Any], command: str, title: str) -> tuple[Path, list[str]]:
    """Write the report's JSON; returns the path its Markdown goes to and the Markdown's head."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    report["command"] = command
    (RESULTS / f"metrics-cost-{stamp}.json").write_text(json.dumps(report, indent=2))
    return RESULTS / f"metrics-cost-{stamp}.md", [f"# {title}", "", f"`{command}`", ""]


def write_produced_report(report: dict[str, Any], command: str) -> Path:
    title = "What the metrics job costs, messages produced straight to Kafka"
    path, lines = _report_files(report, command, title)
    lines += [
        f"{report['rate']:g} chat messages/s for {report['seconds']:g} s (and 10 s after).",
        "",
        "| metrics job | TaskManager CPU share, each round |",
        "|---|---|",
        f"| running | {', '.join(str(v) for v in report['with_job'])} |",
        f"| stopped | {', '.join(str(v) for v in report['without_job'])} |",
        "",
        f"The job's CPU: {report['job_cpu_share']} of a core "
        f"({report['job_cpu_per_1k_per_s']} per 1,000 messages/s).",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run(args: argparse.Namespace) -> dict[str, Any]:
    runs: list[dict[str, Any]] = []
    try:
        for round_no in range(args.rounds):
            order = [True, False] if round_no % 2 == 0 else [False, True]
            for with_job in order:
                _stack("up" if with_job else "down")
                catch_up_s = None
                if with_job:
                    catch_up_s = wait_caught_up(get_settings(), args.catch_up_timeout)
                    console.print(f"  the job read the day's backlog in {catch_up_s} s")
                    time.sleep(args.settle)
                console.print(
                    f"round {round_no + 1}: chat with the metrics job "
                    f"{'running' if with_job else 'stopped'}"
                )
                result = chat_run(args, with_job)
                result["round"] = round_no + 1
                result["catch_up_s"] = catch_up_s
                runs.append(result)
                console.print(
                    f"  sustained {result['max_sustained_rate']}/s, TaskManager CPU "
                    f"{result['taskmanager_cpu_share']} at {args.rate:g}/s"
                )
    finally:
        _stack("up")  # leave the stack as it was found
    return {"kind": "metrics_cost", "runs": runs, **summarize(runs)}


def rate_summary(on: list[float], off: list[float]) -> dict[str, Any]:
    """Best and median of each arm's highest sustained rates (a run that sustained nothing
    counts 0), and both ratios, on over off."""

    def ratio(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    best_on, best_off = (max(v) if v else None for v in (on, off))
    median_on, median_off = (statistics.median(v) if v else None for v in (on, off))
    return {
        "best_on": best_on,
        "best_off": best_off,
        "best_ratio": ratio(best_on, best_off),
        "median_on": median_on,
        "median_off": median_off,
        "median_ratio": ratio(median_on, median_off),
    }


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def rates(with_job: bool) -> list[float]:
        return [r["max_sustained_rate"] or 0 for r in runs if r["metrics_job"] is with_job]

    def cpu(with_job: bool) -> float | None:
        shares = [
            r["taskmanager_cpu_share"]
            for r in runs
            if r["metrics_job"] is with_job and r["taskmanager_cpu_share"] is not None
        ]
        return round(statistics.mean(shares), 3) if shares else None

    summary = rate_summary(rates(True), rates(False))
    cpu_on, cpu_off = cpu(True), cpu(False)
    return {
        "best_with_job": summary["best_on"],
        "best_without_job": summary["best_off"],
        "ratio": summary["best_ratio"],
        "median_with_job": summary["median_on"],
        "median_without_job": summary["median_off"],
        "median_ratio": summary["median_ratio"],
        "taskmanager_cpu_with_job": cpu_on,
        "taskmanager_cpu_without_job": cpu_off,
        "job_cpu_share": (
            round(cpu_on - cpu_off, 3) if cpu_on is not None and cpu_off is not None else None
        ),
    }


def first_failure(steps: list[dict[str, Any]]) -> str:
    """A run's first sweep step not sustained, and why, for a report's table."""
    failed = next((s for s in steps if not s["sustained"]), None)
    if failed is None:
        return "none"
    return (
        f"{failed['rate']:g}/s: delivery p95 {failed['delivery_p95_ms']} ms, "
        f"delivered {failed['delivery_rate']}"
    )


def write_report(report: dict[str, Any], command: str) -> Path:
    path, lines = _report_files(report, command, "What the metrics job costs the chat")
    lines += [
        "| round | metrics job | its catch-up s | highest sustained rate "
        "| first step not sustained | TaskManager CPU share at the fixed rate |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["runs"]:
        stopped = first_failure(r["steps"])
        lines.append(
            f"| {r['round']} | {'running' if r['metrics_job'] else 'stopped'} "
            f"| {'-' if r.get('catch_up_s') is None else r['catch_up_s']} "
            f"| {r['max_sustained_rate']} | {stopped} | {r['taskmanager_cpu_share']} |"
        )
    lines += [
        "",
        f"Median with the job: {report['median_with_job']}/s; without: "
        f"{report['median_without_job']}/s; ratio {report['median_ratio']} (the bar: 0.9).",
        f"Best with the job: {report['best_with_job']}/s; without: "
        f"{report['best_without_job']}/s; ratio {report['ratio']}.",
        f"The job's CPU at the fixed rate: {report['job_cpu_share']} of a core "
        f"(TaskManager {report['taskmanager_cpu_with_job']} with it, "
        f"{report['taskmanager_cpu_without_job']} without).",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="with/without pairs (2)")
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (1000)")
    parser.add_argument("--room-size", type=int, default=20, help="clients per room (20)")
    parser.add_argument("--rate", type=float, default=200, help="fixed phase's rate, msg/s (200)")
    parser.add_argument("--duration", type=float, default=20, help="fixed phase seconds (20)")
    parser.add_argument(
        "--sweep",
        type=chat_load.rates,
        default=[400.0, 600.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0, 1400.0, 1600.0],
        help="sweep rates (400,600,800,900,1000,1100,1200,1400,1600)",
    )
    parser.add_argument("--step", type=float, default=10, help="seconds per sweep step (10)")
    parser.add_argument(
        "--settle",
        type=float,
        default=10,
        help="seconds to wait after the job has caught up, before a run (10)",
    )
    parser.add_argument(
        "--catch-up-timeout",
        type=float,
        default=600,
        help="seconds the job may take to read the day's backlog (600)",
    )
    parser.add_argument(
        "--produce",
        type=float,
        default=None,
        metavar="RATE",
        help="instead of the chat: produce RATE messages/s straight to Kafka for --duration "
        "seconds and compare the TaskManager's CPU with the job and without it",
    )
    args = parser.parse_args(argv)
    if args.produce is not None and args.produce <= 0:
        parser.error("--produce must be a positive rate")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    argv_used = sys.argv[1:] if argv is None else argv
    command = "python -m bench.metrics_cost " + " ".join(argv_used)
    if args.produce is not None:
        path = write_produced_report(run_produced(args), command)
        console.print(path.read_text())
        return path
    report = run(args)
    path = write_report(report, command)
    console.print(path.read_text())
    return path


if __name__ == "__main__":
    main()
