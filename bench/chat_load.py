"""Chat under load: N WebSocket clients in rooms, steady send rates, one clock, any target.

    .venv/bin/python -m bench.chat_load --clients 1000 --rooms 50 --rate 100 --duration 20
    .venv/bin/python -m bench.chat_load --target centrifugo --sweep 200,400,800,1600
    .venv/bin/python -m bench.chat_load --scale 1000,2000,5000,10000 --rate 100

Runs against studyhub as `make up` started it, or against a peer (``--target
bare|centrifugo``, which this process starts and stops). The clients live in ``--processes``
load-generator processes (2; uvloop each, picows sockets: bench/wsclient.py), each holding
whole rooms and sending its share of the rate, so the generator is not the limit. Each client
opens one socket subscribed to its room; senders are spread over the clients (about 2/s each,
well under studyhub's per-user limit). For each message it records the send time (just before
the frame goes out), the ack time (send_ack) and every other member's receive time (delivery,
one sample per recipient), all on the sender's process's perf_counter (its rooms' recipients
are in the same process). The delivery rate is delivered /
expected, where expected is the room's other subscribers.

Phases run on the same connected clients:
- the fixed phase: ``--rate`` for ``--duration`` seconds (the common rate peers are compared at);
- the sweep (``--sweep``): rising rates for ``--step`` seconds each, stopping at the first rate
  not sustained (delivery p95 >= 200 ms, delivery rate < 99.9 % or the rate not reached);
- the scale curve (``--scale``, instead of the above): more clients at each level, the fixed
  rate at each, with the gateway's memory per connection and CPU per 1k delivered messages/s.

CPU seconds and peak RSS of every server process and of this generator are recorded per phase.
Writes bench/results/chat-<target>-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import logging
import multiprocessing
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import psutil
import uvloop
from rich.console import Console

from bench.stats import own_usage, quantiles, summarise, tree_usage
from bench.targets import TARGET_NAMES, Studyhub, Target, make_target
from bench.wsclient import Socket, SocketClosed, open_socket
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings

log = logging.getLogger(__name__)
console = Console()
RESULTS = REPO_ROOT / "bench" / "results"
BENCH_GENERATOR = 1010  # synthetic users of load runs: ids that no real row has
GENERATOR = "load-generator"  # this process, in the per-process tables
SUSTAINED_P95_MS = 200.0  # the seed's delivery target: a sweep step passes below it
SUSTAINED_DELIVERY_RATE = 0.999  # ... and delivers at least the seed's 99.9 %
TARGETS_MS = {"send_ack": 25.0, "delivery": 50.0}  # issue 4's aims (the seed's: 100 and 200)


@dataclass
class Tally:
    """One phase's accounting; late frames of an earlier phase land in that phase's tally."""

    sent_at: dict[str, float] = field(default_factory=dict)
    sender_of: dict[str, int] = field(default_factory=dict)
    pending_acks: set[str] = field(default_factory=set)
    ack_ms: list[float] = field(default_factory=list)
    delivery_ms: list[float] = field(default_factory=list)
    delivered: int = 0
    expected: int = 0
    errors: dict[str, int] = field(default_factory=dict)


@dataclass
class PhaseResult:
    label: str
    rate: float
    duration_s: float
    clients: int
    metrics: dict[str, dict[str, float]]
    delivery_rate: float
    throughput: dict[str, float]
    processes: dict[str, dict[str, float]]
    errors: dict[str, int]
    per_second: list[tuple[int, int, int]]
    quantiles: dict[str, list[float]]
    sustained: bool = False


def _usage(name: str, process: psutil.Process | list[psutil.Process]) -> tuple[float, int]:
    # The generator starts the peer servers as its children: count its own processes only, so
    # the peer's CPU is the peer's and the generator's is the generator's.
    if isinstance(process, list):
        usages = [_usage(name, member) for member in process]
        return sum(u[0] for u in usages), sum(u[1] for u in usages)
    return own_usage(process) if name == GENERATOR else tree_usage(process)


class Meter:
    """CPU seconds and peak RSS of each process over a stretch, sampled once a second."""

    def __init__(self, processes: dict[str, psutil.Process | list[psutil.Process]]) -> None:
        self.processes = processes
        self.start_cpu = {n: _usage(n, p)[0] for n, p in processes.items()}
        self.peak_rss = {n: _usage(n, p)[1] for n, p in processes.items()}
        self.started = time.perf_counter()
        self.task = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while True:
            await asyncio.sleep(1)
            for name, process in self.processes.items():
                self.peak_rss[name] = max(self.peak_rss[name], _usage(name, process)[1])

    def stop(self) -> dict[str, dict[str, float]]:
        self.task.cancel()
        elapsed = time.perf_counter() - self.started
        usage: dict[str, dict[str, float]] = {}
        for name, process in self.processes.items():
            cpu, rss = _usage(name, process)
            spent = cpu - self.start_cpu[name]
            usage[name] = {
                "cpu_s": round(spent, 2),
                "cpu_share": round(spent / elapsed, 3),
                "peak_rss_mib": round(max(rss, self.peak_rss[name]) / 2**20, 1),
            }
        return usage


ABUSIVE_SUFFIX = ", you idiot"  # a whole-word hit of the word filter's own list


def load_body(n: int, every: int) -> str:
    """The load's n-th message: plain, or with an insult every ``every`` messages (0: never)."""
    return f"load message {n}{ABUSIVE_SUFFIX}" if every and n % every == 0 else f"load message {n}"


class Load:
    """The connected clients of one load-generator process, and the phases run on them.

    Each process holds whole rooms: a message's sender and its recipients are in the same
    process, so every latency is measured on one clock (perf_counter is CLOCK_MONOTONIC, the
    same in every process of the machine, which lets the phases start together).
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.users: list[int] = []
        self.room_of: dict[int, int] = {}
        self.members: dict[int, int] = {}
        self.sockets: dict[int, Socket] = {}
        self.tally_of: dict[str, Tally] = {}
        self.sent_total = 0

    async def open(self, users: list[int], room_of: dict[int, int]) -> float:
        """Connect ``users`` (64 handshakes in flight); returns the seconds it took."""
        started = time.perf_counter()
        self.room_of.update(room_of)
        semaphore = asyncio.Semaphore(64)

        async def one(user: int) -> None:
            room = self.room_of[user]
            async with semaphore:
                socket = await open_socket(
                    self.target.url(user),
                    self.target.opening(user, room),
                    functools.partial(self._on_text, user),
                )
            self.sockets[user] = socket
            self.members[room] = self.members.get(room, 0) + 1

        await asyncio.gather(*(one(u) for u in users))
        self.users += users
        return time.perf_counter() - started

    def _on_text(self, user: int, raw: bytes, now: float) -> None:
        """One frame to ``user``'s socket, received at ``now`` (a synchronous callback)."""
        for kind, client_msg_id, code in self.target.decode(raw):
            if kind == "ping":
                with contextlib.suppress(SocketClosed):
                    self.sockets[user].send("{}")
                continue
            tally = self.tally_of.get(client_msg_id or "")
            if kind == "message":
                if tally is not None and tally.sender_of[client_msg_id or ""] != user:
                    tally.delivery_ms.append((now - tally.sent_at[client_msg_id or ""]) * 1000)
                    tally.delivered += 1
            elif kind == "ack" and tally is not None:
                tally.ack_ms.append((now - tally.sent_at[client_msg_id or ""]) * 1000)
                tally.pending_acks.discard(client_msg_id or "")
            elif kind == "error":
                bucket = tally.errors if tally is not None else {}
                bucket[code or "error"] = bucket.get(code or "error", 0) + 1
                if tally is not None:
                    tally.pending_acks.discard(client_msg_id or "")

    async def phase(
        self, label: str, rate: float, duration: float, start_at: float, abusive_share: float = 0.0
    ) -> dict[str, Any]:
        """Send ``rate`` messages/s for ``duration`` s from ``start_at``; the raw tally.
        Every ``1 / abusive_share``-th message carries an insult for the word filter."""
        tally = Tally()
        every = round(1 / abusive_share) if abusive_share > 0 else 0
        if not self.users:  # fewer rooms than generator processes: this one has none
            return {
                "elapsed": duration,
                "sent": 0,
                "senders": 0,
                "ack_ms": [],
                "delivery_ms": [],
                "delivered": 0,
                "expected": 0,
                "errors": {},
                "per_second": [],
            }
        senders = self.users[: max(1, min(len(self.users), int(rate / 2)))]
        interval = 1.0 / rate
        per_second: list[tuple[int, int, int]] = []
        await asyncio.sleep(max(0.0, start_at - time.perf_counter()))
        started = time.perf_counter()
        next_send = started
        sent = 0
        last_second, last_sent, last_delivered = 0, 0, 0
        while time.perf_counter() - started < duration:
            user = senders[sent % len(senders)]
            room = self.room_of[user]
            client_msg_id = f"{label}-{self.sent_total}"
            self.tally_of[client_msg_id] = tally
            tally.sender_of[client_msg_id] = user
            tally.expected += self.members[room] - 1
            tally.pending_acks.add(client_msg_id)
            frame = self.target.send_frame(room, client_msg_id, load_body(sent, every))
            tally.sent_at[client_msg_id] = time.perf_counter()
            try:
                self.sockets[user].send(frame)
            except SocketClosed as closed:
                # The server dropped this client (Centrifugo does when a pong comes late
                # from an overloaded generator): an error, and the step is not sustained.
                tally.errors[str(closed)] = tally.errors.get(str(closed), 0) + 1
                tally.expected -= self.members[room] - 1
                tally.pending_acks.discard(client_msg_id)
                senders = [u for u in senders if u != user] or senders
                if len(senders) == 1 and senders[0] == user:
                    break
                continue
            sent += 1
            self.sent_total += 1
            second = int(time.perf_counter() - started)
            if second != last_second:
                per_second.append((last_second, sent - last_sent, tally.delivered - last_delivered))
                last_second, last_sent, last_delivered = second, sent, tally.delivered
            next_send += interval
            delay = next_send - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            elif sent % 32 == 0:
                await asyncio.sleep(0)  # behind schedule: still let the readers run
        elapsed = time.perf_counter() - started
        # Drain: outstanding acks and deliveries get a bounded grace period.
        deadline = time.perf_counter() + 10
        while (tally.pending_acks or tally.delivered < tally.expected) and (
            time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.1)
        return {
            "elapsed": elapsed,
            "sent": sent,
            "senders": len(senders),
            "ack_ms": tally.ack_ms,
            "delivery_ms": tally.delivery_ms,
            "delivered": tally.delivered,
            "expected": tally.expected,
            "errors": tally.errors,
            "per_second": per_second,
        }

    async def close(self) -> None:
        # Every socket keeps reading while the others close (their "offline" frames arrive as
        # they leave): the callbacks read until each socket's own close completes.
        semaphore = asyncio.Semaphore(64)

        async def one(socket: Socket) -> None:
            async with semaphore:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(socket.close(), 10)

        await asyncio.gather(*(one(socket) for socket in self.sockets.values()))
        await self.target.close()


def _worker(conn: Connection, target_name: str, client: dict[str, Any]) -> None:
    """A load-generator process: opens its share of the sockets and runs its share of phases."""
    uvloop.run(_serve(conn, target_name, client))


async def _serve(conn: Connection, target_name: str, client: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    load = Load(make_target(target_name, get_settings(), client))
    while True:
        command, *params = await loop.run_in_executor(None, conn.recv)
        if command == "open":
            conn.send(await load.open(*params))
        elif command == "phase":
            conn.send(await load.phase(*params))
        elif command == "close":
            await load.close()
            conn.send(None)
            return


class Fleet:
    """The load generator: ``processes`` worker processes, each with whole rooms of clients.

    One Python process receiving every delivery was the limit before the servers were: it
    stopped the bare peer's sweep at 1,600 messages/s. The workers split the rooms and the
    rate; this process only sets rooms up, starts the phases together, merges their tallies
    and measures every process (the generator's row is the workers and this one together).
    """

    def __init__(
        self, target: Target, room_size: int, processes: int, abusive_share: float = 0.0
    ) -> None:
        self.target = target
        self.room_size = room_size
        self.abusive_share = abusive_share
        self.generator = IdGenerator(BENCH_GENERATOR)
        self.users: list[int] = []
        context = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.workers: list[multiprocessing.process.BaseProcess] = []
        for _ in range(processes):
            here, there = context.Pipe()
            worker = context.Process(
                target=_worker, args=(there, target.name, target.client_spec()), daemon=True
            )
            worker.start()
            self.pipes.append(here)
            self.workers.append(worker)
        generator = [psutil.Process(), *(psutil.Process(w.pid) for w in self.workers)]
        self.processes: dict[str, psutil.Process | list[psutil.Process]] = {
            GENERATOR: generator,
            **target.processes(),
        }

    async def _ask(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        loop = asyncio.get_running_loop()
        for pipe, command in zip(self.pipes, commands, strict=True):
            pipe.send(command)
        return list(await asyncio.gather(*(loop.run_in_executor(None, p.recv) for p in self.pipes)))

    async def grow(self, clients: int) -> tuple[float, float]:
        """Bring the connected clients up to ``clients``.

        Returns the seconds the rooms took (for studyhub, REST creates and joins) and the
        seconds the sockets took (handshake, token, welcome, subscribe and its reply): apart,
        so the connection rate is not the REST API's rate.
        """
        started = time.perf_counter()
        new = [self.generator.next_id() for _ in range(clients - len(self.users))]
        with console.status(f"{self.target.name}: rooms for {len(new)} clients"):
            room_of = await self.target.assign_rooms(new, self.room_size)
        rooms_s = time.perf_counter() - started
        shares: list[list[int]] = [[] for _ in self.pipes]
        rooms = sorted(set(room_of.values()))
        worker_of = {room: n % len(self.pipes) for n, room in enumerate(rooms)}
        for user in new:
            shares[worker_of[room_of[user]]].append(user)
        started = time.perf_counter()
        with console.status(f"{self.target.name}: connecting {len(new)} clients"):
            await self._ask([("open", share, {u: room_of[u] for u in share}) for share in shares])
        connect_s = time.perf_counter() - started
        self.users += new
        await asyncio.sleep(1)  # let the last subscriptions settle before any clock starts
        return rooms_s, connect_s

    async def phase(self, label: str, rate: float, duration: float) -> PhaseResult:
        meter = Meter(self.processes)
        start_at = time.perf_counter() + 0.2
        share = rate / len(self.pipes)
        with console.status(f"{self.target.name}: {label} at {rate:g} messages/s"):
            raws = await self._ask(
                [
                    ("phase", label, share, duration, start_at, self.abusive_share)
                    for _ in self.pipes
                ]
            )
        processes = meter.stop()
        return merge_phase(label, rate, len(self.users), raws, processes)

    def gateway_rss(self) -> int:
        gateway = self.processes[self.target.gateway()]
        return tree_usage(gateway if isinstance(gateway, psutil.Process) else gateway[0])[1]

    async def close(self) -> None:
        closing = console.status(f"{self.target.name}: closing {len(self.users)} sockets")
        with closing, contextlib.suppress(Exception):
            await self._ask([("close",) for _ in self.pipes])
        for worker in self.workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.terminate()
        await self.target.close()


def merge_phase(
    label: str,
    rate: float,
    clients: int,
    raws: list[dict[str, Any]],
    processes: dict[str, dict[str, float]],
) -> PhaseResult:
    """One phase's result from the workers' raw tallies."""
    ack_ms = [v for raw in raws for v in raw["ack_ms"]]
    delivery_ms = [v for raw in raws for v in raw["delivery_ms"]]
    sent = sum(raw["sent"] for raw in raws)
    delivered = sum(raw["delivered"] for raw in raws)
    expected = sum(raw["expected"] for raw in raws)
    elapsed = max(raw["elapsed"] for raw in raws)
    errors: dict[str, int] = {}
    for raw in raws:
        for code, count in raw["errors"].items():
            errors[code] = errors.get(code, 0) + count
    seconds: dict[int, list[int]] = {}
    for raw in raws:
        for second, sent_n, delivered_n in raw["per_second"]:
            row = seconds.setdefault(second, [0, 0])
            row[0] += sent_n
            row[1] += delivered_n
    metrics = {"send_ack": summarise(ack_ms), "delivery": summarise(delivery_ms)}
    delivery_rate = round(delivered / expected, 5) if expected else 0.0
    sent_per_s = round(sent / elapsed, 1) if elapsed else 0.0
    return PhaseResult(
        label=label,
        rate=rate,
        duration_s=round(elapsed, 2),
        clients=clients,
        metrics=metrics,
        delivery_rate=delivery_rate,
        throughput={
            "sent_per_s": sent_per_s,
            "delivered_per_s": round(delivered / elapsed, 1) if elapsed else 0.0,
            "sent": sent,
            "acked": len(ack_ms),
            "delivered": delivered,
            "expected": expected,
            "senders": sum(raw["senders"] for raw in raws),
            "generator_processes": len(raws),
        },
        processes=processes,
        errors=errors,
        per_second=[(s, row[0], row[1]) for s, row in sorted(seconds.items())],
        quantiles={"send_ack": quantiles(ack_ms), "delivery": quantiles(delivery_ms)},
        sustained=(
            not errors
            and metrics["delivery"]["p95"] < SUSTAINED_P95_MS
            and delivery_rate >= SUSTAINED_DELIVERY_RATE
            and sent_per_s >= 0.9 * rate
        ),
    )


def _server_cpu_share(result: PhaseResult) -> float:
    return sum(u["cpu_share"] for n, u in result.processes.items() if n != GENERATOR)


async def run(args: argparse.Namespace, settings: Settings) -> dict[str, Any]:
    target = make_target(args.target, settings)
    if args.moderation is not None:
        if not isinstance(target, Studyhub):
            raise SystemExit(f"--moderation is a studyhub room policy; {target.name} has none")
        target.moderation = args.moderation
    load = Fleet(target, args.room_size, args.processes, args.abusive_share)
    report: dict[str, Any] = {
        "kind": "chat_load",
        "target": target.name,
        "description": target.description,
        "command": "python -m bench.chat_load " + " ".join(args.argv),
        "created_at": datetime.now(UTC).isoformat(),
    }
    try:
        phases: list[PhaseResult] = []
        if args.scale:
            report["scale"] = []
            # Memory per connection is the growth from the previous level: a gateway that has
            # held connections before keeps its heap, so growth over "idle" undercounts.
            rss_before, clients_before = load.gateway_rss(), 0
            for level in args.scale:
                _, seconds = await load.grow(level)
                rss = load.gateway_rss()
                added_kib = (rss - rss_before) / 1024 / (level - clients_before)
                rss_before, clients_before = rss, level
                result = await load.phase(f"scale-{level}", args.rate, args.duration)
                phases.append(result)
                delivered_k = result.throughput["delivered_per_s"] / 1000
                report["scale"].append(
                    {
                        "connections": level,
                        "connect_s": round(seconds, 1),
                        "delivery_p95_ms": result.metrics["delivery"]["p95"],
                        "delivery_rate": result.delivery_rate,
                        "delivered_per_s": result.throughput["delivered_per_s"],
                        "gateway_rss_mib": round(rss / 2**20, 1),
                        "gateway_kib_per_connection": round(added_kib, 1),
                        "server_cpu_share": round(_server_cpu_share(result), 3),
                        "cpu_share_per_1k_delivered_per_s": (
                            round(_server_cpu_share(result) / delivered_k, 3)
                            if delivered_k
                            else None
                        ),
                        "generator_cpu_share": result.processes[GENERATOR]["cpu_share"],
                    }
                )
        else:
            rss_idle = load.gateway_rss()
            rooms_s, seconds = await load.grow(args.clients)
            report["connect"] = {
                "clients": args.clients,
                "rooms_s": round(rooms_s, 1),
                "seconds": round(seconds, 2),
                "per_s": round(args.clients / seconds) if seconds else None,
                "gateway_kib_per_connection": round(
                    (load.gateway_rss() - rss_idle) / 1024 / args.clients, 1
                ),
            }
            phases.append(await load.phase("fixed", args.rate, args.duration))
            if args.sweep:
                best: float | None = None
                for rate in args.sweep:
                    step = await load.phase(f"sweep-{rate:g}", rate, args.step)
                    phases.append(step)
                    console.print(
                        f"  {target.name} at {rate:g}/s: delivery p95 "
                        f"{step.metrics['delivery']['p95']} ms, rate {step.delivery_rate}, sent "
                        f"{step.throughput['sent_per_s']}/s -> "
                        f"{'sustained' if step.sustained else 'not sustained'}"
                    )
                    if not step.sustained:
                        break
                    best = rate
                report["max_sustained_rate"] = best
    finally:
        await load.close()
    fixed = phases[0]
    report["params"] = {
        "target": target.name,
        "clients": args.clients if not args.scale else max(args.scale),
        "room_size": args.room_size,
        "rate": args.rate,
        "duration_s": args.duration,
        "sweep": args.sweep,
        "step_s": args.step,
        "scale": args.scale,
        "moderation": args.moderation,
        "abusive_share": args.abusive_share,
    }
    # The first phase's numbers at the top level: the fixed rate peers are compared at.
    report.update(
        {
            "metrics": fixed.metrics,
            "delivery_rate": fixed.delivery_rate,
            "throughput": fixed.throughput,
            "processes": fixed.processes,
            "errors": fixed.errors,
            "per_second": fixed.per_second,
            "quantiles": fixed.quantiles,
            "phases": [asdict(p) for p in phases],
        }
    )
    return report


def scale_table(scale: list[dict[str, Any]]) -> list[str]:
    """The scale curve as markdown table lines."""
    return [
        "| connections | delivery p95 ms | delivered/s | gateway RSS MiB "
        "| KiB per added connection "
        "| server CPU share | CPU share per 1k delivered/s | generator CPU |",
        "|---|---|---|---|---|---|---|---|",
        *(
            f"| {s['connections']} | {s['delivery_p95_ms']} | {s['delivered_per_s']} "
            f"| {s['gateway_rss_mib']} | {s['gateway_kib_per_connection']} "
            f"| {s['server_cpu_share']} | {s['cpu_share_per_1k_delivered_per_s']} "
            f"| {s['generator_cpu_share']} |"
            for s in scale
        ),
    ]


def write_report(report: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    json_path = RESULTS / f"chat-{report['target']}-{stamp}.json"
    json_path.write_text(json.dumps(report, indent=2))
    p = report["params"]
    lines = [
        f"# Chat load on {report['description']}, {report['created_at']}",
        "",
        f"`{report['command']}`",
        "",
        f"{p['clients']} WebSocket clients in rooms of {p['room_size']}.",
        "",
        "| phase | clients | rate/s | sent/s | delivered/s | ack p95 ms | delivery p50 ms "
        "| delivery p95 ms | delivery p99 ms | delivery rate | errors | sustained |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for phase in report["phases"]:
        t, m = phase["throughput"], phase["metrics"]
        lines.append(
            f"| {phase['label']} | {phase['clients']} | {phase['rate']:g} | {t['sent_per_s']} "
            f"| {t['delivered_per_s']} | {m['send_ack']['p95']} | {m['delivery']['p50']} "
            f"| {m['delivery']['p95']} | {m['delivery']['p99']} | {phase['delivery_rate']} "
            f"| {sum(phase['errors'].values())} | {'yes' if phase['sustained'] else 'no'} |"
        )
    if "max_sustained_rate" in report:
        lines += ["", f"Highest sustained rate: {report['max_sustained_rate']} messages/s."]
    if "connect" in report:
        c = report["connect"]
        lines += [
            "",
            f"Connecting {c['clients']} clients (64 handshakes in flight, each up to its "
            f"subscribe reply) took {c['seconds']} s: {c.get('per_s')} connections/s. "
            f"Putting them in rooms took {c.get('rooms_s')} s before that. The gateway grew "
            f"by {c['gateway_kib_per_connection']} KiB per connection.",
        ]
    if report.get("scale"):
        lines += ["", *scale_table(report["scale"])]
    lines += [
        "",
        "Fixed phase, per process:",
        "",
        "| process | CPU s | CPU share | peak RSS MiB |",
        "|---|---|---|---|",
        *(
            f"| {name} | {u['cpu_s']} | {u['cpu_share']} | {u['peak_rss_mib']} |"
            for name, u in report["processes"].items()
        ),
    ]
    md_path = json_path.with_suffix(".md")
    md_path.write_text("\n".join(lines) + "\n")
    return md_path


def rates(text: str) -> list[float]:
    try:
        rates = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected rates like 100,200,400, got {text!r}") from None
    if not rates or any(r <= 0 for r in rates):
        raise argparse.ArgumentTypeError("rates must be positive")
    return rates


def _levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected counts like 1000,2000, got {text!r}") from None
    if not levels or levels != sorted(levels) or levels[0] < 2:
        raise argparse.ArgumentTypeError("connection counts must rise and start at 2 or more")
    return levels


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (``argv``, or the process's), checked; ``argv`` kept for the report."""
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--target", choices=TARGET_NAMES, default="studyhub")
    parser.add_argument("--clients", type=int, default=1000, help="WebSocket clients (1000)")
    parser.add_argument("--room-size", type=int, default=20, help="clients per room (20)")
    parser.add_argument("--rooms", type=int, default=None, help="rooms; sets --room-size")
    parser.add_argument("--rate", type=float, default=100, help="fixed messages/s in all (100)")
    parser.add_argument("--duration", type=float, default=20, help="fixed phase seconds (20)")
    parser.add_argument("--sweep", type=rates, default=[], help="rates to step through")
    parser.add_argument("--step", type=float, default=8, help="seconds per sweep step (8)")
    parser.add_argument(
        "--moderation",
        choices=["block", "mask", "flag", "off"],
        default=None,
        help="studyhub: the word filter's policy of the load's rooms (default: block)",
    )
    parser.add_argument(
        "--abusive-share",
        type=float,
        default=0.0,
        help="share of messages with an insult in them, e.g. 0.05 (default 0); with --moderation "
        "mask they are delivered masked",
    )
    parser.add_argument("--scale", type=_levels, default=[], help="connection levels")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="load-generator processes, each with whole rooms and its share of the rate (2)",
    )
    args = parser.parse_args(argv)
    if args.rooms is not None:
        if args.rooms < 1 or args.clients < 2 * args.rooms:
            parser.error("need at least 2 clients per room (--clients >= 2 x --rooms)")
        args.room_size = -(-args.clients // args.rooms)
    if args.room_size < 2:
        parser.error("--room-size must be at least 2 (a message needs someone to reach)")
    if args.clients < 2:
        parser.error("--clients must be at least 2")
    if args.rate <= 0 or args.duration <= 0 or args.step <= 0:
        parser.error("--rate, --duration and --step must be positive")
    if args.processes < 1:
        parser.error("--processes must be at least 1")
    if args.scale and args.sweep:
        parser.error("--scale and --sweep are separate runs; give one of them")
    args.argv = sys.argv[1:] if argv is None else argv
    return args


def main(argv: list[str] | None = None) -> Path:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    report = uvloop.run(run(args, get_settings()))
    path = write_report(report)
    console.print(path.read_text())
    console.print(f"written: {path} and {path.with_suffix('.json')}")
    return path


if __name__ == "__main__":
    main()
