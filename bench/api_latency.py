"""API latency under load: room join and leave, history page, friend list, mutual friends,
friend suggestions (stored, and the friends-of-friends fallback).

Runs in its own process against the API that `make up` started, as many signed-in users of the
loaded population (bench.populate), with a fixed number of requests in flight. The bench rooms
get a chat history first (``--history`` messages each, through the project's bulk loader), so
a history page is a real 50-message page of a room the user has just joined:

    .venv/bin/python -m bench.api_latency --requests 4000 --concurrency 32

People you may know: ``--scored-share`` of the sampled users (default half) get stored
suggestions before the run, planted with the graph job's own writer
(graph_jobs.suggestions.write_suggestions) from a friends-of-friends count, so that
``friend_suggestions`` times the read a scored user gets. The job itself needs the population
in Neo4j (bench.graph_sync) and ten minutes at 100k users (docs/graph.md); how its rows were
ranked does not change what reading them costs. Users the job has already scored keep their
rows; planted rows are deleted afterwards. The others get the fallback
(``friends_of_friends``). After the mixed load, ``friend_suggestions_alone`` times the stored
read from one client with nothing else in flight, once the stack has worked off the mixed
load (the TaskManager and MariaDB under 0.15 of a core): the read itself, without queueing.

Latencies are measured on one clock (time.perf_counter) from just before the request is sent
to the end of the response body; the report goes to bench/results/api-<timestamp>.{json,md}.
Tokens are minted with the local JWT secret (the bench runs on the API's machine), so no
argon2 login sits in the measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import http.client
import json
import logging
import multiprocessing
import os
import queue
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from sqlalchemy import bindparam, create_engine, text

from bench.bulk import BulkLoader, ChatRow, delete_chat_messages
from bench.httpclient import Connection
from bench.stats import quantiles, stack_process, summarise, tree_usage
from core import wire
from core.clients import redis_client
from core.db.sharding import ShardRouter
from core.ids import IdGenerator
from core.settings import REPO_ROOT, Settings, get_settings
from domain.auth import create_token
from graph_jobs import recommend
from graph_jobs.suggestions import write_suggestions

log = logging.getLogger(__name__)
console = Console()
RESULTS = REPO_ROOT / "bench" / "results"
BENCH_HISTORY_GENERATOR = 1008  # message ids of seeded bench history (core.ids layout)
# p95 targets: the seed's, and issue 10's for stored suggestions.
TARGETS_MS = {
    "room_join": 200.0,
    "friend_list": 150.0,
    "mutual_friends": 150.0,
    "friends_of_friends": 150.0,
    "friend_suggestions": 5.0,
    "friend_suggestions_alone": 5.0,
}
ALONE_REQUESTS = 300
STACK_PROCESSES = (
    "mariadb-0",
    "mariadb-1",
    "redis",
    "kafka",
    "flink-taskmanager",
    "neo4j",
    "dagster-daemon",
    "dagster-webserver",
    # Its children are the Dagster runs (the event sync the sensor launches when room and
    # social events arrive, the nightly full sync): work that competes with the API.
    "dagster-code-server",
)
SUGGESTIONS_PER_USER = 20

# Friends of friends with the mutual friends behind each (up to five ids): a stand-in ranking
# in the shape the job stores.
_FOF_FOR_PLANTING = text(
    "SELECT f2.user2_id AS candidate, COUNT(*) AS mutual, "
    "SUBSTRING_INDEX(GROUP_CONCAT(f1.user2_id ORDER BY f1.user2_id), ',', 5) AS via "
    "FROM friendships f1 JOIN friendships f2 ON f2.user1_id = f1.user2_id "
    "WHERE f1.user1_id = :u AND f2.user2_id <> :u AND NOT EXISTS "
    "(SELECT 1 FROM friendships x WHERE x.user1_id = :u AND x.user2_id = f2.user2_id) "
    "GROUP BY f2.user2_id ORDER BY mutual DESC, candidate LIMIT :k"
)


@dataclass
class Samples:
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, dict[int, int]] = field(default_factory=dict)

    def record(self, name: str, started: float, status: int, ok: set[int]) -> None:
        if status in ok:
            self.latencies_ms.setdefault(name, []).append((time.perf_counter() - started) * 1000)
        else:
            bucket = self.errors.setdefault(name, {})
            bucket[status] = bucket.get(status, 0) + 1


def sample_users(
    settings: Settings, count: int, seed: int
) -> tuple[list[int], dict[int, int], int, int]:
    """Random users that have friends, one friend of each (for mutual-friend queries), and the
    population's size and friendship rows."""
    engine = create_engine(settings.mysql_url(0))
    try:
        with engine.connect() as connection:
            users = int(connection.execute(text("SELECT COUNT(*) FROM users")).scalar_one())
            rows = int(connection.execute(text("SELECT COUNT(*) FROM friendships")).scalar_one())
            ids = (
                connection.execute(
                    text(
                        "SELECT u.id FROM users u WHERE EXISTS "
                        "(SELECT 1 FROM friendships f WHERE f.user1_id = u.id) "
                        "ORDER BY RAND(:seed) LIMIT :n"
                    ),
                    {"seed": seed, "n": count},
                )
                .scalars()
                .all()
            )
            friend_of = (
                {
                    int(a): int(b)
                    for a, b in connection.execute(
                        text(
                            "SELECT user1_id, MAX(user2_id) FROM friendships "
                            "WHERE user1_id IN :ids GROUP BY user1_id"
                        ).bindparams(bindparam("ids", expanding=True)),
                        {"ids": list(ids)},
                    )
                }
                if ids
                else {}
            )
    finally:
        engine.dispose()
    return [int(i) for i in ids], friend_of, users, rows


def plant_suggestions(settings: Settings, users: list[int]) -> tuple[list[int], list[int]]:
    """Stored suggestions for ``users``: returns (users that already had rows from the job,
    users planted now; delete those afterwards with ``unplant_suggestions``)."""
    engine = create_engine(settings.mysql_url(0))
    try:
        with engine.connect() as conn:
            scored = {
                int(u)
                for u in conn.execute(
                    text(
                        "SELECT DISTINCT user_id FROM friend_suggestions WHERE user_id IN :ids"
                    ).bindparams(bindparam("ids", expanding=True)),
                    {"ids": users},
                ).scalars()
            }
            at = conn.execute(text("SELECT UTC_TIMESTAMP(6)")).scalar_one()
            planted = [u for u in users if u not in scored]
            for user in planted:
                ranked = [
                    recommend.Suggestion(
                        user_id=user,
                        candidate_id=int(row.candidate),
                        rank=rank,
                        score=float(row.mutual),
                        mutual_friends=int(row.mutual),
                        mutual_ids=[int(i) for i in str(row.via).split(",")],
                    )
                    for rank, row in enumerate(
                        conn.execute(_FOF_FOR_PLANTING, {"u": user, "k": SUGGESTIONS_PER_USER}),
                        start=1,
                    )
                ]
                write_suggestions(conn, ranked, at)
            conn.commit()
    finally:
        engine.dispose()
    return sorted(scored), planted


def remembered_fallbacks(settings: Settings, users: list[int], *, forget: bool = False) -> int:
    """How many of ``users`` have friends-of-friends pages remembered in Redis (the API keeps
    them five minutes, domain.social); with ``forget``, drop them first so that a run starts
    cold and counts only what it computed itself."""
    client = redis_client(settings)
    try:
        keys = [wire.friends_of_friends_key(u) for u in users]
        if forget:
            for start in range(0, len(keys), 500):
                client.delete(*keys[start : start + 500])
            return 0
        return sum(
            int(client.exists(*keys[start : start + 500])) for start in range(0, len(keys), 500)
        )
    finally:
        client.close()


def unplant_suggestions(settings: Settings, users: list[int]) -> None:
    if not users:
        return
    engine = create_engine(settings.mysql_url(0))
    try:
        with engine.begin() as conn:
            conn.execute(
                text("DELETE FROM friend_suggestions WHERE user_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                ),
                {"ids": users},
            )
    finally:
        engine.dispose()


def seed_history(settings: Settings, rooms: list[int], per_room: int, author: int) -> int:
    """``per_room`` messages in each bench room, with seq 1..per_room, by the bulk loader."""
    generator = IdGenerator(BENCH_HISTORY_GENERATOR)
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    rows = [
        ChatRow(room, seq, generator.next_id(), author, f"bench-{seq}", f"history {seq}", now)
        for room in rooms
        for seq in range(1, per_room + 1)
    ]
    with BulkLoader(settings) as loader:
        return loader.chat_messages(rows)


def drop_history(settings: Settings, rooms: list[int]) -> None:
    router = ShardRouter(settings)
    try:
        delete_chat_messages(router, rooms)
    finally:
        router.dispose()


@dataclass
class Report:
    command: str
    params: dict[str, int]
    metrics: dict[str, dict[str, float]]
    errors: dict[str, dict[int, int]]
    throughput: dict[str, float]
    api_cpu_seconds: float | None
    generator_cpu_seconds: float | None = None
    # The other services' CPU over the same stretch (the database's share of the work, and
    # whatever else was running on the box).
    stack_cpu_seconds: dict[str, float] = field(default_factory=dict)
    # Each kind of operation run alone (--per-operation): its requests/s and API CPU per request.
    per_operation: dict[str, dict[str, float]] = field(default_factory=dict)
    quantiles: dict[str, list[float]] = field(default_factory=dict)
    kind: str = "api_latency"
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())


def _settled(settings: Settings, *, below: float = 0.15, timeout_s: float = 30) -> float:
    """Wait until the stack has worked off the mixed load (the Flink jobs reading its room
    events, MariaDB's purge): the TaskManager and the MariaDB shards together under ``below``
    of a core over a second. The alone phase right after a heavy load measured up to 7 ms at
    p95 where the same read on a quiet box takes 2. Returns the seconds waited."""
    processes = [
        p for name in ("flink-taskmanager", "mariadb-0", "mariadb-1")
        if (p := stack_process(settings, name)) is not None
    ]  # fmt: skip
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        before = sum(tree_usage(p)[0] for p in processes)
        time.sleep(1)
        if sum(tree_usage(p)[0] for p in processes) - before < below:
            break
    return time.monotonic() - started


def _alone(settings: Settings, path: str, tokens: list[str], samples: Samples) -> None:
    """One request at a time, nothing else in flight, over one kept-alive connection of the
    standard library's client: about 0.1 ms of client time per request, where httpx's async
    client adds a millisecond or two, which at this scale is most of what is measured."""
    conn = http.client.HTTPConnection(settings.api_host, settings.api_port, timeout=30)
    try:
        for token in tokens:
            started = time.perf_counter()
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            response.read()
            samples.record("friend_suggestions_alone", started, response.status, {200})
    finally:
        conn.close()


async def _create_rooms(client: httpx.AsyncClient, auth: dict[str, str], count: int) -> list[int]:
    rooms = []
    for n in range(count):
        created = await client.post(
            "/rooms",
            json={"name": f"bench room {n}", "topic": "bench", "capacity": 500},
            headers=auth,
        )
        created.raise_for_status()
        rooms.append(int(created.json()["id"]))
    return rooms


@dataclass
class Share:
    """One generator process's part of the run: its operations and everything they need."""

    index: int
    host: str
    port: int
    concurrency: int
    plan: list[str]
    tokens: dict[int, str]
    users: list[int]
    friend_of: dict[int, int]
    rooms: list[int]
    history: int
    scored: list[int]
    unscored: list[int]
    scored_share: float
    seed: int


@dataclass
class ShareResult:
    samples: Samples
    began: float  # time.monotonic(): one clock for every process on the machine
    ended: float
    cpu_s: float
    reconnects: int  # kept-alive connections the server had closed while idle


async def _drive(share: Share, start: Any, done: Any) -> ShareResult:
    """Run one share's operations with ``share.concurrency`` kept-alive connections."""
    rng = random.Random(share.seed * 1000 + share.index)
    samples = Samples()
    auth = {
        uid: f"authorization: Bearer {token}\r\n".encode() for uid, token in share.tokens.items()
    }
    scored_set = set(share.scored)
    connections = [await Connection.open(share.host, share.port) for _ in range(share.concurrency)]

    async def timed(conn: Connection, name: str, method: str, target: str, headers: bytes) -> None:
        started = time.perf_counter()
        status, _ = await conn.request(method, target, headers)
        samples.record(name, started, status, {200})

    async def one(conn: Connection, kind: str) -> None:
        uid = rng.choice(share.users)
        if kind == "room":
            room = rng.choice(share.rooms)
            await timed(conn, "room_join", "POST", f"/rooms/{room}/join", auth[uid])
            if share.history:
                before = rng.randint(2, share.history + 1)
                target = f"/rooms/{room}/messages?before_seq={before}&limit=50"
                await timed(conn, "history_page", "GET", target, auth[uid])
            await timed(conn, "room_leave", "POST", f"/rooms/{room}/leave", auth[uid])
        elif kind == "friends":
            await timed(conn, "friend_list", "GET", f"/users/{uid}/friends?limit=50", auth[uid])
        elif kind == "mutual":
            target = f"/users/{uid}/friends/mutual/{share.friend_of[uid]}?limit=50"
            await timed(conn, "mutual_friends", "GET", target, auth[uid])
        else:
            # The same operation; a scored user reads stored rows, the rest the fallback.
            use_scored = bool(share.scored) and (
                not share.unscored or rng.random() < share.scored_share
            )
            uid = rng.choice(share.scored if use_scored else share.unscored)
            name = "friend_suggestions" if uid in scored_set else "friends_of_friends"
            await timed(conn, name, "GET", "/friends/suggestions?limit=20", auth[uid])

    queue = list(reversed(share.plan))

    async def worker(conn: Connection) -> None:
        while queue:
            await one(conn, queue.pop())
            with done.get_lock():
                done.value += 1

    start.wait()
    cpu_before = sum(os.times()[:2])
    began = time.monotonic()
    await asyncio.gather(*(worker(conn) for conn in connections))
    ended = time.monotonic()
    for conn in connections:
        conn.close()
    cpu_s = sum(os.times()[:2]) - cpu_before
    return ShareResult(samples, began, ended, cpu_s, sum(c.reconnects for c in connections))


def _drive_process(share: Share, start: Any, done: Any, results: Any) -> None:
    """A generator process: its own event loop (uvloop, as the server's), its share, its CPU."""
    import uvloop  # noqa: PLC0415 - only the generator processes need it

    try:
        results.put(uvloop.run(_drive(share, start, done)))
    except BaseException as error:
        results.put(error)
        raise


async def _collect(children: list[Any], results: Any, done: Any, total: int) -> list[ShareResult]:
    """Every generator process's result, with a progress bar over their shared counter."""
    finished: list[ShareResult] = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("requests", total=total)
        while len(finished) < len(children):
            try:
                got = await asyncio.to_thread(results.get, True, 0.25)
            except queue.Empty:
                progress.update(task, completed=done.value)
                if not any(child.is_alive() for child in children) and results.empty():
                    raise SystemExit("error: a load-generator process died") from None
                continue
            if isinstance(got, BaseException):
                raise SystemExit(f"error: a load-generator process failed: {got!r}")
            finished.append(got)
            progress.update(task, completed=done.value)
    return finished


OPERATION_REQUESTS = {
    "room": "join, history page, leave",
    "friends": "friend list",
    "mutual": "mutual friends",
    "fof": "suggestions: stored, or friends of friends",
}


async def _drive_plan(
    settings: Settings, share: Share, plan: list[str], processes: int
) -> tuple[list[ShareResult], float | None, dict[str, float]]:
    """Run ``plan`` with ``share.concurrency`` connections over ``processes`` processes."""
    in_flight = [len(range(n, share.concurrency, processes)) for n in range(processes)]
    context = multiprocessing.get_context("spawn")
    start, done, results = context.Event(), context.Value("i", 0), context.Queue()
    children = [
        context.Process(
            target=_drive_process,
            args=(
                dataclasses.replace(share, index=n, concurrency=in_flight[n], plan=part),
                start,
                done,
                results,
            ),
            name=f"api-load-{n}",
        )
        for n, part in enumerate(_split(plan, processes))
    ]
    return await _run_children(settings, children, start, done, results, len(plan))


async def _run_children(
    settings: Settings, children: list[Any], start: Any, done: Any, results: Any, total: int
) -> tuple[list[ShareResult], float | None, dict[str, float]]:
    """Start the generator processes, open the clock once they are connected, and return
    their results with the API's CPU seconds and every other service's over the run."""
    for child in children:
        child.start()
    api_process = stack_process(settings, "api")
    others = {
        name: process
        for name in STACK_PROCESSES
        if (process := stack_process(settings, name)) is not None
    }
    # Let every child import and connect before the clock starts.
    await asyncio.sleep(2.0)
    cpu_before = tree_usage(api_process)[0] if api_process else None
    others_before = {name: tree_usage(process)[0] for name, process in others.items()}
    start.set()
    finished = await _collect(children, results, done, total)
    cpu_after = tree_usage(api_process)[0] if api_process else None
    others_cpu = {
        name: round(tree_usage(process)[0] - others_before[name], 2)
        for name, process in others.items()
    }
    for child in children:
        child.join(timeout=10)
    api_cpu = (
        round(cpu_after - cpu_before, 2)
        if cpu_before is not None and cpu_after is not None
        else None
    )
    return finished, api_cpu, others_cpu


def _merge(finished: list[ShareResult], samples: Samples) -> None:
    for result in finished:
        for name, values in result.samples.latencies_ms.items():
            samples.latencies_ms.setdefault(name, []).extend(values)
        for name, statuses in result.samples.errors.items():
            bucket = samples.errors.setdefault(name, {})
            for status, count in statuses.items():
                bucket[status] = bucket.get(status, 0) + count


def _split(items: list[str], parts: int) -> list[list[str]]:
    return [items[n::parts] for n in range(parts)]


async def run(args: argparse.Namespace, settings: Settings) -> Report:
    users, friend_of, population, friendship_rows = sample_users(settings, args.users, args.seed)
    if len(users) < 10:
        raise SystemExit(
            "error: the database holds almost no friendships; load a population first:\n"
            "  .venv/bin/python -m bench.populate --users 100000 --avg-degree 50"
        )
    rng = random.Random(args.seed)
    tokens = {uid: create_token(settings, uid)[0] for uid in users}
    to_score = rng.sample(users, round(len(users) * args.scored_share))
    already, planted = plant_suggestions(settings, to_score) if to_score else ([], [])
    scored = already + planted
    unscored = sorted(set(users) - set(scored))
    remembered_fallbacks(settings, unscored, forget=True)
    base = f"http://{settings.api_host}:{settings.api_port}"
    samples = Samples()

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        owner = users[0]
        owner_auth = {"Authorization": f"Bearer {tokens[owner]}"}
        rooms = await _create_rooms(client, owner_auth, args.rooms)
        seeded = seed_history(settings, rooms, args.history, owner) if args.history else 0

        kinds = ["room", "friends", "mutual", "fof"]
        plan = [kinds[n % len(kinds)] for n in range(args.requests)]
        rng.shuffle(plan)
        processes = max(1, min(args.processes, args.concurrency))
        share = Share(
            index=0,
            host=settings.api_host,
            port=settings.api_port,
            concurrency=args.concurrency,
            plan=[],
            tokens=tokens,
            users=users,
            friend_of=friend_of,
            rooms=rooms,
            history=args.history,
            scored=scored,
            unscored=unscored,
            scored_share=args.scored_share,
            seed=args.seed,
        )
        finished, api_cpu, others_cpu = await _drive_plan(settings, share, plan, processes)
        elapsed = max(r.ended for r in finished) - min(r.began for r in finished)
        _merge(finished, samples)
        fallbacks_computed = remembered_fallbacks(settings, unscored)
        total = sum(len(v) for v in samples.latencies_ms.values())
        generator_cpu = round(sum(r.cpu_s for r in finished), 2)
        reconnects = sum(r.reconnects for r in finished)

        per_operation: dict[str, dict[str, float]] = {}
        for kind in kinds if args.per_operation else []:
            alone, cpu, others = await _drive_plan(
                settings, share, [kind] * args.per_operation, processes
            )
            requests = sum(len(v) for r in alone for v in r.samples.latencies_ms.values())
            seconds = max(r.ended for r in alone) - min(r.began for r in alone)
            database = sum(v for name, v in others.items() if name.startswith("mariadb"))
            per_operation[kind] = {
                "requests": requests,
                "requests_per_s": round(requests / seconds, 1),
                "api_cpu_ms_per_request": round(1000 * (cpu or 0.0) / max(1, requests), 3),
                # Both MariaDB shards over the same stretch: whatever else used them shows too.
                "mariadb_cpu_ms_per_request": round(1000 * database / max(1, requests), 3),
            }

        if scored:
            picks = [tokens[rng.choice(scored)] for _ in range(ALONE_REQUESTS)]
            await asyncio.to_thread(_settled, settings)
            await asyncio.to_thread(
                _alone, settings, "/friends/suggestions?limit=20", picks, samples
            )

        for room in rooms:
            await client.delete(f"/rooms/{room}", headers=owner_auth)
        if seeded:
            drop_history(settings, rooms)
    unplant_suggestions(settings, planted)

    operations = len(plan)
    return Report(
        command="python -m bench.api_latency " + " ".join(args.argv),
        params={
            "requests": args.requests,
            "concurrency": args.concurrency,
            "processes": processes,
            "rooms": args.rooms,
            "history_per_room": args.history,
            "sampled_users": len(users),
            "scored_users": len(scored),
            "planted_users": len(planted),
            # Friends-of-friends pages computed in the mixed load; the other fallback requests
            # were answered from the five-minute cache (the run starts with it empty).
            "fallbacks_computed": fallbacks_computed,
            "population_users": population,
            "friendship_rows": friendship_rows,
            "seed": args.seed,
        },
        metrics={name: summarise(v) for name, v in sorted(samples.latencies_ms.items())},
        errors=samples.errors,
        throughput={
            # Every timed HTTP request (a room operation is three: join, history, leave), as
            # the report has always counted; the plan's operations beside it.
            "requests_per_s": round(total / elapsed, 1),
            "operations_per_s": round(operations / elapsed, 1),
            "reconnects": reconnects,
            "elapsed_s": round(elapsed, 2),
        },
        api_cpu_seconds=api_cpu,
        generator_cpu_seconds=generator_cpu,
        stack_cpu_seconds=others_cpu,
        per_operation=per_operation,
        quantiles={name: quantiles(v) for name, v in sorted(samples.latencies_ms.items())},
    )


def _fallbacks_line(report: Report) -> str:
    computed = report.params.get("fallbacks_computed")
    asked = report.metrics.get("friends_of_friends", {}).get("count")
    if computed is None or not asked:
        return ""
    return (
        f" Friends of friends: {computed:,} pages computed for {asked:,.0f} requests, the rest "
        "answered from the API's five-minute cache (empty at the start of the run)."
    )


def _per_request_ms(cpu_s: float | None, requests: int) -> str:
    return "-" if cpu_s is None or not requests else f"{1000 * cpu_s / requests:.2f}"


def write_report(report: Report) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    json_path = RESULTS / f"api-{stamp}.json"
    json_path.write_text(json.dumps(asdict(report), indent=2))
    params = report.params
    total = sum(int(m["count"]) for name, m in report.metrics.items() if "_alone" not in name)
    lines = [
        f"# API latency, {report.created_at}",
        "",
        f"`{report.command}`",
        "",
        f"Population: {params['population_users']:,} users, {params['friendship_rows']:,} "
        f"friendship rows; {params['requests']:,} operations with {params['concurrency']} in "
        f"flight, as {params['sampled_users']} users over {params['rooms']} rooms.",
        "",
        f"{params.get('scored_users', 0)} of them have stored suggestions "
        f"({params.get('planted_users', 0)} planted for the run)." + _fallbacks_line(report),
        "",
        "| operation | count | p50 ms | p95 ms | p99 ms | max ms | target (p95) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in report.metrics.items():
        target = TARGETS_MS.get(name)
        verdict = f"< {target:g} ms: {'pass' if m['p95'] < target else 'FAIL'}" if target else "-"
        lines.append(
            f"| {name} | {m['count']:.0f} | {m['p50']} | {m['p95']} | {m['p99']} | {m['max']} "
            f"| {verdict} |"
        )
    lines += [
        "",
        f"Throughput: {report.throughput['requests_per_s']} requests/s "
        f"({report.throughput.get('operations_per_s', '-')} operations/s; a room operation is "
        f"three requests) over {report.throughput['elapsed_s']} s.",
        "",
        f"CPU: the API (every worker) {report.api_cpu_seconds} s, "
        f"{_per_request_ms(report.api_cpu_seconds, total)} ms per request; the load generator "
        f"({params.get('processes', 1)} processes) {report.generator_cpu_seconds} s, "
        f"{_per_request_ms(report.generator_cpu_seconds, total)} ms per request. "
        f"Errors: {report.errors or 'none'}.",
        "",
        *(
            [
                "Each kind of operation alone (`--per-operation`), same connections:",
                "",
                "| operation | requests | requests/s | API CPU per request ms "
                "| MariaDB CPU per request ms |",
                "|---|---|---|---|---|",
                *(
                    f"| {kind} ({OPERATION_REQUESTS[kind]}) | {m['requests']:.0f} "
                    f"| {m['requests_per_s']} | {m['api_cpu_ms_per_request']} "
                    f"| {m.get('mariadb_cpu_ms_per_request', '-')} |"
                    for kind, m in report.per_operation.items()
                ),
                "",
            ]
            if report.per_operation
            else []
        ),
        "The other services over the same stretch (CPU s, cores):",
        "",
        "| process | CPU s | cores |",
        "|---|---|---|",
        *(
            f"| {name} | {cpu} | {cpu / report.throughput['elapsed_s']:.3f} |"
            for name, cpu in report.stack_cpu_seconds.items()
        ),
    ]
    md_path = json_path.with_suffix(".md")
    md_path.write_text("\n".join(lines) + "\n")
    return md_path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--requests", type=int, default=3000, help="operations in all (default 3000)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=32, help="requests in flight (default 32)"
    )
    parser.add_argument(
        "--users", type=int, default=2000, help="distinct users to act as (default 2000)"
    )
    parser.add_argument(
        "--rooms", type=int, default=100, help="rooms to join and leave (default 100)"
    )
    parser.add_argument(
        "--history",
        type=int,
        default=500,
        help="messages seeded per room for history pages; 0 skips them (default 500)",
    )
    parser.add_argument(
        "--scored-share",
        type=float,
        default=0.5,
        help="share of the sampled users given stored suggestions (default 0.5)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="load-generator processes, each with its share of the connections (default 2)",
    )
    parser.add_argument(
        "--per-operation",
        type=int,
        default=0,
        help="after the mixed load, run each kind of operation alone this many times and "
        "report its API CPU per request (default 0: not run)",
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    args = parser.parse_args(argv)
    if args.history < 0:
        parser.error("--history must be 0 or more")
    if not 0.0 <= args.scored_share <= 1.0:
        parser.error("--scored-share must be between 0 and 1")
    for name in ("requests", "concurrency", "users", "rooms", "processes"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    args.argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    report = asyncio.run(run(args, get_settings()))
    path = write_report(report)
    console.print(path.read_text())
    console.print(f"written: {path} and {path.with_suffix('.json')}")


if __name__ == "__main__":
    main()
