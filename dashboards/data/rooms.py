"""Rooms: the busiest rooms and the trending room topics and terms (the metrics job's windows
in InfluxDB, summed there), and one room's names, focus time and activity (MySQL and InfluxDB).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from influxdb_client.client.influxdb_client import InfluxDBClient
from sqlalchemy import bindparam, text

from core import metrics
from core.db.sharding import ShardRouter
from core.settings import Settings


@dataclass(frozen=True)
class Room:
    id: int
    name: str
    topic: str
    owner_id: int
    status: str


def rooms(mysql: ShardRouter, ids: list[int]) -> dict[int, Room]:
    """The rooms of ``ids`` that exist, each read from its own shard."""
    by_shard: dict[int, list[int]] = defaultdict(list)
    for room_id in ids:
        by_shard[mysql.shard_for_room(room_id)].append(room_id)
    found: dict[int, Room] = {}
    statement = text(
        "SELECT id, name, topic, owner_id, status FROM study_rooms WHERE id IN :ids"
    ).bindparams(bindparam("ids", expanding=True))
    for shard, wanted in by_shard.items():
        with mysql.engine(shard).connect() as db:
            for row in db.execute(statement, {"ids": wanted}):
                found[int(row[0])] = Room(
                    int(row[0]), str(row[1]), str(row[2]), int(row[3]), str(row[4])
                )
    return found


@dataclass(frozen=True)
class Ranked:
    key: str
    now: float  # the recent stretch
    before: float  # the stretch before it, as long

    @property
    def change(self) -> float | None:
        return None if not self.before else self.now / self.before - 1


def busiest(client: InfluxDBClient, settings: Settings, hours: int = 24) -> list[tuple[int, float]]:
    """Rooms by messages over the last ``hours`` hours, busiest first."""
    sums = metrics.sum_by_tag(
        client,
        settings.influx_bucket,
        metrics.ROOM_ACTIVITY,
        "1h",
        "messages",
        "room_id",
        start=f"-{hours}h",
    )
    return [(int(room), total) for room, total in sums.items()]


def trending_topics(client: InfluxDBClient, settings: Settings, minutes: int = 60) -> list[Ranked]:
    """Room topics with messages in the last ``minutes``, against the ``minutes`` before,
    most messages first: the metrics job's per-topic minutes (``topic_activity``, the topic
    as a tag: lower-cased, odd characters as underscores), summed in InfluxDB."""

    def per_topic(start: str, stop: str) -> dict[str, float]:
        return metrics.sum_by_tag(
            client,
            settings.influx_bucket,
            metrics.TOPIC_ACTIVITY,
            "1m",
            "messages",
            "topic",
            start=start,
            stop=stop,
        )

    now = per_topic(f"-{minutes}m", "now()")
    before = per_topic(f"-{2 * minutes}m", f"-{minutes}m")
    ranked = [Ranked(topic, total, before.get(topic, 0.0)) for topic, total in now.items() if total]
    return sorted(ranked, key=lambda r: (-r.now, r.key))


def trending_terms(client: InfluxDBClient, settings: Settings, minutes: int = 60) -> list[Ranked]:
    """The minutes' top terms (stop words and masked words already out), summed over the last
    ``minutes`` against the ``minutes`` before."""
    points = metrics.query(
        client,
        settings.influx_bucket,
        metrics.POPULAR_TERMS,
        "1m",
        start=f"-{2 * minutes}m",
        tag_keys=("rank",),
    )
    cut = datetime.now(UTC) - timedelta(minutes=minutes)
    terms: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for point in points:
        term = point.fields.get("term")
        if term:
            terms[str(term)][0 if point.start >= cut else 1] += float(point.fields.get("count", 0))
    ranked = [Ranked(term, pair[0], pair[1]) for term, pair in terms.items() if pair[0]]
    return sorted(ranked, key=lambda r: (-r.now, r.key))


@dataclass(frozen=True)
class Focus:
    sessions: int
    people: int
    seconds: int
    focus_seconds: int


def focus(mysql: ShardRouter, room_id: int, days: int = 7) -> Focus:
    """Stays in the room that ended in the last ``days`` days (focus_sessions, on the
    directory shard, by its room index)."""
    since = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    with mysql.directory_engine().connect() as db:
        row = db.execute(
            text(
                "SELECT COUNT(*), COUNT(DISTINCT user_id), COALESCE(SUM(seconds), 0),"
                " COALESCE(SUM(focus_seconds), 0) FROM focus_sessions"
                " WHERE room_id = :room AND left_at >= :since"
            ),
            {"room": room_id, "since": since},
        ).one()
    return Focus(int(row[0]), int(row[1]), int(row[2]), int(row[3]))


def activity(
    client: InfluxDBClient, settings: Settings, room_id: int, period: metrics.Period, start: str
) -> list[metrics.Point]:
    return metrics.query(
        client,
        settings.influx_bucket,
        metrics.ROOM_ACTIVITY,
        period,
        start=start,
        tags={"room_id": str(room_id)},
    )
