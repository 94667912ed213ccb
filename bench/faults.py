"""Fault runs (`make faults`): one service SIGKILLed under steady chat, then `studyhub stack up`.

For each service of the matrix, one run:
1. two fresh rooms, one on each MySQL shard, each with two senders and two receivers (the
   benchmark's synthetic users, put in their rooms through the REST API);
2. steady sends (``--rate`` messages/s per room) for ``--before`` seconds;
3. SIGKILL: the whole process group of the service (every JVM, mysqld, redis-server and the
   Python workers under them), except ``api`` (only the supervisor: its workers live on as
   orphans on port 8000, as after a crash of the master) and ``api-worker`` (one worker);
4. ``--down`` seconds later the project's own command, ``studyhub stack up``, which starts
   whatever is missing and waits until every service answers;
5. ``--after`` seconds more of steady sends, then a drain: no new messages, and every send
   not yet acked is sent again (same client_msg_id) until it is, as a client does;
6. the checks: every acked message stored exactly once (MySQL, the room's shard), delivered
   to every receiver (each resubscribes with ``after_seq`` after any disconnect), and to a
   late receiver that subscribes with ``after_seq=0`` once everything is over.

The clients behave as docs/chat.md tells a client to: reconnect with a growing backoff after
any close, resend what is unacked (a resend of an acked id is acked again with the same message
id), resubscribe from the last seq they hold. A run fails if anything acked is lost, stored twice
or not delivered, if a send is still unacked after the drain, or if ``stack up`` fails.

Writes ``bench/results/faults-<stamp>.{md,json}`` and a timeline plot per run; exits 1 if any
run failed. ``--short`` is the form `make test` runs in CI: a few seconds of load per service.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import psutil
from rich.console import Console
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from bench.stats import require_stack, stack_process
from bench.targets import Studyhub
from core.db.sharding import ShardRouter
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings

console = Console()
RESULTS = REPO_ROOT / "bench" / "results"
FAULTS_GENERATOR = 1011  # synthetic users of fault runs (core.ids layout), apart from the bench's

# What each run kills. The order starts with what should not disturb the chat at all.
SERVICES: dict[str, str] = {
    "neo4j": "Neo4j's JVM",
    "api-worker": "one API worker process (its supervisor starts another)",
    "api": "the API's supervisor alone (its workers live on as orphans holding port 8000)",
    "redis": "redis-server",
    "mariadb-0": "shard 0's mysqld",
    "mariadb-1": "shard 1's mysqld",
    "kafka": "the Kafka broker's JVM",
    "flink-taskmanager": "the TaskManager's JVM and its Python workers",
    "flink-jobmanager": "the JobManager's JVM (no HA: the chat job is resubmitted by stack up)",
}
SHORT = {"before": 3.0, "down": 3.0, "after": 4.0}
FULL = {"before": 8.0, "down": 8.0, "after": 10.0}

SENDERS_PER_ROOM = 2
RECEIVERS_PER_ROOM = 2
# When an unacked send goes again (same client_msg_id): on a new socket at once, after an
# error frame about it this long after, and on a live socket that said nothing after this long.
RESEND_AFTER_ERROR_S = 2.0
RESEND_SILENT_S = 30.0
SEND_BUDGET_PER_S = 8.0  # frames a sender sends per second at most (the server allows 10)
SEND_BURST = 8
OUTAGE_S = 1.0  # a stretch without acks (or deliveries) shorter than this is no outage
BACKOFF_S = (0.2, 0.5, 1.0, 2.0)  # reconnect delays, the last one repeated
HEALTHY_SOCKET_S = 2.0  # a socket closed sooner (say, 1013 at once) does not reset the backoff
CONNECT_TIMEOUT_S = 5.0
BUCKET_S = 0.5  # the timeline plot's resolution


@dataclass
class Clock:
    """Seconds since the run started, and every event of the run on that clock."""

    start: float = field(default_factory=time.monotonic)
    sends: list[float] = field(default_factory=list)  # first sends and resends
    acks: list[float] = field(default_factory=list)
    deliveries: list[float] = field(default_factory=list)
    troubles: list[tuple[float, str]] = field(default_factory=list)  # what clients saw

    def now(self) -> float:
        return time.monotonic() - self.start

    def trouble(self, kind: str) -> None:
        self.troubles.append((self.now(), kind))


def closed_kind(error: BaseException) -> str:
    """How a client saw its socket end or fail to open, as one short label."""
    if isinstance(error, ConnectionClosed):
        code = error.rcvd.code if error.rcvd is not None else 1006
        return f"closed {code}"
    if isinstance(error, InvalidStatus):
        return f"connect refused: HTTP {error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "connect timed out"
    if isinstance(error, OSError):
        return "connect refused: nothing listening"
    return f"{type(error).__name__}"


class Client:
    """One socket that reconnects with a backoff until ``finished`` is set."""

    def __init__(self, clock: Clock, url: str, finished: asyncio.Event) -> None:
        self.clock = clock
        self.url = url
        self.finished = finished
        self.ws: ClientConnection | None = None
        self.connects = 0

    async def opened(self) -> None:
        """Called on every new socket, before frames are read."""

    def on_frame(self, frame: dict[str, Any]) -> None:
        raise NotImplementedError

    async def run(self) -> None:
        failures = 0
        opened_at: float | None = None
        while not self.finished.is_set():
            try:
                async with connect(
                    self.url,
                    open_timeout=CONNECT_TIMEOUT_S,
                    ping_interval=2,
                    ping_timeout=4,
                    close_timeout=1,
                ) as ws:
                    self.ws = ws
                    self.connects += 1
                    opened_at = time.monotonic()
                    await self.opened()
                    await self._read(ws)
            except (ConnectionClosed, InvalidStatus, OSError, TimeoutError) as error:
                self.clock.trouble(closed_kind(error))
            finally:
                self.ws = None
            if self.finished.is_set():
                return
            if opened_at is not None and time.monotonic() - opened_at >= HEALTHY_SOCKET_S:
                failures = 0  # it served a while: the next failure starts the backoff again
            opened_at = None
            await self._pause(BACKOFF_S[min(failures, len(BACKOFF_S) - 1)])
            failures += 1

    async def _read(self, ws: ClientConnection) -> None:
        reading = asyncio.ensure_future(self._frames(ws))
        waiting = asyncio.ensure_future(self.finished.wait())
        done, _ = await asyncio.wait({reading, waiting}, return_when=asyncio.FIRST_COMPLETED)
        for task in (reading, waiting):
            task.cancel()
        if reading in done and reading.exception() is not None:
            raise reading.exception()  # type: ignore[misc]

    async def _frames(self, ws: ClientConnection) -> None:
        async for raw in ws:
            self.on_frame(json.loads(raw))
        raise ConnectionClosed(
            ws.protocol.close_rcvd, ws.protocol.close_sent
        )  # a clean close is still a close

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.finished.wait(), seconds)

    async def send_text(self, frame: dict[str, Any]) -> bool:
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(json.dumps(frame))
        except ConnectionClosed:
            return False
        return True


class Sender(Client):
    """Sends to one room at a steady pace; resends what is unacked, as a client should."""

    def __init__(self, clock: Clock, url: str, finished: asyncio.Event, room: int) -> None:
        super().__init__(clock, url, finished)
        self.room = room
        self.pending: dict[str, float] = {}  # client_msg_id -> when it is (re)sent, clock time
        self.acked: dict[str, int] = {}  # client_msg_id -> message id
        self.created = 0
        self.ack_id_changed = 0  # a second ack naming another message id: a real defect
        self.errors: Counter[str] = Counter()
        self.budget = float(SEND_BURST)
        self.budget_at = time.monotonic()

    async def opened(self) -> None:
        for client_msg_id in self.pending:  # resent first on the new socket, oldest first
            self.pending[client_msg_id] = 0.0

    def spend(self) -> bool:
        """One frame of the sender's budget: it stays under the server's rate limit (resends
        count too), as a client that does not want to be closed for flooding must."""
        now = time.monotonic()
        self.budget = min(SEND_BURST, self.budget + (now - self.budget_at) * SEND_BUDGET_PER_S)
        self.budget_at = now
        if self.budget < 1:
            return False
        self.budget -= 1
        return True

    async def _send(self, client_msg_id: str) -> None:
        if not self.spend():
            return  # still pending: sent when the budget allows
        if await self.send_text(
            {
                "type": "send",
                "room_id": self.room,
                "client_msg_id": client_msg_id,
                "body": f"fault run {client_msg_id}",
            }
        ):
            self.pending[client_msg_id] = self.clock.now() + RESEND_SILENT_S
            self.clock.sends.append(self.clock.now())

    async def pace(self, interval: float, stop_new: asyncio.Event) -> None:
        """A new message every ``interval`` s until ``stop_new``; then resends only."""
        next_at = time.monotonic()
        while not self.finished.is_set():
            if not stop_new.is_set() and time.monotonic() >= next_at:
                client_msg_id = uuid.uuid4().hex
                self.created += 1
                self.pending[client_msg_id] = 0.0  # sent now, or on reconnect
                await self._send(client_msg_id)
                next_at += interval
            now = self.clock.now()
            for client_msg_id, due in list(self.pending.items()):
                if due <= now:
                    await self._send(client_msg_id)
            await asyncio.sleep(min(0.05, interval))

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ack":
            client_msg_id = str(frame["client_msg_id"])
            message_id = int(frame["message_id"])
            if self.acked.setdefault(client_msg_id, message_id) != message_id:
                self.ack_id_changed += 1
            if self.pending.pop(client_msg_id, None) is not None:
                self.clock.acks.append(self.clock.now())
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] += 1
            self.clock.trouble(f"error {code}")
            ref = frame.get("ref")
            if ref in self.pending:  # refused (in_flight, busy, rate_limited): again soon
                self.pending[ref] = self.clock.now() + RESEND_AFTER_ERROR_S


class Receiver(Client):
    """Follows one room; after any disconnect subscribes again with the last seq it holds."""

    def __init__(
        self, clock: Clock, url: str, finished: asyncio.Event, room: int, *, live: bool = True
    ) -> None:
        super().__init__(clock, url, finished)
        self.room = room
        self.live = live
        self.last_seq = 0
        self.seen: dict[str, int] = {}  # client_msg_id -> seq
        self.duplicates = 0  # a seq received a second time
        self.gaps = 0  # seqs skipped in what arrived (the server should never skip)
        self.missing = 0  # seqs the server said it could not recover

    async def opened(self) -> None:
        await self.send_text(
            {"type": "subscribe", "room_id": self.room, "after_seq": self.last_seq}
        )

    def on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "message" and frame.get("room_id") == self.room:
            seq = int(frame["seq"])
            if seq <= self.last_seq:
                self.duplicates += 1
                return
            self.gaps += seq - self.last_seq - 1
            self.last_seq = seq
            self.seen[str(frame["client_msg_id"])] = seq
            if self.live:
                self.clock.deliveries.append(self.clock.now())
        elif kind == "subscribed" and frame.get("missing"):
            gap = frame["missing"]
            self.missing += int(gap["to_seq"]) - int(gap["from_seq"]) + 1
        elif kind == "error":
            self.clock.trouble(f"error {frame.get('code')}")


def outage(
    times: list[float], since: float, until: float, load_end: float | None = None
) -> tuple[float, float | None]:
    """The longest stretch without an event between ``since`` and ``until``, and how long after
    ``since`` the events came back after it: 0 if no stretch reached ``OUTAGE_S``, None if they
    never came back. Once the load has ended (``load_end``) no new events are due, so the quiet
    at the end of a drain is no outage; events that stopped before it and never came back are.
    """
    end = until if load_end is None else load_end
    previous, longest, back = since, 0.0, 0.0
    for moment in sorted(t for t in times if since <= t <= until):
        if moment - previous > longest:
            longest, back = moment - previous, moment - since
        previous = moment
    if end - previous > longest:
        return end - previous, None
    if longest < OUTAGE_S:
        return longest, 0.0  # they never stopped
    return longest, back


def kill(settings: Settings, service: str) -> list[int]:
    """SIGKILL the service (see the module); returns the pids that were alive."""
    name = "api" if service.startswith("api") else service
    leader = stack_process(settings, name)
    if leader is None:
        raise SystemExit(f"error: {name} is not running; start the stack with `make up` first")
    if service == "api-worker":
        workers = [
            p for p in leader.children() if "spawn_main" in " ".join(p.cmdline())
        ]  # not multiprocessing's resource tracker
        if not workers:
            raise SystemExit("error: the API has no worker process to kill")
        victims = [workers[0]]
    elif service == "api":
        victims = [leader]
    else:
        victims = [leader, *leader.children(recursive=True)]
    pids = [p.pid for p in victims]
    if service in ("api", "api-worker"):
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.send_signal(signal.SIGKILL)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(leader.pid, signal.SIGKILL)  # started in a session of its own
    psutil.wait_procs(victims, timeout=10)
    return pids


async def stack_up() -> tuple[float, int, str]:
    """``studyhub stack up``: seconds, exit code, and the end of its output."""
    started = time.monotonic()
    command = Path(sys.executable).with_name("studyhub")
    process = await asyncio.create_subprocess_exec(
        str(command),
        "stack",
        "up",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=REPO_ROOT,
    )
    output, _ = await process.communicate()
    tail = "\n".join(output.decode(errors="replace").splitlines()[-15:])
    return time.monotonic() - started, process.returncode or 0, tail


def stored(router: ShardRouter, room: int) -> dict[str, int]:
    """client_msg_id -> how many rows the room's shard holds for it."""
    with router.engine_for_room(room).connect() as connection:
        rows = connection.execute(
            text(
                "SELECT client_msg_id, COUNT(*) FROM chat_messages"
                " WHERE room_id = :room GROUP BY client_msg_id"
            ),
            {"room": room},
        ).all()
    return {str(client_msg_id): int(count) for client_msg_id, count in rows}


async def rooms_on_every_shard(
    target: Studyhub, router: ShardRouter, ids: IdGenerator, size: int
) -> dict[int, list[int]]:
    """Fresh rooms, one per shard: room -> its members."""
    rooms: dict[int, list[int]] = {}
    shards: set[int] = set()
    for _ in range(20 * router.shard_count):
        users = [ids.next_id() for _ in range(size)]
        room = (await target.assign_rooms(users, size))[users[0]]
        shard = router.shard_for_room(room)
        if shard not in shards:
            shards.add(shard)
            rooms[room] = users
        if len(shards) == router.shard_count:
            return rooms
    raise SystemExit("error: could not create a room on every shard")


@dataclass
class Timing:
    before: float
    down: float
    after: float
    drain: float
    rate: float


@dataclass
class Marks:
    """When things happened in a run, on its clock (seconds)."""

    kill_at: float = 0.0
    restart_at: float = 0.0
    restart_s: float = 0.0
    restart_exit: int = 0
    restart_output: str = ""
    load_end: float = 0.0
    drained_at: float = 0.0
    pids: list[int] = field(default_factory=list)


async def until(check: Any, deadline: float) -> None:
    """Wait (polling) until ``check()`` holds or the monotonic ``deadline`` passes."""
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.2)


class FaultRun:
    """One service killed under load; ``run`` returns the numbers the report needs."""

    def __init__(self, settings: Settings, service: str, timing: Timing) -> None:
        self.settings = settings
        self.service = service
        self.timing = timing
        self.router = ShardRouter(settings, pool_size=1)
        self.target = Studyhub(settings)
        self.clock = Clock()
        self.marks = Marks()
        self.members: dict[int, list[int]] = {}
        self.senders: list[Sender] = []
        self.receivers: list[Receiver] = []
        self.late: list[Receiver] = []

    async def run(self) -> dict[str, Any]:
        try:
            self.members = await rooms_on_every_shard(
                self.target,
                self.router,
                IdGenerator(FAULTS_GENERATOR),
                SENDERS_PER_ROOM + RECEIVERS_PER_ROOM,
            )
            await self._load_and_fault()
            await self._late_receivers()
            rows = {room: stored(self.router, room) for room in self.members}
        finally:
            await self.target.close()
            for engine in self.router.all_engines():
                engine.dispose()
        return self._result(rows)

    def acked_in(self, room: int) -> set[str]:
        return {i for s in self.senders if s.room == room for i in s.acked}

    def _complete(self, receivers: list[Receiver]) -> bool:
        return all(self.acked_in(r.room) <= r.seen.keys() for r in receivers)

    async def _load_and_fault(self) -> None:
        clock, marks, timing = self.clock, self.marks, self.timing
        finished = asyncio.Event()  # the clients stop
        stop_new = asyncio.Event()  # no more new messages
        for room, users in self.members.items():
            self.senders += [
                Sender(clock, self.target.url(u), finished, room) for u in users[:SENDERS_PER_ROOM]
            ]
            self.receivers += [
                Receiver(clock, self.target.url(u), finished, room)
                for u in users[SENDERS_PER_ROOM:]
            ]
        tasks = [asyncio.ensure_future(c.run()) for c in [*self.receivers, *self.senders]]
        await asyncio.sleep(1.0)  # receivers subscribed before the first send
        interval = SENDERS_PER_ROOM / timing.rate
        tasks += [asyncio.ensure_future(s.pace(interval, stop_new)) for s in self.senders]
        clock.start = time.monotonic()

        await asyncio.sleep(timing.before)
        marks.kill_at = clock.now()
        # In a thread: the clients go on while the victims are reaped.
        marks.pids = await asyncio.to_thread(kill, self.settings, self.service)
        console.print(f"  {clock.now():6.1f}s killed {self.service} (pids {marks.pids})")
        await asyncio.sleep(timing.down)
        marks.restart_at = clock.now()
        marks.restart_s, marks.restart_exit, tail = await stack_up()
        marks.restart_output = tail if marks.restart_exit else ""
        console.print(
            f"  {clock.now():6.1f}s stack up: exit {marks.restart_exit} "
            f"after {marks.restart_s:.1f}s"
        )
        await asyncio.sleep(timing.after)
        stop_new.set()
        marks.load_end = clock.now()

        # The drain: resends until everything sent is acked, then until every receiver
        # holds every acked message.
        deadline = time.monotonic() + timing.drain
        await until(lambda: not any(s.pending for s in self.senders), deadline)
        await until(lambda: self._complete(self.receivers), deadline)
        marks.drained_at = clock.now()
        finished.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _late_receivers(self) -> None:
        """A receiver per room that subscribes once everything is over, from seq 0."""
        done = asyncio.Event()
        self.late = [
            Receiver(self.clock, self.target.url(users[-1]), done, room, live=False)
            for room, users in self.members.items()
        ]
        tasks = [asyncio.ensure_future(r.run()) for r in self.late]
        await until(lambda: self._complete(self.late), time.monotonic() + 15)
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _result(self, rows: dict[int, dict[str, int]]) -> dict[str, Any]:
        clock, marks = self.clock, self.marks
        acked_in = {room: self.acked_in(room) for room in self.members}
        acks_stopped, acks_back = outage(
            clock.acks, marks.kill_at, marks.drained_at, marks.load_end
        )
        deliveries_stopped, deliveries_back = outage(
            clock.deliveries, marks.kill_at, marks.drained_at, marks.load_end
        )
        result: dict[str, Any] = {
            "service": self.service,
            "killed": SERVICES[self.service],
            "pids": marks.pids,
            "kill_at_s": round(marks.kill_at, 2),
            "restart_at_s": round(marks.restart_at, 2),
            "restart_s": round(marks.restart_s, 1),
            "restart_exit": marks.restart_exit,
            "restart_output": marks.restart_output,
            "load_end_s": round(marks.load_end, 2),
            "drained_at_s": round(marks.drained_at, 2),
            "rooms": len(self.members),
            "sent": sum(s.created for s in self.senders),
            "sends_with_resends": len(clock.sends),
            "acked": sum(len(ids) for ids in acked_in.values()),
            "unacked": sum(len(s.pending) for s in self.senders),
            "ack_id_changed": sum(s.ack_id_changed for s in self.senders),
            "stored": sum(sum(r.values()) for r in rows.values()),
            "lost": sum(len(acked_in[room] - rows[room].keys()) for room in self.members),
            "stored_twice": sum(sum(1 for n in r.values() if n > 1) for r in rows.values()),
            "receivers": len(self.receivers),
            "not_delivered": sum(len(acked_in[r.room] - r.seen.keys()) for r in self.receivers),
            "duplicate_deliveries": sum(r.duplicates for r in self.receivers),
            "gaps": sum(r.gaps + r.missing for r in [*self.receivers, *self.late]),
            "late_receiver_missing": sum(len(acked_in[r.room] - r.seen.keys()) for r in self.late),
            "reconnects": sum(max(0, c.connects - 1) for c in [*self.senders, *self.receivers]),
            "acks_stopped_s": round(acks_stopped, 2),
            "acks_back_s": None if acks_back is None else round(acks_back, 2),
            "deliveries_stopped_s": round(deliveries_stopped, 2),
            "deliveries_back_s": None if deliveries_back is None else round(deliveries_back, 2),
            "troubles": dict(Counter(kind for _, kind in clock.troubles).most_common()),
            "timeline": {
                "sends": [round(t, 3) for t in clock.sends],
                "acks": [round(t, 3) for t in clock.acks],
                "deliveries": [round(t, 3) for t in clock.deliveries],
                "troubles": [[round(t, 3), kind] for t, kind in clock.troubles],
            },
        }
        result["problems"] = problems(result)
        return result


def problems(run: dict[str, Any]) -> list[str]:
    """What makes a run fail; empty when it passed."""
    found = []
    if run["restart_exit"] != 0:
        found.append(f"`studyhub stack up` exited {run['restart_exit']}")
    for key, what in (
        ("lost", "acked but not stored"),
        ("stored_twice", "stored twice"),
        ("not_delivered", "acked but missing at a receiver"),
        ("late_receiver_missing", "acked but missing for a late receiver"),
        ("unacked", "never acked after the drain"),
        ("ack_id_changed", "acked twice with different message ids"),
        ("gaps", "seqs skipped or unrecoverable"),
    ):
        if run[key]:
            found.append(f"{run[key]} {what}")
    return found


def plot_timeline(run: dict[str, Any], path: Path) -> None:
    line = run["timeline"]
    end = max([run["drained_at_s"], *line["sends"], *line["acks"], *line["deliveries"], 1.0])
    bins = [i * BUCKET_S for i in range(int(end / BUCKET_S) + 2)]
    figure, axis = plt.subplots(figsize=(9, 3.4))
    for key, colour in (("sends", "tab:blue"), ("acks", "tab:green"), ("deliveries", "tab:purple")):
        axis.hist(line[key], bins=bins, histtype="step", label=key, color=colour)
    axis.axvline(run["kill_at_s"], color="red", linestyle="--", label="SIGKILL")
    axis.axvline(run["restart_at_s"], color="orange", linestyle="--", label="stack up")
    axis.axvline(
        run["restart_at_s"] + run["restart_s"], color="green", linestyle=":", label="stack up done"
    )
    axis.axvline(run["load_end_s"], color="grey", linestyle=":", label="drain")
    for moment, _ in line["troubles"]:
        axis.axvline(moment, color="black", alpha=0.15, linewidth=0.8)
    axis.set_title(f"{run['service']}: events per {BUCKET_S:g} s (thin lines: client troubles)")
    axis.set_xlabel("seconds since the load started")
    axis.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:g}"


def render(report: dict[str, Any], stamp: str) -> str:
    lines = [
        f"# Fault runs ({report['form']}), {report['when']}",
        "",
        f"Command: `{report['command']}`. Per run: {report['timing']['rate']:g} messages/s in each "
        f"of two rooms (one per shard), {SENDERS_PER_ROOM} senders and {RECEIVERS_PER_ROOM} "
        f"receivers per room; SIGKILL after {report['timing']['before']:g} s, `studyhub stack up` "
        f"{report['timing']['down']:g} s later, {report['timing']['after']:g} s more load after "
        "it returned, then the drain (resends until acked, receivers until complete).",
        "",
        "| service | sent | acked | stored | lost | stored twice | delivered to every receiver "
        "| duplicate deliveries | gaps | acks stopped s | acks back after s | deliveries back "
        "after s | stack up s | verdict |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in report["runs"]:
        verdict = "pass" if not run["problems"] else "FAIL: " + "; ".join(run["problems"])
        missing = run["not_delivered"]
        delivered = "yes" if not missing else f"no ({missing} missing)"
        lines.append(
            f"| {run['service']} | {run['sent']} | {run['acked']} | {run['stored']} "
            f"| {run['lost']} | {run['stored_twice']} "
            f"| {delivered} "
            f"| {run['duplicate_deliveries']} | {run['gaps']} | {run['acks_stopped_s']:g} "
            f"| {_seconds(run['acks_back_s'])} | {_seconds(run['deliveries_back_s'])} "
            f"| {run['restart_s']:g} | {verdict} |"
        )
    lines += [
        "",
        "Acks stopped: the longest stretch without a new ack from the kill to the end of the "
        "drain (at this rate one arrives every "
        f"{1000 / (2 * report['timing']['rate']):.0f} ms). Acks and deliveries back after: "
        f"seconds from the kill to the end of that stretch, 0 when none reached {OUTAGE_S:g} s. "
        "Duplicate deliveries are frames "
        "the server sent twice (the client drops them by seq); a client following the protocol "
        "sees none.",
        "",
        "What the clients saw, by kind:",
        "",
        "| service | reconnects | troubles |",
        "|---|---|---|",
    ]
    for run in report["runs"]:
        troubles = ", ".join(f"{kind}: {n}" for kind, n in run["troubles"].items()) or "none"
        lines.append(f"| {run['service']} | {run['reconnects']} | {troubles} |")
    lines.append("")
    for run in report["runs"]:
        lines.append(f"![{run['service']}](faults-{stamp}-{run['service']}.png)")
        if run["restart_output"]:
            lines += ["", f"`stack up` after killing {run['service']}:", "", "```"]
            lines += [run["restart_output"], "```"]
    return "\n".join(lines) + "\n"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults",
        description="Kill each service under steady chat, restart it with `studyhub stack up`, "
        "and check that nothing acked was lost, stored twice or left undelivered.",
    )
    parser.add_argument(
        "--services",
        default=",".join(SERVICES),
        help=f"comma-separated, in this order by default: {', '.join(SERVICES)}",
    )
    parser.add_argument(
        "--short", action="store_true", help="a few seconds of load per service (what CI runs)"
    )
    parser.add_argument(
        "--rate", type=float, default=8.0, help="new messages/s per room (8, at most 8)"
    )
    parser.add_argument("--before", type=float, help="seconds of load before the kill")
    parser.add_argument("--down", type=float, help="seconds between the kill and `stack up`")
    parser.add_argument("--after", type=float, help="seconds of load after `stack up` returns")
    parser.add_argument(
        "--drain", type=float, default=90.0, help="at most this long for acks and deliveries (90)"
    )
    args = parser.parse_args(argv)
    unknown = [s for s in args.services.split(",") if s not in SERVICES]
    if unknown:
        parser.error(f"unknown service {', '.join(unknown)}; choose from {', '.join(SERVICES)}")
    if not 0 < args.rate <= SENDERS_PER_ROOM * SEND_BUDGET_PER_S / 2:
        parser.error(
            "--rate must be above 0 and at most 8: each sender keeps half its budget of "
            f"{SEND_BUDGET_PER_S:g} frames/s for resends"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    base = SHORT if args.short else FULL
    timing = Timing(
        before=args.before if args.before is not None else base["before"],
        down=args.down if args.down is not None else base["down"],
        after=args.after if args.after is not None else base["after"],
        drain=args.drain,
        rate=args.rate,
    )
    services = args.services.split(",")
    settings = get_settings()
    names = {"api" if s.startswith("api") else s for s in services}
    require_stack(settings, names | {"api", "kafka", "redis"}, then="make faults")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    runs = []
    for service in services:
        console.print(f"[bold]{service}[/]: killing {SERVICES[service]}")
        run = asyncio.run(FaultRun(settings, service, timing).run())
        plot_timeline(run, RESULTS / f"faults-{stamp}-{service}.png")
        verdict = (
            "[green]pass[/]"
            if not run["problems"]
            else "[red]FAIL[/] " + "; ".join(run["problems"])
        )
        console.print(
            f"  acked {run['acked']}/{run['sent']}, stored {run['stored']}, lost {run['lost']}, "
            f"acks back after {_seconds(run['acks_back_s'])} s: {verdict}"
        )
        runs.append(run)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "form": "short" if args.short else "full",
        "command": "python -m bench.faults " + " ".join(argv if argv is not None else sys.argv[1:]),
        "timing": timing.__dict__,
        "runs": runs,
        "passed": all(not run["problems"] for run in runs),
    }
    (RESULTS / f"faults-{stamp}.json").write_text(json.dumps(report, indent=1))
    path = RESULTS / f"faults-{stamp}.md"
    path.write_text(render(report, stamp))
    console.print(f"written: {path}")
    failed = [run["service"] for run in runs if run["problems"]]
    if failed:
        console.print(f"[red]fault runs failed:[/] {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
