"""Study-buddy ranking: pure functions, unit-tested without services.

A suggestion's score adds up what makes studying together work: shared subjects first, then
hours of free time that overlap in the same week (in UTC, so time zones are accounted for),
minus a small penalty for each hour of time-zone distance (beyond the overlap, a wide gap makes
ad-hoc sessions harder). Then the graph: people you already know of make a buddy request that
gets answered, so mutual friends count (with diminishing returns: the fifth mutual friend adds
less than the first), being friends already counts, and so does being in the same community of
friends (``graph_communities``).

The weights are product choices, not fitted: there are no accepted buddy pairs yet to fit them
on. The graph adds at most 20 points (``MAX_GRAPH_SCORE``), as much as two shared subjects or
ten hours of common free time: it lifts a near match and breaks ties, while subjects and time
still lead. Once buddy acceptances accumulate, the weights can be fitted the way the friend
recommender's are (graph_jobs/recommend.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

MINUTES_PER_WEEK = 7 * 24 * 60

SUBJECT_WEIGHT = 10.0
HOUR_WEIGHT = 2.0
MAX_COUNTED_HOURS = 20.0
TZ_PENALTY_PER_HOUR = 0.5
MUTUAL_WEIGHT = 3.0  # times log2(1 + mutual friends): 3 for one, 6 for three, 9 for seven
MAX_COUNTED_MUTUAL = 15
FRIEND_WEIGHT = 4.0
COMMUNITY_WEIGHT = 4.0


@dataclass(frozen=True)
class Slot:
    day: int  # 0 = Monday
    start: str  # "HH:MM", local time
    end: str


@dataclass(frozen=True)
class Candidate:
    user_id: int
    subjects: frozenset[str]
    timezone: str
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class Proximity:
    """Where a candidate sits from the user in the friendship graph."""

    mutual_friends: int = 0
    friends: bool = False
    same_community: bool | None = None  # None: the graph jobs have not placed one of the two


NO_PROXIMITY = Proximity()
MAX_GRAPH_SCORE = (
    MUTUAL_WEIGHT * math.log2(1 + MAX_COUNTED_MUTUAL) + FRIEND_WEIGHT + COMMUNITY_WEIGHT
)


def graph_score(proximity: Proximity) -> float:
    mutual = min(proximity.mutual_friends, MAX_COUNTED_MUTUAL)
    return (
        MUTUAL_WEIGHT * math.log2(1 + mutual)
        + (FRIEND_WEIGHT if proximity.friends else 0.0)
        + (COMMUNITY_WEIGHT if proximity.same_community else 0.0)
    )


@dataclass(frozen=True)
class Suggestion:
    user_id: int
    score: float
    shared_subjects: tuple[str, ...]
    common_hours: float
    timezone_gap_hours: float
    proximity: Proximity = NO_PROXIMITY

    @property
    def reason(self) -> str:
        subjects = len(self.shared_subjects)
        parts = [f"{subjects} shared subject{'s' if subjects != 1 else ''}"]
        parts.append(f"{self.common_hours:g} h of common free time")
        if self.timezone_gap_hours:
            parts.append(f"{self.timezone_gap_hours:g} h apart")
        if self.proximity.friends:
            parts.append("already friends")
        mutual = self.proximity.mutual_friends
        if mutual:
            parts.append(f"{mutual} mutual friend{'s' if mutual != 1 else ''}")
        if self.proximity.same_community:
            parts.append("in your community")
        return ", ".join(parts)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def utc_offset_minutes(timezone: str, at: datetime) -> int:
    offset = at.astimezone(ZoneInfo(timezone)).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def weekly_utc_intervals(
    slots: tuple[Slot, ...], timezone: str, at: datetime
) -> list[tuple[int, int]]:
    """Slots as [start, end) minutes of the UTC week, split where they wrap, merged."""
    offset = utc_offset_minutes(timezone, at)
    pieces: list[tuple[int, int]] = []
    for slot in slots:
        start = (slot.day * 1440 + _minutes(slot.start) - offset) % MINUTES_PER_WEEK
        length = _minutes(slot.end) - _minutes(slot.start)
        end = start + length
        if end <= MINUTES_PER_WEEK:
            pieces.append((start, end))
        else:
            pieces.extend([(start, MINUTES_PER_WEEK), (0, end - MINUTES_PER_WEEK)])
    pieces.sort()
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def overlap_minutes(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> int:
    total, i, j = 0, 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, end - start)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


def timezone_gap_hours(a: str, b: str, at: datetime) -> float:
    gap = abs(utc_offset_minutes(a, at) - utc_offset_minutes(b, at))
    return min(gap, 24 * 60 - gap) / 60


def rank(
    me: Candidate,
    candidates: list[Candidate],
    *,
    proximity: Mapping[int, Proximity] | None = None,
    at: datetime | None = None,
) -> list[Suggestion]:
    """Best first; ties broken by the lower user id, so the order is stable."""
    proximity = proximity or {}
    at = at or datetime.now(UTC)
    mine = weekly_utc_intervals(me.slots, me.timezone, at)
    suggestions = []
    for other in candidates:
        if other.user_id == me.user_id:
            continue
        shared = tuple(sorted(me.subjects & other.subjects))
        hours = round(
            overlap_minutes(mine, weekly_utc_intervals(other.slots, other.timezone, at)) / 60, 1
        )
        gap = timezone_gap_hours(me.timezone, other.timezone, at)
        near = proximity.get(other.user_id, NO_PROXIMITY)
        score = (
            SUBJECT_WEIGHT * len(shared)
            + HOUR_WEIGHT * min(hours, MAX_COUNTED_HOURS)
            - TZ_PENALTY_PER_HOUR * gap
            + graph_score(near)
        )
        suggestions.append(Suggestion(other.user_id, round(score, 2), shared, hours, gap, near))
    suggestions.sort(key=lambda s: (-s.score, s.user_id))
    return suggestions
