"""`make bench`: the population, the API latency run and the chat load, in one report.

    make bench                    # quick profile, about 3 minutes after the population exists
    make bench PROFILE=full       # larger population and load, up to about 30 minutes
    .venv/bin/python -m bench.run --profile quick --clients 500   # any parameter overridden

Each step runs in its own process (the load generators never share a core's event loop with
each other) and writes its own report; this collects them into bench/results/<timestamp>.json
and .md, with the seed's targets and latency CDF plots (PNG).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
from rich.console import Console
from sqlalchemy import create_engine, text

from core.settings import REPO_ROOT, get_settings

log = logging.getLogger(__name__)
console = Console()
RESULTS = REPO_ROOT / "bench" / "results"

PROFILES: dict[str, dict[str, float]] = {
    "quick": {
        "users": 100_000,
        "avg_degree": 50,
        "api_requests": 3000,
        "api_concurrency": 16,
        "clients": 1000,
        "rooms": 50,
        "rate": 100,
        "duration": 20,
    },
    "full": {
        "users": 1_000_000,
        "avg_degree": 50,
        "api_requests": 20_000,
        "api_concurrency": 32,
        "clients": 2000,
        "rooms": 100,
        "rate": 200,
        "duration": 120,
    },
}

# (metric, target p95 ms, where the target comes from)
TARGETS = [
    ("room_join", 200.0, "seed"),
    ("friend_list", 150.0, "seed"),
    ("friends_of_friends", 150.0, "seed (friend query)"),
    ("send_ack", 100.0, "seed"),
    ("send_ack", 25.0, "issue 4 aim"),
    ("delivery", 200.0, "seed"),
    ("delivery", 50.0, "issue 4 aim"),
]


def _python() -> str:
    return sys.executable


def _step(title: str, argv: list[str]) -> None:
    console.rule(title)
    started = time.monotonic()
    result = subprocess.run([_python(), *argv], cwd=REPO_ROOT, check=False)
    if result.returncode != 0:
        raise SystemExit(f"error: {title} failed (exit {result.returncode}); see its output above")
    console.print(f"[dim]{title}: {time.monotonic() - started:.0f} s[/]")


def _newest(prefix: str, after: float) -> dict[str, Any]:
    files = [p for p in RESULTS.glob(f"{prefix}-*.json") if p.stat().st_mtime >= after]
    if not files:
        raise SystemExit(f"error: no {prefix} report was written")
    report: dict[str, Any] = json.loads(max(files, key=lambda p: p.stat().st_mtime).read_text())
    return report


def population_rows() -> int:
    engine = create_engine(get_settings().mysql_url(0))
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT COUNT(*) FROM friendships")).scalar_one())
    finally:
        engine.dispose()


def plot_cdfs(quantiles: dict[str, list[float]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, values in sorted(quantiles.items()):
        if values:
            axis.plot(values, [i / (len(values) - 1) for i in range(len(values))], label=name)
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms, log scale)")
    axis.set_ylabel("fraction of requests")
    axis.axhline(0.95, color="grey", linewidth=0.6, linestyle="--")
    axis.grid(visible=True, which="both", linewidth=0.3)
    axis.legend()
    axis.set_title("Latency CDFs")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_throughput(per_second: list[list[int]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 3.5))
    seconds = [row[0] for row in per_second]
    axis.plot(seconds, [row[1] for row in per_second], label="sent/s")
    axis.plot(seconds, [row[2] for row in per_second], label="delivered/s")
    axis.set_xlabel("second of the run")
    axis.legend()
    axis.grid(visible=True, linewidth=0.3)
    axis.set_title("Chat throughput over time")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_cpu(processes: dict[str, dict[str, float]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 3.5))
    names = list(processes)
    axis.barh(names, [processes[n]["cpu_share"] for n in names])
    axis.set_xlabel("CPU share during the chat load (1.0 = one core)")
    axis.set_title("CPU per process")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    for name in PROFILES["quick"]:
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=float,
            default=None,
            help=f"override the profile's {name}",
        )
    args = parser.parse_args(argv)
    params = dict(PROFILES[args.profile])
    for name in params:
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    logging.basicConfig(level=logging.WARNING)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()

    wanted_rows = int(params["users"] * params["avg_degree"])
    if population_rows() < 0.9 * wanted_rows:
        _step(
            "population",
            [
                "-m",
                "bench.populate",
                "--users",
                str(int(params["users"])),
                "--avg-degree",
                str(params["avg_degree"]),
                "--replace",
            ],
        )
    _step(
        "API latency",
        [
            "-m",
            "bench.api_latency",
            "--requests",
            str(int(params["api_requests"])),
            "--concurrency",
            str(int(params["api_concurrency"])),
        ],
    )
    api = _newest("api", started)
    _step(
        "chat load",
        [
            "-m",
            "bench.chat_load",
            "--clients",
            str(int(params["clients"])),
            "--rooms",
            str(int(params["rooms"])),
            "--rate",
            str(params["rate"]),
            "--duration",
            str(params["duration"]),
        ],
    )
    chat = _newest("chat", started)

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    metrics = {**api["metrics"], **chat["metrics"]}
    quantiles = {**api.get("quantiles", {}), **chat.get("quantiles", {})}
    report = {
        "profile": args.profile,
        "params": params,
        "command": "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "metrics": metrics,
        "delivery_rate": chat["delivery_rate"],
        "throughput": {"api": api["throughput"], "chat": chat["throughput"]},
        "processes": chat["processes"],
        "peers": {},  # bare websockets and Centrifugo: not measured yet (issue 5)
        "parts": {"api": api["command"], "chat": chat["command"]},
    }
    json_path = RESULTS / f"{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2))
    plot_cdfs(quantiles, RESULTS / f"{stamp}-latency-cdf.png")
    plot_throughput(chat["per_second"], RESULTS / f"{stamp}-throughput.png")
    plot_cpu(chat["processes"], RESULTS / f"{stamp}-cpu.png")

    lines = [
        f"# Benchmark, {args.profile} profile, {stamp}",
        "",
        f"`{report['command']}`: {json.dumps(params)}",
        "",
        "| metric | p50 ms | p95 ms | p99 ms | target p95 | source | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, target, source in TARGETS:
        m = metrics.get(name)
        if m is None:
            continue
        verdict = "pass" if m["p95"] < target else "FAIL"
        lines.append(
            f"| {name} | {m['p50']} | {m['p95']} | {m['p99']} | < {target:g} ms | {source} "
            f"| {verdict} |"
        )
    lines += [
        "",
        f"Delivery rate {chat['delivery_rate']} (seed: 99.9%). "
        f"Chat: {chat['throughput']['sent_per_s']} sent/s, {chat['throughput']['delivered_per_s']} "
        f"delivered/s. API: {api['throughput']['requests_per_s']} operations/s.",
        "",
        f"![latency CDFs]({stamp}-latency-cdf.png)",
        f"![throughput]({stamp}-throughput.png)",
        f"![CPU per process]({stamp}-cpu.png)",
        "",
        "Peers (bare websockets, Centrifugo) are not measured yet.",
    ]
    md_path = json_path.with_suffix(".md")
    md_path.write_text("\n".join(lines) + "\n")
    console.print(md_path.read_text())
    console.print(f"written: {md_path}, {json_path} and three PNG plots beside them")


if __name__ == "__main__":
    main()
