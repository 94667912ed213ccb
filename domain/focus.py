"""Focus stats: the time each user spends in study rooms per day, the part of it in the shared
timer's focus phases, the streak of days studied, and leaderboards (global and among friends;
this day, ISO week or month, UTC).

The sessions come from the metrics job (pipelines/metrics/focus.py: room-events -> MySQL's
``focus_sessions``, one row per join and its leave). A day is a UTC day; a session across
midnight is split at it, its focus time in proportion (the events carry the room's focus
clock at the join and the leave only). A session counts once it has ended: a user still in a
room has nothing for it yet.

A leaderboard counts the part of each session inside its period (focus in proportion), one
aggregate over ``idx_focus_sessions_left``. The global one keeps the top
``LEADERBOARD_SIZE``; both are cached in Redis for ``LEADERBOARD_TTL_S`` per period, so a
busy leaderboard costs one query a minute whatever its traffic, and pages read the cache.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from core import wire
from core.db.sharding import DIRECTORY_SHARD
from domain.resources import Resources
from domain.schemas.focus import (
    FocusDayOut,
    FocusOut,
    LeaderboardEntryOut,
    Period,
    Scope,
)

STREAK_MIN_SECONDS = 60  # a day counts towards a streak with a minute in a room
STREAK_LOOKBACK_DAYS = 366  # the longest streak reported
LEADERBOARD_SIZE = 1000  # the global leaderboard's length
LEADERBOARD_TTL_S = 60


@dataclass(frozen=True)
class Session:
    joined_at: datetime  # naive UTC, as MySQL returns it
    left_at: datetime
    seconds: int
    focus_seconds: int


def by_day(sessions: Iterable[Session]) -> dict[date, tuple[float, float]]:
    """Seconds in rooms and in focus per UTC day. A session across midnight is split at it;
    its focus time is shared in proportion to the time on each side."""
    days: dict[date, tuple[float, float]] = {}
    for session in sessions:
        length = (session.left_at - session.joined_at).total_seconds()
        start = session.joined_at
        while start < session.left_at:
            midnight = datetime.combine(start.date() + timedelta(days=1), time())
            end = min(midnight, session.left_at)
            part = (end - start).total_seconds()
            share = part / length if length > 0 else 0.0
            seconds, focus = days.get(start.date(), (0.0, 0.0))
            days[start.date()] = (seconds + part, focus + session.focus_seconds * share)
            start = end
    return days


def streak(days: dict[date, tuple[float, float]], today: date) -> int:
    """Consecutive days with at least a minute in a room, ending today, or yesterday when
    today has nothing yet (a streak is not lost before the day is over)."""
    day = today if days.get(today, (0.0, 0.0))[0] >= STREAK_MIN_SECONDS else today - timedelta(1)
    count = 0
    while days.get(day, (0.0, 0.0))[0] >= STREAK_MIN_SECONDS:
        count += 1
        day -= timedelta(days=1)
    return count


async def sessions_of(res: Resources, user_id: int, since: datetime) -> list[Session]:
    """The user's sessions that ended after ``since`` (naive UTC)."""
    rows = await res.db.fetch(
        DIRECTORY_SHARD,
        "SELECT joined_at, left_at, seconds, focus_seconds FROM focus_sessions"
        " WHERE user_id = %s AND joined_at >= %s",
        # A session is at most a day or so; one that started the day before still counts.
        (user_id, since - timedelta(days=2)),
    )
    return [Session(j, left, int(s), int(f)) for j, left, s, f in rows if left > since]


async def my_focus(
    res: Resources, user_id: int, days: int, now: datetime | None = None
) -> FocusOut:
    """The last ``days`` UTC days (today included), oldest first, and the current streak."""
    now = now or datetime.now(UTC)
    today = now.date()
    lookback = max(days, STREAK_LOOKBACK_DAYS)
    since = datetime.combine(today - timedelta(days=lookback - 1), time())
    per_day = by_day(await sessions_of(res, user_id, since))
    shown = [today - timedelta(days=n) for n in range(days - 1, -1, -1)]
    return FocusOut(
        user_id=user_id,
        days=[
            FocusDayOut(
                day=day,
                seconds=round(per_day.get(day, (0.0, 0.0))[0]),
                focus_seconds=round(per_day.get(day, (0.0, 0.0))[1]),
            )
            for day in shown
        ],
        streak_days=streak(per_day, today),
    )


def period_bounds(period: Period, now: datetime) -> tuple[datetime, datetime]:
    """The UTC day, ISO week (from Monday) or calendar month holding ``now``, as naive UTC."""
    day = now.astimezone(UTC).date() if now.tzinfo else now.date()
    if period == "day":
        start = day
        end = day + timedelta(days=1)
    elif period == "week":
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        start = day.replace(day=1)
        end = (start + timedelta(days=32)).replace(day=1)
    return datetime.combine(start, time()), datetime.combine(end, time())


# The seconds of a session inside [start, end), and its focus in proportion.
_INSIDE = (
    "GREATEST(0, TIMESTAMPDIFF(SECOND, GREATEST(s.joined_at, %(start)s),"
    " LEAST(s.left_at, %(end)s)))"
)
_LEADERBOARD_SQL = f"""
    SELECT t.user_id, u.username, t.seconds, t.focus_seconds
    FROM (
      SELECT s.user_id, SUM({_INSIDE}) AS seconds,
             SUM(s.focus_seconds * {_INSIDE} / GREATEST(s.seconds, 1)) AS focus_seconds
      FROM focus_sessions s
      WHERE s.left_at > %(start)s AND s.joined_at < %(end)s {{who}}
      GROUP BY s.user_id
    ) t JOIN users u ON u.id = t.user_id
    WHERE t.seconds > 0
    ORDER BY t.seconds DESC, t.user_id
    LIMIT {LEADERBOARD_SIZE}"""  # noqa: S608 - constants; the values are parameters
_GLOBAL_SQL = _LEADERBOARD_SQL.format(who="")
_FRIENDS_SQL = _LEADERBOARD_SQL.format(
    who="AND (s.user_id = %(me)s OR s.user_id IN"
    " (SELECT f.user2_id FROM friendships f WHERE f.user1_id = %(me)s))"
)


async def _ranked(
    res: Resources, scope: Scope, user_id: int, start: datetime, end: datetime
) -> list[LeaderboardEntryOut]:
    key = wire.leaderboard_key(scope, start.date().isoformat(), end.date().isoformat(), user_id)
    cached = await res.redis.get(key)
    if cached is not None:
        return [LeaderboardEntryOut.model_construct(**entry) for entry in json.loads(cached)]
    params = {"start": start, "end": end, "me": user_id}
    sql = _GLOBAL_SQL if scope == "global" else _FRIENDS_SQL
    rows = await res.db.fetch(DIRECTORY_SHARD, sql, params)
    entries = [
        LeaderboardEntryOut.model_construct(
            rank=rank,
            user_id=int(uid),
            username=str(name),
            seconds=round(float(seconds)),
            focus_seconds=round(float(focus)),
        )
        for rank, (uid, name, seconds, focus) in enumerate(rows, start=1)
    ]
    payload = json.dumps([entry.model_dump() for entry in entries])
    await res.redis.set(key, payload, ex=LEADERBOARD_TTL_S)
    return entries


async def leaderboard(
    res: Resources,
    user_id: int,
    period: Period,
    scope: Scope,
    *,
    after_rank: int,
    limit: int,
    now: datetime | None = None,
) -> tuple[datetime, datetime, list[LeaderboardEntryOut]]:
    """The period's bounds and the ranks after ``after_rank`` (``limit`` of them)."""
    start, end = period_bounds(period, now or datetime.now(UTC))
    ranked = await _ranked(res, scope, user_id, start, end)
    return start, end, ranked[after_rank : after_rank + limit]
