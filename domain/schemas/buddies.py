from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from domain.schemas.common import Id, Subject, TimeZone, UtcDateTime

HourMinute = Annotated[str, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")]


class AvailabilitySlot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    day: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    start: HourMinute
    end: HourMinute

    @model_validator(mode="after")
    def _ends_after_start(self) -> AvailabilitySlot:
        if self.end <= self.start:
            raise ValueError(f"slot ends ({self.end}) before it starts ({self.start})")
        return self


class StudyProfileIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subjects: Annotated[list[Subject], Field(min_length=1, max_length=20)]
    timezone: TimeZone
    availability: Annotated[list[AvailabilitySlot], Field(max_length=50)] = Field(
        default_factory=list
    )
    goals: Annotated[str, Field(max_length=2000)] = ""


class StudyProfileOut(BaseModel):
    user_id: int
    subjects: list[str]
    timezone: str
    availability: list[AvailabilitySlot]
    goals: str
    updated_at: UtcDateTime


class SuggestionOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    score: float
    shared_subjects: list[str]
    common_hours: float
    timezone_gap_hours: float
    mutual_friends: int
    friends: bool
    same_community: bool | None  # None until the graph jobs have placed you both
    reason: str


class BuddyRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_user_id: Id
    message: Annotated[str, Field(max_length=500)] | None = None


class BuddyRequestOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    from_user_id: int
    to_user_id: int
    status: Literal["pending", "accepted", "declined", "cancelled"]
    message: str | None
    created_at: UtcDateTime
    responded_at: UtcDateTime | None


class BuddyOut(BaseModel):
    user_id: int
    username: str
    display_name: str
    since: UtcDateTime
