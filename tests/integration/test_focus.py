"""Focus stats against the real stack: room events with known times go through the metrics
job that `make up` started (pipelines/metrics/focus.py) into MySQL, and the API's numbers
must be the exact minutes of the script. A real join, focus timer and leave (and a room
closed on someone) go the same way from the API's own events."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis
from confluent_kafka import Producer
from sqlalchemy import text

from core import wire
from core.db.sharding import DIRECTORY_SHARD, ShardRouter
from core.events import ROOM_EVENTS, RoomJoined, RoomLeft
from core.ids import IdGenerator
from core.settings import Settings
from ingest.kafka import make_producer, produce_sync
from tests.conftest import require
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration]

MIN_MS = 60_000


def _sessions(mysql: ShardRouter, user_id: int) -> list[tuple[Any, ...]]:
    with mysql.engine(DIRECTORY_SHARD).connect() as conn:
        return [
            tuple(row)
            for row in conn.execute(
                text(
                    "SELECT room_id, joined_at, left_at, seconds, focus_seconds"
                    " FROM focus_sessions WHERE user_id = :u ORDER BY joined_at"
                ),
                {"u": user_id},
            )
        ]


def _until(
    check: Callable[[], list[tuple[Any, ...]]], count: int, timeout: float = 60
) -> list[tuple[Any, ...]]:
    deadline = time.monotonic() + timeout
    found = check()
    while len(found) < count and time.monotonic() < deadline:
        time.sleep(0.5)
        found = check()
    return found


def _stay(
    producer: Producer,
    room: int,
    user: int,
    joined: datetime,
    left: datetime,
    clock_in_ms: int,
    clock_out_ms: int,
) -> None:
    """A join and its leave, as the API publishes them, at the script's times."""
    produce_sync(
        producer,
        RoomJoined(
            room_id=room,
            user_id=user,
            participant_count=1,
            room_focus_ms=clock_in_ms,
            occurred_at=joined,
        ),
        topic=ROOM_EVENTS,
    )
    produce_sync(
        producer,
        RoomLeft(room_id=room, user_id=user, participant_count=0,
                 room_focus_ms=clock_out_ms, occurred_at=left),
        topic=ROOM_EVENTS,
    )  # fmt: skip


def test_a_scripted_week_gives_the_exact_minutes_and_the_streak(
    settings: Settings, people: People, mysql: ShardRouter
) -> None:
    require(settings, "kafka", "mariadb-0", "metrics")
    alice = people.register()
    room = IdGenerator(911).next_id()  # a room of the script's own
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    d2, d1 = today - timedelta(days=2), today - timedelta(days=1)
    # (joined, left, the room's focus clock at each, in minutes)
    script = [
        (d2 + timedelta(hours=10), d2 + timedelta(hours=10, minutes=25), 0, 20),
        # Across midnight: 30 minutes, 10 of them focus, half on each side.
        (d2 + timedelta(hours=23, minutes=45), d1 + timedelta(minutes=15), 20, 30),
        (d1 + timedelta(hours=9), d1 + timedelta(hours=9, minutes=45), 30, 75),
    ]
    producer = make_producer(settings)
    for joined, left, clock_in, clock_out in script:
        _stay(producer, room, alice.id, joined, left, clock_in * MIN_MS, clock_out * MIN_MS)
    rows = _until(lambda: _sessions(mysql, alice.id), 3)
    assert [(r[3], r[4]) for r in rows] == [
        (25 * 60, 20 * 60),
        (30 * 60, 10 * 60),
        (45 * 60, 45 * 60),
    ]
    assert [(r[1], r[2]) for r in rows] == [
        (j.replace(tzinfo=None), left.replace(tzinfo=None)) for j, left, _, _ in script
    ]

    stats = alice.http.get("/users/me/focus", params={"days": 3})
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["days"] == [
        {"day": d2.date().isoformat(), "seconds": 40 * 60, "focus_seconds": 25 * 60},
        {"day": d1.date().isoformat(), "seconds": 60 * 60, "focus_seconds": 50 * 60},
        {"day": today.date().isoformat(), "seconds": 0, "focus_seconds": 0},
    ]
    assert body["streak_days"] == 2  # today is not over: yesterday's streak holds
    # Replaying the same events writes the same rows, no more.
    for joined, left, clock_in, clock_out in script[:1]:
        _stay(producer, room, alice.id, joined, left, clock_in * MIN_MS, clock_out * MIN_MS)
    time.sleep(5)
    assert _sessions(mysql, alice.id) == rows
    bad = alice.http.get("/users/me/focus", params={"days": 91})
    assert bad.status_code == 422


def test_a_real_stay_with_a_focus_timer_and_a_room_closed_on_someone(
    settings: Settings, people: People, mysql: ShardRouter
) -> None:
    require(settings, "kafka", "mariadb-0", "metrics")
    alice, bob = people.register(), people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "focus", "topic": "t"}).json()["id"])
    assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
    started = alice.http.post(f"/rooms/{room_id}/timer", json={"action": "start", "phase": "focus"})
    assert started.status_code == 200, started.text
    time.sleep(3)
    assert bob.http.post(f"/rooms/{room_id}/leave").status_code == 200
    rows = _until(lambda: _sessions(mysql, bob.id), 1)
    assert len(rows) == 1
    room, _, _, seconds, focus_seconds = rows[0]
    assert room == room_id
    assert 2 <= seconds <= 10
    assert 2 <= focus_seconds <= seconds  # the timer ran focus the whole stay
    # Bob comes back; the owner closes the room on him: his stay ends there.
    assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
    time.sleep(1)
    assert alice.http.delete(f"/rooms/{room_id}").status_code in (200, 204)
    rows = _until(lambda: _sessions(mysql, bob.id), 2)
    assert len(rows) == 2
    assert 1 <= rows[1][3] <= 10


def _befriend(a: Person, b: Person) -> None:
    request = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert request.status_code == 201, request.text
    accepted = b.http.post(f"/friends/requests/{request.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text


def test_leaderboards_rank_the_day_among_friends_and_everyone(
    settings: Settings, people: People, mysql: ShardRouter, redis_conn: redis.Redis
) -> None:
    require(settings, "kafka", "mariadb-0", "metrics", "redis")
    alice, bob, carol = people.register(), people.register(), people.register()
    _befriend(alice, bob)  # carol is nobody's friend here
    now = datetime.now(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if (now - midnight).total_seconds() < 60:  # the stays must end today, after they start
        time.sleep(61 - (now - midnight).total_seconds())
        now = datetime.now(UTC)
    room = IdGenerator(912).next_id()
    producer = make_producer(settings)
    stays = {alice.id: 30, bob.id: 20, carol.id: 40}  # seconds, all of it focus
    for user, seconds in stays.items():
        left = now - timedelta(seconds=1)
        joined = left - timedelta(seconds=seconds)
        _stay(producer, room, user, joined, left, 0, seconds * 1000)
    for user in stays:
        assert len(_until(functools.partial(_sessions, mysql, user), 1)) == 1

    friends = alice.http.get(
        "/focus/leaderboard", params={"period": "day", "scope": "friends", "limit": 1}
    )
    assert friends.status_code == 200, friends.text
    first = friends.json()
    assert first["period"] == "day"
    assert first["starts_at"].startswith(midnight.date().isoformat())
    assert [
        (e["rank"], e["user_id"], e["seconds"], e["focus_seconds"]) for e in first["items"]
    ] == [(1, alice.id, 30, 30)]
    second = alice.http.get(
        "/focus/leaderboard",
        params={"period": "day", "scope": "friends", "limit": 1, "cursor": first["next_cursor"]},
    ).json()
    assert [(e["rank"], e["user_id"], e["seconds"]) for e in second["items"]] == [(2, bob.id, 20)]
    assert second["next_cursor"] is None  # carol is not a friend

    # Everyone: the cached board may be up to a minute old; drop it to read the new stays.
    start, end = midnight.date(), midnight.date() + timedelta(days=1)
    redis_conn.delete(wire.leaderboard_key("global", start.isoformat(), end.isoformat(), 0))
    board = alice.http.get(
        "/focus/leaderboard", params={"period": "day", "scope": "global", "limit": 200}
    ).json()
    ours = [(e["user_id"], e["seconds"]) for e in board["items"] if e["user_id"] in stays]
    assert ours == [(carol.id, 40), (alice.id, 30), (bob.id, 20)]
    ranks = [e["rank"] for e in board["items"]]
    assert ranks == list(range(1, len(ranks) + 1))
    week = alice.http.get("/focus/leaderboard", params={"period": "week", "scope": "friends"})
    assert [e["user_id"] for e in week.json()["items"]] == [alice.id, bob.id]
    refused = alice.http.get("/focus/leaderboard", params={"period": "year"})
    assert refused.status_code == 422
