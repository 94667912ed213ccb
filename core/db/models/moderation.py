from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, Index, String, Text
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

# All on the directory shard: one queue for the whole platform (moderation is low volume).


class ModerationEvent(Base):
    """The audit log: every moderation decision (who, when, what, why, the evidence).

    Append-only: migration 0005 adds triggers that refuse UPDATE and DELETE on it.
    """

    __tablename__ = "moderation_events"
    __table_args__ = (
        Index("idx_moderation_events_created", "created_at"),
        Index("idx_moderation_events_user", "user_id", "created_at"),
        Index("idx_moderation_events_room", "room_id", "created_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # assigned, removed, muted, ...
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # whose content or conduct
    room_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: automatic
    reason: Mapped[str] = mapped_column(String(255), nullable=False)
    score: Mapped[float | None] = mapped_column(Double, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = created_at()


class ModerationItem(Base):
    """What waits for a moderator: a word-filter hit, a user's report, an abuse detection.

    Written only by the moderation Flink job from ``moderation-events`` (an upsert on the
    event's id, so a replay writes the same row again); what moderators do to an item is in
    ``moderation_reviews``, so a replay can never undo a decision.
    """

    __tablename__ = "moderation_items"
    __table_args__ = (
        Index("idx_moderation_items_created", "created_at"),
        Index("idx_moderation_items_room", "room_id", "created_at"),
        Index("idx_moderation_items_subject", "subject_user_id", "created_at"),
        Index("idx_moderation_items_rule", "rule", "created_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the event's id
    kind: Mapped[str] = mapped_column(
        Enum("message", "user", name="moderation_kind"), nullable=False
    )
    action: Mapped[str] = mapped_column(String(16), nullable=False)  # blocked, masked, reported...
    subject_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reporter_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    room_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    rule: Mapped[str] = mapped_column(String(64), nullable=False, server_default="")
    reason: Mapped[str] = mapped_column(String(500), nullable=False)
    body: Mapped[str | None] = mapped_column(Text, nullable=True)
    evidence: Mapped[str] = mapped_column(Text, nullable=False)  # JSON: the hits
    created_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)


class ModerationReview(Base):
    """A moderator's hold on an item: assigned, then resolved with a decision."""

    __tablename__ = "moderation_reviews"
    __table_args__ = (Index("idx_moderation_reviews_status", "status", "updated_at"), TABLE_OPTIONS)

    item_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(
        Enum("assigned", "resolved", name="moderation_status"), nullable=False
    )
    assignee_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decision: Mapped[str | None] = mapped_column(
        Enum("dismiss", "remove", "mute", "ban", name="moderation_decision"), nullable=True
    )
    decided_by: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, server_default=NOW, server_onupdate=NOW
    )
