"""The engagement rollups against the real MySQL shards, Dagster and InfluxDB: a past month of
activity, planted so that every number is known, rolled up, written, and read back through
the Flux the dashboards use (core/engagement.py)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from dagster import DagsterInstance, materialize
from influxdb_client.client.influxdb_client import InfluxDBClient
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.engagement import read_daily, read_retention
from core.settings import Settings
from graph_jobs.definitions import resources
from graph_jobs.engagement_assets import engagement_daily, engagement_retention

pytestmark = pytest.mark.integration

DAY = date(2026, 2, 11)  # a Wednesday, long before anything else the suite writes
COHORT = date(2026, 2, 2)  # the Monday of the week the planted users signed up
WINDOW = (date(2026, 1, 1), date(2026, 3, 31))


def _at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour)  # naive UTC, as MySQL stores it


def _influxql(settings: Settings, query: str) -> None:
    # InfluxDB 1.8's v2 API has no delete; its 1.x /query endpoint does.
    response = httpx.post(
        f"{settings.influx_url}/query",
        params={
            "db": settings.influx_database,
            "q": query,
            "u": settings.influx_user,
            "p": settings.influx_password.get_secret_value(),
        },
        timeout=10,
    )
    response.raise_for_status()


def _forget_points(settings: Settings) -> None:
    start, stop = (f"'{d.isoformat()}T00:00:00Z'" for d in WINDOW)
    for measurement in ("engagement", "retention"):
        query = f'DELETE FROM "{measurement}" WHERE time >= {start} AND time < {stop}'  # noqa: S608
        _influxql(settings, query)


@pytest.fixture
def planted(mysql: ShardRouter, settings: Settings) -> Iterator[dict[str, int]]:
    """Users a1..a3 sign up in the week of 2 February, b1 on 20 January; their activity:

    - a1: two messages on DAY on shard 0 and one on shard 1;
    - a2: a group post on DAY;
    - a3: a message three days before (in the week, not the day);
    - b1: a message twenty days before (in the month only);
    - old: a message forty days before (outside every window).
    """
    rng = random.Random()
    ids = {name: rng.randrange(10**15, 10**16) for name in ("a1", "a2", "a3", "b1", "old")}
    signup = {
        "a1": _at(COHORT),
        "a2": _at(COHORT + timedelta(days=1)),
        "a3": _at(COHORT + timedelta(days=2)),
        "b1": _at(date(2026, 1, 20)),
        "old": _at(date(2025, 12, 1)),
    }
    messages = [
        (0, "a1", _at(DAY, 9)),
        (0, "a1", _at(DAY, 10)),
        (1, "a1", _at(DAY, 23)),
        (0, "a3", _at(DAY - timedelta(days=3))),
        (1, "b1", _at(DAY - timedelta(days=20))),
        (0, "old", _at(DAY - timedelta(days=40))),
    ]
    room = rng.randrange(10**15, 10**16)
    _forget_points(settings)
    with mysql.directory_engine().begin() as conn:
        for name, user_id in ids.items():
            conn.execute(
                text(
                    "INSERT INTO users (id, username, display_name, password_hash, created_at, "
                    "updated_at) VALUES (:id, :u, :u, 'x', :at, :at)"
                ),
                {"id": user_id, "u": f"eng{user_id}"[:32], "at": signup[name]},
            )
        conn.execute(
            text(
                "INSERT INTO group_posts (id, group_id, author_id, body, created_at) "
                "VALUES (:id, :g, :a, 'notes', :at)"
            ),
            {"id": rng.randrange(10**15, 10**16), "g": room, "a": ids["a2"], "at": _at(DAY, 15)},
        )
    for seq, (shard, name, at) in enumerate(messages, start=1):
        with mysql.engine(shard).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO chat_messages (room_id, seq, message_id, sender_id, "
                    "client_msg_id, body, created_at, stored_at) "
                    "VALUES (:room, :seq, :mid, :sender, :cmid, 'hi', :at, :at)"
                ),
                {
                    "room": room,
                    "seq": seq,
                    "mid": rng.randrange(10**15, 10**16),
                    "sender": ids[name],
                    "cmid": f"eng-{seq}",
                    "at": at,
                },
            )
    yield ids
    for engine in mysql.all_engines():
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM chat_messages WHERE room_id = :r"), {"r": room})
    with mysql.directory_engine().begin() as conn:
        conn.execute(text("DELETE FROM group_posts WHERE group_id = :g"), {"g": room})
        conn.execute(
            text("DELETE FROM users WHERE id IN :ids").bindparams(), {"ids": list(ids.values())}
        )
    _forget_points(settings)


@pytest.mark.usefixtures("planted")
def test_a_day_is_rolled_up_and_rewritten_in_place(
    influx: InfluxDBClient, settings: Settings
) -> None:
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):  # a re-run (a backfill) overwrites the same point
            result = materialize(
                [engagement_daily],
                resources=resources(),
                partition_key=DAY.isoformat(),
                instance=instance,
            )
            assert result.success
    [materialised] = result.asset_materializations_for_node("engagement_daily")
    assert materialised.metadata["dau"].value == 2
    [day] = read_daily(influx, settings.influx_bucket, *WINDOW)
    assert day.day == DAY
    assert (day.dau, day.wau, day.mau) == (2, 3, 4)
    assert (day.messages, day.group_posts, day.room_joins) == (3, 1, 0)
    assert day.messages_per_active_user == 1.5
    assert day.complete  # the day ended long ago


@pytest.mark.usefixtures("planted")
def test_signup_cohorts_are_followed_week_by_week(
    influx: InfluxDBClient, settings: Settings
) -> None:
    as_of = datetime(2026, 2, 25, 12, tzinfo=UTC)  # the Wednesday of the cohort's week 3
    result = materialize(
        [engagement_retention],
        resources=resources(),
        run_config={"ops": {"engagement_retention": {"config": {"as_of": as_of.isoformat()}}}},
    )
    assert result.success
    cells = read_retention(influx, settings.influx_bucket, *WINDOW)
    ours = [
        (c.weeks_after, c.cohort_size, c.retained, c.complete) for c in cells if c.cohort == COHORT
    ]
    assert ours == [
        (0, 3, 1, True),  # a3 wrote in the signup week
        (1, 3, 2, True),  # a1 and a2 in week one
        (2, 3, 0, True),
        (3, 3, 0, False),  # still running on 25 February
    ]
    january = [c for c in cells if c.cohort == date(2026, 1, 19)]
    assert january[0].cohort_size == 1
    assert january[0].retained == 1  # b1, two days after signing up
