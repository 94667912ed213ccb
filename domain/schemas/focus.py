from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from domain.schemas.common import UtcDateTime


class FocusDayOut(BaseModel):
    day: date = Field(description="A UTC day.")
    seconds: int = Field(description="Time in study rooms that day (sessions that ended).")
    focus_seconds: int = Field(description="The part of it in the room timer's focus phases.")


class FocusOut(BaseModel):
    user_id: int
    days: list[FocusDayOut] = Field(description="Oldest first, today last.")
    streak_days: int = Field(
        description="Consecutive days with at least a minute in a room, up to today (or "
        "yesterday, while today has nothing yet)."
    )


Period = Literal["day", "week", "month"]
Scope = Literal["global", "friends"]


class LeaderboardEntryOut(BaseModel):
    rank: int = Field(description="1 is the most time; ties go to the lower user id.")
    user_id: int
    username: str
    seconds: int = Field(description="Time in study rooms in the period.")
    focus_seconds: int


class LeaderboardOut(BaseModel):
    period: Period
    scope: Scope
    starts_at: UtcDateTime = Field(description="The period's start (UTC day, ISO week, month).")
    ends_at: UtcDateTime
    items: list[LeaderboardEntryOut]
    next_cursor: str | None
