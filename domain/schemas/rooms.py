from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.moderation.policy import DEFAULT_POLICY, Policy
from domain.schemas.common import Id, UtcDateTime

Topic = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=64)
]


class RoomCreateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    topic: Topic
    capacity: Annotated[int, Field(ge=1, le=500)] = 50
    visibility: Literal["public", "private"] = "public"
    moderation: Policy = Field(
        default=DEFAULT_POLICY,
        description="What the word filter does to the room's messages: block them, mask the "
        "words for everyone but the author, flag them for review, or nothing (off).",
    )


class ModerationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    moderation: Policy


class TimerOut(BaseModel):
    phase: Literal["focus", "break", "idle"]
    status: Literal["running", "paused", "idle"]
    ends_at: UtcDateTime | None = Field(description="When the running phase ends (UTC).")
    remaining_seconds: int | None


class RoomOut(BaseModel):
    id: int
    name: str
    topic: str
    capacity: int
    visibility: Literal["public", "private"]
    owner_id: int
    status: Literal["open", "closed"]
    moderation: Policy
    participant_count: int
    created_at: UtcDateTime
    timer: TimerOut


class ParticipantOut(BaseModel):
    user_id: int


class InviteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    user_id: Id


class InviteOut(BaseModel):
    room_id: int
    user_id: int
    invited_by: int


class TimerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Literal["start", "pause", "reset"]
    phase: Literal["focus", "break"] | None = Field(
        default=None, description="Phase to start; default: resume, or the next phase."
    )
    focus_minutes: Annotated[int, Field(ge=1, le=180)] = 25
    break_minutes: Annotated[int, Field(ge=1, le=60)] = 5
