"""Engagement rollups computed from MySQL: daily active users and activity, and weekly
retention cohorts of new users (written to InfluxDB by graph_jobs/engagement_assets.py; the
points are defined in core/engagement.py).

A user is active on a day when they did something others can see: sent a chat message
(``chat_messages``, every shard), posted in a group (``group_posts``, the directory) or joined
a room they are still in (``room_participants``, every shard; a join whose room was left since
is gone from MySQL and is not counted, so the join counts are a floor).

Each source is read with one aggregate query per shard over the whole window, grouped by user
(the senders' index, ``idx_chat_messages_sender``, is (sender_id, created_at)); the rows, one
per user active in the window, are merged across shards here. That is exact, and fine up to a
few million monthly users; beyond that, per-day HyperLogLog sketches merged per window are the
way (docs/graph.md, "Engagement rollups").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text

from core.engagement import (
    MONTH_DAYS,
    SETTLE,
    WEEK_DAYS,
    DailyEngagement,
    RetentionCell,
    midnight,
    week_start,
)

# (table, user column, time column, which engines): the activity a user can be seen doing.
SOURCES: tuple[tuple[str, str, str, str], ...] = (
    ("chat_messages", "sender_id", "created_at", "shards"),
    ("group_posts", "author_id", "created_at", "directory"),
    ("room_participants", "user_id", "joined_at", "shards"),
)
KINDS = ("messages", "group_posts", "room_joins")


@dataclass
class Activity:
    """One user's activity in a window: counts on the day itself, and whether they were active
    in the trailing week and month that end with it."""

    today: dict[str, int]
    week: bool = False


def _window_query(table: str, user: str, at: str) -> str:
    # Names come from SOURCES above, never from input.
    return (
        f"SELECT {user} AS user_id, "  # noqa: S608
        f"SUM({at} >= :day) AS today, SUM({at} >= :week) AS week "
        f"FROM {table} WHERE {at} >= :month AND {at} < :end GROUP BY {user}"
    )


def merge_activity(
    per_source: Iterable[tuple[str, Iterable[tuple[int, int, int]]]],
) -> dict[int, Activity]:
    """Rows of (user, events on the day, events in the week) per kind, from any number of
    shards, into one Activity per user seen in the month."""
    users: dict[int, Activity] = {}
    for kind, rows in per_source:
        for user_id, today, week in rows:
            activity = users.setdefault(int(user_id), Activity(dict.fromkeys(KINDS, 0)))
            activity.today[kind] += int(today or 0)
            activity.week = activity.week or bool(week)
    return users


def summarise_day(day: date, users: dict[int, Activity], *, now: datetime) -> DailyEngagement:
    return DailyEngagement(
        day=day,
        dau=sum(1 for a in users.values() if any(a.today.values())),
        wau=sum(1 for a in users.values() if a.week),
        mau=len(users),
        messages=sum(a.today["messages"] for a in users.values()),
        group_posts=sum(a.today["group_posts"] for a in users.values()),
        room_joins=sum(a.today["room_joins"] for a in users.values()),
        complete=now >= midnight(day + timedelta(days=1)) + SETTLE,
    )


def daily_engagement(
    shards: Sequence[Engine], directory: Engine, day: date, *, now: datetime | None = None
) -> DailyEngagement:
    """DAU, WAU and MAU for ``day`` (UTC), and its messages, posts and joins."""
    now = now or datetime.now(UTC)
    end = midnight(day + timedelta(days=1))
    params = {
        "day": _naive(midnight(day)),
        "week": _naive(end - timedelta(days=WEEK_DAYS)),
        "month": _naive(end - timedelta(days=MONTH_DAYS)),
        "end": _naive(end),
    }
    per_source: list[tuple[str, list[tuple[int, int, int]]]] = []
    for kind, (table, user, at, where) in zip(KINDS, SOURCES, strict=True):
        for engine in shards if where == "shards" else [directory]:
            with engine.connect() as conn:
                rows = conn.execute(text(_window_query(table, user, at)), params).all()
            per_source.append((kind, [(r.user_id, r.today, r.week) for r in rows]))
    return summarise_day(day, merge_activity(per_source), now=now)


def retention_cells(
    signups: Iterable[tuple[int, datetime]],
    active_weeks: Iterable[tuple[int, date]],
    *,
    cohorts: Sequence[date],
    weeks: int,
    now: datetime,
) -> list[RetentionCell]:
    """For each cohort (a Monday) and each week 0..``weeks`` after it: how many of the users
    who signed up that week were active in that week. Week 0 is the signup week itself."""
    cohort_of: dict[int, date] = {}
    wanted = set(cohorts)
    for user_id, created in signups:
        start = week_start(created.date())
        if start in wanted:
            cohort_of[user_id] = start
    active: dict[date, set[tuple[int, int]]] = defaultdict(set)
    for user_id, monday in active_weeks:
        cohort = cohort_of.get(user_id)
        if cohort is not None and monday >= cohort:
            active[cohort].add((user_id, (monday - cohort).days // WEEK_DAYS))
    sizes: dict[date, int] = defaultdict(int)
    for cohort in cohort_of.values():
        sizes[cohort] += 1
    cells = []
    for cohort in sorted(wanted):
        for after in range(weeks + 1):
            week_begins = cohort + timedelta(days=WEEK_DAYS * after)
            if midnight(week_begins) > now:
                break  # a week that has not started has nothing to say yet
            ends = midnight(week_begins + timedelta(days=WEEK_DAYS))
            retained = sum(1 for _, a in active[cohort] if a == after)
            cells.append(
                RetentionCell(
                    cohort=cohort,
                    weeks_after=after,
                    cohort_size=sizes[cohort],
                    retained=retained,
                    complete=now >= ends + SETTLE,
                )
            )
    return cells


_SIGNUPS = "SELECT id, created_at FROM users WHERE created_at >= :start AND created_at < :end"


def _weeks_query(table: str, user: str, at: str) -> str:
    # DATE(at) - WEEKDAY(at): the Monday of the row's week, computed in MariaDB so that one
    # row per user and active week comes back.
    return (
        f"SELECT DISTINCT {user} AS user_id, "  # noqa: S608
        f"DATE({at}) - INTERVAL WEEKDAY({at}) DAY AS monday "
        f"FROM {table} WHERE {at} >= :start AND {at} < :end"
    )


def retention(
    shards: Sequence[Engine],
    directory: Engine,
    *,
    cohorts: int,
    weeks: int,
    now: datetime | None = None,
) -> list[RetentionCell]:
    """The last ``cohorts`` signup weeks (the current one included), each followed for up to
    ``weeks`` weeks."""
    now = now or datetime.now(UTC)
    latest = week_start(now.date())
    mondays = [latest - timedelta(days=WEEK_DAYS * i) for i in range(cohorts)]
    window = {"start": _naive(midnight(min(mondays))), "end": _naive(now)}
    with directory.connect() as conn:
        signups = [
            (r.id, r.created_at.replace(tzinfo=UTC))
            for r in conn.execute(
                text(_SIGNUPS),
                window,
            )
        ]
    seen: set[tuple[int, date]] = set()
    for table, user, at, where in SOURCES:
        for engine in shards if where == "shards" else [directory]:
            with engine.connect() as conn:
                rows = conn.execute(text(_weeks_query(table, user, at)), window)
                seen.update((int(r.user_id), _as_date(r.monday)) for r in rows)
    return retention_cells(signups, seen, cohorts=mondays, weeks=weeks, now=now)


def _naive(at: datetime) -> datetime:
    """MySQL's DATETIME columns hold UTC without a zone: compare with naive UTC."""
    return at.astimezone(UTC).replace(tzinfo=None)


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
