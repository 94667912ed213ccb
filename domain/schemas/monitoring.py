"""The alerts as the API serves them (domain.monitoring.alerts)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.schemas.common import UtcDateTime

AlertState = Literal["firing", "acknowledged", "resolved"]
AlertEventState = Literal["firing", "acknowledged", "snoozed", "resolved"]


class AlertEventOut(BaseModel):
    state: AlertEventState
    value: float = Field(description="What the monitor measured then.")
    actor_id: int | None = Field(description="Who acknowledged; null: the monitor.")
    at: UtcDateTime


class AlertOut(BaseModel):
    id: int
    scope: str = Field(description="The monitor that owns it (`stack` for the stack's own).")
    rule: str = Field(
        description="queue_depth, redis_memory, flink_job, checkpoint_age, join_latency,"
        " delivery_latency, delivery_success or probe."
    )
    subject: str = Field(
        description="What it is about: group/topic, redis, a Flink job, rooms (joins), chat."
    )
    severity: Literal["critical", "warning"]
    state: AlertState
    value: float = Field(description="The last value measured while it was open.")
    threshold: float
    message: str
    started_at: UtcDateTime
    updated_at: UtcDateTime
    resolved_at: UtcDateTime | None
    acknowledged_by: int | None
    acknowledged_at: UtcDateTime | None
    snoozed_until: UtcDateTime | None = Field(
        default=None,
        description="Snoozed: acknowledged until then; it fires again after, if still open.",
    )
    history: list[AlertEventOut] | None = Field(
        default=None, description="Every state it went through (only on GET /admin/alerts/{id})."
    )


class SnoozeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    minutes: int = Field(ge=1, le=7 * 24 * 60, description="How long, 1 minute to 7 days.")
