from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Enum, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import (
    NOW,
    TABLE_OPTIONS,
    Base,
    Double,
    Timestamp,
    created_at,
    snowflake_pk,
)

# On the directory shard: alerts are few, and the API reads them from one place.

ALERT_STATES = ("firing", "acknowledged", "resolved")
# An alert's history also records snoozes: acknowledged until ``alerts.snoozed_until``.
ALERT_EVENT_STATES = ("firing", "acknowledged", "snoozed", "resolved")
SEVERITIES = ("critical", "warning")


class Alert(Base):
    """One alert: a rule's condition on one subject (a consumer group's topic, Redis, a Flink
    job), from when it fired until it resolved.

    Written by the monitor (domain.monitoring.alerts) that evaluates ``scope``; each monitor
    only fires and resolves its own scope's alerts. ``open_key`` (scope, rule, subject) is set
    while the alert is open and NULL once resolved: the unique index keeps one open alert per
    condition, and a condition that comes back opens a new one.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        Index("uq_alerts_open_key", "open_key", unique=True),
        Index("idx_alerts_state", "state", "started_at"),
        Index("idx_alerts_rule", "rule", "started_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    scope: Mapped[str] = mapped_column(String(64), nullable=False)
    rule: Mapped[str] = mapped_column(String(64), nullable=False)
    subject: Mapped[str] = mapped_column(String(191), nullable=False)
    severity: Mapped[str] = mapped_column(Enum(*SEVERITIES, name="alert_severity"), nullable=False)
    state: Mapped[str] = mapped_column(Enum(*ALERT_STATES, name="alert_state"), nullable=False)
    value: Mapped[float] = mapped_column(Double, nullable=False)
    threshold: Mapped[float] = mapped_column(Double, nullable=False)
    message: Mapped[str] = mapped_column(String(255), nullable=False)
    open_key: Mapped[str | None] = mapped_column(String(320), nullable=True)
    started_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False, server_default=NOW)
    resolved_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    acknowledged_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    # Set by a snooze: the alert is acknowledged until then, and fires again after it if its
    # condition still holds (the monitor's next round).
    snoozed_until: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class AlertEvent(Base):
    """An alert's history: each time it fired, was acknowledged or resolved, with the value
    measured then and who acted (NULL: the monitor)."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("idx_alert_events_alert", "alert_id", "created_at"), TABLE_OPTIONS)

    id: Mapped[int] = snowflake_pk()
    alert_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    state: Mapped[str] = mapped_column(
        Enum(*ALERT_EVENT_STATES, name="alert_event_state"), nullable=False
    )
    value: Mapped[float] = mapped_column(Double, nullable=False)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = created_at()
