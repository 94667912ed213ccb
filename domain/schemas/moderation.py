"""The moderation API's inputs and results."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from domain.schemas.common import Id, UtcDateTime

Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=255)]
Status = Literal["pending", "assigned", "resolved"]
Decision = Literal["dismiss", "remove", "mute", "ban"]


class ReportIn(BaseModel):
    """A message (``room_id`` and ``message_id``) or a user (``user_id``, optionally where:
    ``room_id`` or ``group_id``)."""

    model_config = ConfigDict(extra="forbid")

    room_id: Id | None = None
    message_id: Id | None = None
    user_id: Id | None = None
    group_id: Id | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_subject(self) -> ReportIn:
        if self.message_id is not None and self.room_id is None:
            raise ValueError("a message is reported with its room_id and message_id")
        if self.message_id is None and self.user_id is None:
            raise ValueError("report a message (room_id and message_id) or a user (user_id)")
        if self.message_id is not None and self.user_id is not None:
            raise ValueError("report a message or a user, not both")
        return self


class ReportOut(BaseModel):
    id: str = Field(description="The queue item's id once the queue has it.")
    status: Literal["queued"]


class ItemOut(BaseModel):
    id: str
    kind: Literal["message", "user"]
    action: str = Field(description="blocked, masked, flagged (word filter) or reported.")
    status: Status
    subject_user_id: int
    reporter_id: int | None
    room_id: int | None
    group_id: int | None
    message_id: int | None
    rule: str
    reason: str
    body: str | None
    evidence: list[dict[str, Any]]
    created_at: UtcDateTime
    assignee_id: int | None
    decision: Decision | None
    decided_by: int | None
    decided_at: datetime | None


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision
    reason: Reason
    mute_minutes: Annotated[int, Field(ge=1, le=60 * 24 * 30)] = 60


class AuditOut(BaseModel):
    id: int
    kind: str
    user_id: int
    room_id: int | None
    message_id: int | None
    actor_id: int | None
    reason: str
    details: dict[str, Any] | None
    created_at: UtcDateTime
