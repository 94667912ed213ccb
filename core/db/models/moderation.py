from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import TABLE_OPTIONS, Base, Double, created_at, snowflake_pk


class ModerationEvent(Base):
    """An action or verdict of moderation: automatic flags and moderators' decisions alike."""

    __tablename__ = "moderation_events"
    __table_args__ = (
        Index("idx_moderation_events_created", "created_at"),
        Index("idx_moderation_events_user", "user_id", "created_at"),
        Index("idx_moderation_events_room", "room_id", "created_at"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    kind: Mapped[str] = mapped_column(String(32), nullable=False)  # flagged, hidden, muted, ...
    user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # whose content or conduct
    room_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # None: automatic
    reason: Mapped[str] = mapped_column(String(255), nullable=False)
    score: Mapped[float | None] = mapped_column(Double, nullable=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = created_at()
