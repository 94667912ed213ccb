"""`make bench`: population, API latency, chat load on studyhub and its peers, one report.

    make bench                    # quick profile, about 4 minutes once the population exists
    make bench PROFILE=full       # 1M users, longer phases, the scale curve: about 30 minutes
    .venv/bin/python -m bench.run --profile quick --clients 500 --sweep 100,200,400

Each step runs in its own process (the load generators never share an event loop with the
report or with each other) and writes its own report; this collects them into
bench/results/<timestamp>.json and .md, with the seed's targets (pass/fail), the peer ratios
and PNG plots (latency CDFs, delivery p95 against the offered rate, throughput over time, CPU
per process, and in the full profile the scale curve).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
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

from bench.chat_load import load_body, scale_table
from bench.job_load import job_table
from bench.stats import require_stack
from core.settings import REPO_ROOT, get_settings
from domain.moderation.rules import compiled

log = logging.getLogger(__name__)
console = Console()
RESULTS = REPO_ROOT / "bench" / "results"
PEERS = ("bare", "centrifugo")
# A generator process this busy is the bottleneck, not the server under test.
GENERATOR_SATURATED = 0.85

PROFILES: dict[str, dict[str, Any]] = {
    "quick": {
        "users": 100_000,
        "avg_degree": 50,
        "api_requests": 3000,
        "api_concurrency": 16,
        "clients": 1000,
        "room_size": 20,
        "rate": 100,
        "duration": 15,
        "step": 8,
        "sweep": "200,400,800,1600,3200",
        "scale": "",
        "job_rates": "200,1000,2000",
        "abusive_share": 0.05,
    },
    "full": {
        "users": 1_000_000,
        "avg_degree": 50,
        "api_requests": 20_000,
        "api_concurrency": 32,
        "clients": 2000,
        "room_size": 20,
        "rate": 100,
        "duration": 60,
        "step": 20,
        "sweep": "150,200,300,400,800,1600,3200",
        "scale": "1000,2000,5000,10000",
        "job_rates": "200,1000,2000,4000",
        "abusive_share": 0.05,
    },
}

# (metric, target p95 ms, where the target comes from)
TARGETS = [
    ("room_join", 200.0, "seed"),
    ("friend_list", 150.0, "seed (friend query)"),
    ("mutual_friends", 150.0, "seed (friend query)"),
    ("friends_of_friends", 150.0, "seed (friend query)"),
    ("friend_suggestions", 150.0, "seed (friend query)"),
    ("friend_suggestions", 5.0, "issue 10 (stored read)"),
    ("friend_suggestions_alone", 5.0, "issue 10 (stored read, nothing else in flight)"),
    ("send_ack", 100.0, "seed"),
    ("send_ack", 25.0, "issue 4 aim"),
    ("delivery", 200.0, "seed"),
    ("delivery", 50.0, "issue 4 aim"),
]


def _step(title: str, argv: list[str]) -> None:
    console.rule(title)
    started = time.monotonic()
    result = subprocess.run([sys.executable, *argv], cwd=REPO_ROOT, check=False)
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


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or theirs == 0 or math.isnan(ours) or math.isnan(theirs):
        return None
    return round(ours / theirs, 3)


def _best_step(chat: dict[str, Any]) -> dict[str, Any] | None:
    """The sweep step at the highest sustained rate (the fixed phase if no step passed)."""
    best = chat.get("max_sustained_rate")
    for phase in chat["phases"]:
        if phase["label"].startswith("sweep-") and phase["rate"] == best:
            return dict(phase)
    fixed = chat["phases"][0]
    return dict(fixed) if fixed["sustained"] else None


def cpu_per_1k(step: dict[str, Any] | None) -> dict[str, float]:
    """Each process's CPU (cores) per 1,000 delivered messages/s in one step; {} without one."""
    if step is None or not step["throughput"]["delivered_per_s"]:
        return {}
    thousands = step["throughput"]["delivered_per_s"] / 1000
    return {
        name: round(usage["cpu_share"] / thousands, 4)
        for name, usage in step["processes"].items()
        if usage["cpu_share"] > 0
    }


def peer_summary(chat: dict[str, Any]) -> dict[str, Any]:
    best = _best_step(chat)
    sweep = [p for p in chat["phases"] if p["label"].startswith("sweep-")]
    return {
        "description": chat["description"],
        "metrics": chat["metrics"],
        "delivery_rate": chat["delivery_rate"],
        "throughput": chat["throughput"],
        "processes": chat["processes"],
        "max_sustained_rate": chat.get("max_sustained_rate"),
        "max_sustained_delivered_per_s": best["throughput"]["delivered_per_s"] if best else None,
        # Sustained every rate offered: the true ceiling is higher than measured.
        "ceiling_not_reached": bool(sweep) and all(p["sustained"] for p in sweep),
        "connections_per_s": chat.get("connect", {}).get("per_s"),
        # At the highest sustained rate: what each process pays for the deliveries it made.
        "cpu_per_1k_delivered_per_s": cpu_per_1k(best),
        "sweep": [
            {
                "rate": p["rate"],
                "sent_per_s": p["throughput"]["sent_per_s"],
                "delivered_per_s": p["throughput"]["delivered_per_s"],
                "delivery_p95_ms": p["metrics"]["delivery"]["p95"],
                "delivery_rate": p["delivery_rate"],
                "sustained": p["sustained"],
                "generator_cpu_share": p["processes"]["load-generator"]["cpu_share"],
                "generator_processes": p["throughput"].get("generator_processes", 1),
            }
            for p in chat["phases"]
        ],
        "quantiles": chat["quantiles"],
        "command": chat["command"],
    }


def filter_cost(abusive_share: float, messages: int = 20_000) -> dict[str, float]:
    """The word filter's cost per message on the load's own mix of bodies, in this process:
    the live filter and rules (domain.moderation), each body scanned once, timed apart."""
    word_filter = compiled()
    every = round(1 / abusive_share) if abusive_share > 0 else 0
    bodies = [load_body(n, every) for n in range(messages)]
    for body in bodies[:1000]:  # warm the caches the first scans would pay for
        word_filter.scan(body)
    costs: list[float] = []
    for body in bodies:
        started = time.perf_counter_ns()
        word_filter.scan(body)
        costs.append((time.perf_counter_ns() - started) / 1000)
    costs.sort()
    return {
        "mean_us": round(sum(costs) / len(costs), 2),
        "p50_us": round(costs[len(costs) // 2], 2),
        "p99_us": round(costs[int(len(costs) * 0.99)], 2),
        "messages": messages,
    }


def moderation_summary(
    on: dict[str, Any], off: dict[str, Any], abusive_share: float
) -> dict[str, Any]:
    """studyhub's sweep with moderation on (rooms mask, a share of insults) against off."""

    def row(summary: dict[str, Any]) -> dict[str, Any]:
        return {
            "max_sustained_rate": summary["max_sustained_rate"],
            "max_sustained_delivered_per_s": summary["max_sustained_delivered_per_s"],
            "ceiling_not_reached": summary["ceiling_not_reached"],
            "delivery_p95_ms": summary["metrics"]["delivery"]["p95"],
            "send_ack_p95_ms": summary["metrics"]["send_ack"]["p95"],
            "command": summary["command"],
        }

    return {
        "abusive_share": abusive_share,
        "on": row(on),
        "off": row(off),
        "sustained_ratio": _ratio(on["max_sustained_rate"], off["max_sustained_rate"]),
        "filter_cost": filter_cost(abusive_share),
    }


def ratios(ours: dict[str, Any], peer: dict[str, Any]) -> dict[str, Any]:
    return {
        "max_sustained_delivered_per_s": _ratio(
            ours["max_sustained_delivered_per_s"], peer["max_sustained_delivered_per_s"]
        ),
        "max_sustained_rate": _ratio(ours["max_sustained_rate"], peer["max_sustained_rate"]),
        "delivery_p95_at_common_rate": _ratio(
            ours["metrics"]["delivery"]["p95"], peer["metrics"]["delivery"]["p95"]
        ),
        "peer_ceiling_not_reached": peer["ceiling_not_reached"]
        or peer["sweep"][-1]["generator_cpu_share"] >= GENERATOR_SATURATED,
    }


# -- plots ----------------------------------------------------------------------------------


def _cdf(axis: Any, values: list[float], label: str) -> None:
    if values:
        axis.plot(values, [i / (len(values) - 1) for i in range(len(values))], label=label)


def plot_cdfs(quantiles: dict[str, list[float]], path: Path, title: str) -> None:
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, values in sorted(quantiles.items()):
        _cdf(axis, values, name)
    axis.set_xscale("log")
    axis.set_xlabel("latency (ms, log scale)")
    axis.set_ylabel("fraction of samples")
    axis.axhline(0.95, color="grey", linewidth=0.6, linestyle="--")
    axis.grid(visible=True, which="both", linewidth=0.3)
    axis.legend()
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_sweep(summaries: dict[str, dict[str, Any]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4.5))
    for name, summary in summaries.items():
        steps = sorted(summary["sweep"], key=lambda s: s["rate"])
        axis.plot(
            [s["rate"] for s in steps], [s["delivery_p95_ms"] for s in steps], "o-", label=name
        )
    axis.axhline(200, color="red", linewidth=0.8, linestyle="--", label="seed target (200 ms)")
    axis.set_xscale("log")
    axis.set_yscale("log")
    axis.set_xlabel("offered messages/s (log scale)")
    axis.set_ylabel("delivery p95 (ms, log scale)")
    axis.grid(visible=True, which="both", linewidth=0.3)
    axis.legend()
    axis.set_title("Delivery p95 against the offered rate")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_throughput(per_second: list[list[int]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 3.5))
    seconds = [row[0] for row in per_second]
    axis.plot(seconds, [row[1] for row in per_second], label="sent/s")
    axis.plot(seconds, [row[2] for row in per_second], label="delivered/s")
    axis.set_xlabel("second of the fixed phase")
    axis.legend()
    axis.grid(visible=True, linewidth=0.3)
    axis.set_title("studyhub chat throughput over time")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_cpu(processes: dict[str, dict[str, float]], path: Path) -> None:
    figure, axis = plt.subplots(figsize=(8, 4))
    names = list(processes)
    axis.barh(names, [processes[n]["cpu_share"] for n in names])
    axis.set_xlabel("CPU share during the fixed phase (1.0 = one core; the box has 2)")
    axis.set_title("studyhub: CPU per process")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_scale(scale: list[dict[str, Any]], path: Path) -> None:
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    connections = [s["connections"] for s in scale]
    left.plot(connections, [s["delivery_p95_ms"] for s in scale], "o-")
    left.set_xlabel("connections")
    left.set_ylabel("delivery p95 (ms)")
    left.grid(visible=True, linewidth=0.3)
    right.plot(connections, [s["gateway_kib_per_connection"] for s in scale], "o-", label="KiB")
    right.set_xlabel("connections")
    right.set_ylabel("gateway KiB per connection added")
    right.grid(visible=True, linewidth=0.3)
    figure.suptitle("studyhub scale curve")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- the run --------------------------------------------------------------------------------


def _chat_argv(target: str, params: dict[str, Any], *, scale: bool = False) -> list[str]:
    argv = [
        "-m",
        "bench.chat_load",
        "--target",
        target,
        "--clients",
        str(int(params["clients"])),
        "--room-size",
        str(int(params["room_size"])),
        "--rate",
        str(params["rate"]),
        "--duration",
        str(params["duration"]),
        "--step",
        str(params["step"]),
    ]
    if scale:
        argv += ["--scale", str(params["scale"])]
    elif params["sweep"]:
        argv += ["--sweep", str(params["sweep"])]
    return argv


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, Any]]:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--profile", choices=sorted(PROFILES), default="quick")
    parser.add_argument(
        "--peers",
        default=",".join(PEERS),
        help="peers to measure beside studyhub (default bare,centrifugo; '' for none)",
    )
    for name, value in PROFILES["quick"].items():
        parser.add_argument(
            f"--{name.replace('_', '-')}",
            type=str if isinstance(value, str) else float,
            default=None,
            help=f"override the profile's {name} (quick: {value!r})",
        )
    args = parser.parse_args(argv)
    params = dict(PROFILES[args.profile])
    for name in params:
        value = getattr(args, name)
        if value is not None:
            params[name] = value
    peers = [p for p in args.peers.split(",") if p]
    unknown = sorted(set(peers) - set(PEERS))
    if unknown:
        parser.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(PEERS)}")
    args.peer_list = peers
    return args, params


def main(argv: list[str] | None = None) -> None:
    args, params = parse_args(argv)
    require_stack(
        get_settings(),
        ("mariadb-0", "redis", "kafka", "flink-taskmanager", "api"),
        then="make bench",
    )
    logging.basicConfig(level=logging.WARNING)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.time()

    wanted_rows = int(float(params["users"]) * float(params["avg_degree"]))
    if population_rows() < 0.9 * wanted_rows:
        _step(
            "population",
            [
                "-m",
                "bench.populate",
                "--users",
                str(int(float(params["users"]))),
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
    summaries: dict[str, dict[str, Any]] = {}
    chats: dict[str, dict[str, Any]] = {}
    # studyhub's rooms mask, and a share of the messages carry an insult: moderation on, as a
    # community would run it. The same sweep with moderation off comes after the peers.
    moderated = ["--moderation", "mask", "--abusive-share", str(params["abusive_share"])]
    for target in ["studyhub", *args.peer_list]:
        began = time.time()
        extra = moderated if target == "studyhub" else []
        _step(f"chat load: {target}", [*_chat_argv(target, params), *extra])
        chats[target] = _newest(f"chat-{target}", began)
        summaries[target] = peer_summary(chats[target])
    began = time.time()
    _step(
        "chat load: studyhub, moderation off",
        [*_chat_argv("studyhub", params), "--moderation", "off"],
    )
    unmoderated = peer_summary(_newest("chat-studyhub", began))
    began = time.time()
    _step("persistence job alone", ["-m", "bench.job_load", "--rates", str(params["job_rates"])])
    job = _newest("job", began)
    scale: list[dict[str, Any]] = []
    if params["scale"]:
        began = time.time()
        _step("scale curve: studyhub", _chat_argv("studyhub", params, scale=True))
        scale = _newest("chat-studyhub", began)["scale"]

    chat = chats["studyhub"]
    ours = summaries["studyhub"]
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    metrics = {**api["metrics"], **chat["metrics"]}
    peers = {name: summaries[name] for name in args.peer_list}
    report = {
        "profile": args.profile,
        "params": params,
        "command": "python -m bench.run " + " ".join(sys.argv[1:] if argv is None else argv),
        "metrics": metrics,
        "delivery_rate": chat["delivery_rate"],
        "throughput": {
            "api": api["throughput"],
            "chat": chat["throughput"],
            "chat_max_sustained_rate": ours["max_sustained_rate"],
            "chat_max_sustained_delivered_per_s": ours["max_sustained_delivered_per_s"],
        },
        "processes": chat["processes"],
        "studyhub": ours,
        "peers": {
            **peers,
            "ratios": {f"studyhub/{name}": ratios(ours, peer) for name, peer in peers.items()},
        },
        "scale": scale,
        "moderation": moderation_summary(ours, unmoderated, float(params["abusive_share"])),
        "job": job,
        "parts": {
            "api": api["command"],
            "job": job["command"],
            **{n: c["command"] for n, c in chats.items()},
        },
    }
    json_path = RESULTS / f"{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2))
    plot_cdfs(
        {**api.get("quantiles", {}), **chat.get("quantiles", {})},
        RESULTS / f"{stamp}-latency-cdf.png",
        "studyhub latency CDFs",
    )
    plot_cdfs(
        {name: s["quantiles"]["delivery"] for name, s in summaries.items()},
        RESULTS / f"{stamp}-peers-delivery-cdf.png",
        f"Delivery latency at {params['rate']} messages/s: studyhub and peers",
    )
    plot_sweep(summaries, RESULTS / f"{stamp}-sweep.png")
    plot_throughput(chat["per_second"], RESULTS / f"{stamp}-throughput.png")
    plot_cpu(chat["processes"], RESULTS / f"{stamp}-cpu.png")
    if scale:
        plot_scale(scale, RESULTS / f"{stamp}-scale.png")
    md_path = json_path.with_suffix(".md")
    md_path.write_text(render(report, api, stamp))
    console.print(md_path.read_text())
    console.print(f"written: {md_path}, {json_path} and the PNG plots beside them")


def _stopped_by(summary: dict[str, Any]) -> str:
    """Why the sweep ended: the server, or the load-generator processes (each one core at most)."""
    top = summary["sweep"][-1]
    if top["sustained"]:
        return "nothing: every rate offered was sustained"
    processes = int(top.get("generator_processes", 1))
    per_process = top["generator_cpu_share"] / processes
    if per_process >= GENERATOR_SATURATED:
        return (
            f"the load generator ({processes} process(es) at {per_process:.2f} of a core each "
            f"at {top['rate']:g}/s): the server's own limit is higher"
        )
    if top["sent_per_s"] < 0.9 * top["rate"]:
        return f"the rate was not reached ({top['sent_per_s']:g} of {top['rate']:g}/s)"
    return (
        f"the server at {top['rate']:g}/s: delivery p95 {top['delivery_p95_ms']} ms, "
        f"{top['delivery_rate']} delivered"
    )


def _fmt(value: float | None, suffix: str = "") -> str:
    return "-" if value is None else f"{value:g}{suffix}"


def render(report: dict[str, Any], api: dict[str, Any], stamp: str) -> str:
    metrics, params = report["metrics"], report["params"]
    ours = report["studyhub"]
    lines = [
        f"# Benchmark, {report['profile']} profile, {stamp}",
        "",
        f"`{report['command']}`",
        "",
        f"Parameters: {json.dumps(params)}. Population: "
        f"{api['params']['population_users']:,} users, {api['params']['friendship_rows']:,} "
        "friendship rows. Everything (the stack, the peers, the load generator) shares one "
        "2-core machine.",
        "",
        "## Against the seed's targets",
        "",
        "| metric | p50 ms | p95 ms | p99 ms | max ms | target p95 | source | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, target, source in TARGETS:
        m = metrics.get(name)
        if m is None:
            continue
        verdict = "pass" if m["p95"] < target else "FAIL"
        lines.append(
            f"| {name} | {m['p50']} | {m['p95']} | {m['p99']} | {m['max']} | < {target:g} ms "
            f"| {source} | {verdict} |"
        )
    h = metrics.get("history_page")
    if h:
        lines.append(
            f"| history_page | {h['p50']} | {h['p95']} | {h['p99']} | {h['max']} | - | - | - |"
        )
    rate = report["delivery_rate"]
    max_rate = ours["max_sustained_rate"]
    workers = get_settings().api_workers
    healthy_levels = [
        s["connections"]
        for s in report["scale"]
        if s["delivery_p95_ms"] < 200 and s["delivery_rate"] >= 0.999
    ]
    per_server = max([float(params["clients"]), *healthy_levels]) / workers
    lines += [
        f"| delivery rate | {rate} | | | | >= 0.999 | seed | "
        f"{'pass' if rate >= 0.999 else 'FAIL'} |",
        "",
        "| throughput target | measured | verdict |",
        "|---|---|---|",
        f"| 10,000 room operations/s | {api['throughput']['requests_per_s']} API requests/s "
        f"({api['throughput'].get('operations_per_s', '-')} mixed operations/s: a room "
        f"operation is a join, a history page and a leave) at {api['params']['concurrency']} "
        "in flight, the whole stack on this box | "
        f"{'pass' if api['throughput']['requests_per_s'] >= 10_000 else 'FAIL'} |",
        f"| 50,000 message sends/s (cluster) | {_fmt(max_rate)} sends/s sustained on this box "
        f"(delivery p95 < 200 ms) | {'pass' if (max_rate or 0) >= 50_000 else 'FAIL'} |",
        f"| 5,000 connections per WebSocket server | {per_server:g} per gateway process "
        f"({workers} processes) with delivery p95 < 200 ms | "
        f"{'pass' if per_server >= 5000 else 'not shown here (the full profile goes to 10k)'} |",
        "",
        f"Fixed phase: {params['clients']:g} clients in rooms of {params['room_size']:g}, "
        f"{params['rate']:g} messages/s; delivered {report['throughput']['chat']['delivered']} "
        f"of {report['throughput']['chat']['expected']}.",
        "",
        "## Peers side by side",
        "",
        "Same machine, same client code and load, behind `bench/targets.py`. Highest sustained "
        "rate: the highest offered rate with delivery p95 < 200 ms, >= 99.9 % delivered and the "
        "rate actually reached.",
        "",
        "| server | delivery p50 ms | delivery p95 ms | send ack p95 ms | highest sustained rate "
        "| delivered/s there | connections/s | generator CPU at the last step "
        "| what stopped the sweep |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    everyone = {"studyhub": ours, **{k: v for k, v in report["peers"].items() if k != "ratios"}}
    for s in everyone.values():
        top = s["sweep"][-1]
        capped = " (every rate offered)" if s["ceiling_not_reached"] else ""
        lines.append(
            f"| {s['description']} | {s['metrics']['delivery']['p50']} "
            f"| {s['metrics']['delivery']['p95']} | {s['metrics']['send_ack']['p95']} "
            f"| {_fmt(s['max_sustained_rate'])}{capped} "
            f"| {_fmt(s['max_sustained_delivered_per_s'])} | {_fmt(s.get('connections_per_s'))} "
            f"| {top['generator_cpu_share']} "
            f"| {_stopped_by(s)} |"
        )
    if report["peers"]["ratios"]:
        lines += [
            "",
            "| ratio | delivered/s at the highest sustained rate | delivery p95 at "
            f"{params['rate']:g} messages/s |",
            "|---|---|---|",
        ]
        for name, r in report["peers"]["ratios"].items():
            bound = (
                " (upper bound: the peer was not pushed to its limit)"
                if r["peer_ceiling_not_reached"]
                else ""
            )
            lines.append(
                f"| {name} | {_fmt(r['max_sustained_delivered_per_s'])}{bound} "
                f"| {_fmt(r['delivery_p95_at_common_rate'])} |"
            )
    lines += [
        "",
        "CPU per 1,000 delivered messages/s at each server's highest sustained rate, per "
        "process (cores; the load generator's own row shows it was not the limit):",
        "",
        "| server | process | cores per 1,000 delivered/s |",
        "|---|---|---|",
        *(
            f"| {name} | {process} | {cores} |"
            for name, s in everyone.items()
            for process, cores in sorted(
                s.get("cpu_per_1k_delivered_per_s", {}).items(), key=lambda kv: -kv[1]
            )
        ),
    ]
    lines += [
        "",
        "Each sweep step (rate offered: delivery p95, delivered fraction, sustained):",
        "",
    ]
    for name, s in everyone.items():
        steps = ", ".join(
            f"{st['rate']:g}/s: {st['delivery_p95_ms']} ms, {st['delivery_rate']}, "
            f"{'yes' if st['sustained'] else 'no'}"
            for st in s["sweep"]
        )
        lines.append(f"- {name}: {steps}")
    if report["scale"]:
        lines += [
            "",
            "## Scale curve (studyhub)",
            "",
            *scale_table(report["scale"]),
            "",
            f"![scale curve]({stamp}-scale.png)",
        ]
    moderation = report.get("moderation")
    if moderation:
        on, off, cost = moderation["on"], moderation["off"], moderation["filter_cost"]

        def rate(row: dict[str, Any]) -> str:
            best = row["max_sustained_rate"]
            shown = "none" if best is None else f"{best:g}/s"
            return f">= {shown}" if row["ceiling_not_reached"] else shown

        lines += [
            "",
            "## Moderation on and off (studyhub)",
            "",
            f"The same sweep twice: rooms that mask, with {moderation['abusive_share']:.0%} of "
            "the messages carrying an insult (delivered masked), and rooms with the word filter "
            "off.",
            "",
            "| moderation | highest sustained rate | delivered/s there | delivery p95 at the "
            "fixed rate | send-ack p95 |",
            "|---|---|---|---|---|",
            f"| on (mask) | {rate(on)} | {on['max_sustained_delivered_per_s']} | "
            f"{on['delivery_p95_ms']} ms | {on['send_ack_p95_ms']} ms |",
            f"| off | {rate(off)} | {off['max_sustained_delivered_per_s']} | "
            f"{off['delivery_p95_ms']} ms | {off['send_ack_p95_ms']} ms |",
            "",
            f"On / off, highest sustained rate: {moderation['sustained_ratio']}. The filter's "
            f"cost on this load's bodies ({cost['messages']:,} scanned in the bench process, "
            f"the live code and rules): mean {cost['mean_us']} µs, p50 {cost['p50_us']} µs, "
            f"p99 {cost['p99_us']} µs per message.",
        ]
    if report.get("job"):
        lines += [
            "",
            "## The persistence job alone",
            "",
            "Fed straight from Kafka at fixed rates (`" + report["job"]["command"] + "`): the "
            "TaskManager's CPU (JVM and Python workers) per 1,000 messages/s, and whether "
            "every message was stored. The aim is at most 0.25 of a core per 1,000/s, so that "
            "two more stream jobs fit beside it.",
            "",
            *job_table(report["job"]["steps"]),
        ]
    lines += [
        "",
        "## Processes during studyhub's fixed phase",
        "",
        "| process | CPU s | CPU share | peak RSS MiB |",
        "|---|---|---|---|",
        *(
            f"| {name} | {u['cpu_s']} | {u['cpu_share']} | {u['peak_rss_mib']} |"
            for name, u in report["processes"].items()
        ),
        "",
        f"![latency CDFs]({stamp}-latency-cdf.png)",
        f"![peers' delivery CDFs]({stamp}-peers-delivery-cdf.png)",
        f"![delivery p95 against the offered rate]({stamp}-sweep.png)",
        f"![throughput]({stamp}-throughput.png)",
        f"![CPU per process]({stamp}-cpu.png)",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
