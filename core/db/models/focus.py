from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import TABLE_OPTIONS, Base, Timestamp

# On the directory shard, as users are: a user's stats read one index range in one place.


class FocusSession(Base):
    """One stay in a study room, from a join to its leave (or the room's close), written by
    the metrics job (pipelines/metrics/focus.py) from room-events. ``focus_seconds`` is the
    part of it the room's shared timer ran a focus phase. Keyed by who, when and where, so a
    replay writes the same row again."""

    __tablename__ = "focus_sessions"
    __table_args__ = (
        Index("idx_focus_sessions_left", "left_at"),
        Index("idx_focus_sessions_room", "room_id", "left_at"),  # a room's focus time
        TABLE_OPTIONS,
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    joined_at: Mapped[datetime] = mapped_column(Timestamp, primary_key=True)
    room_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    left_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
    seconds: Mapped[int] = mapped_column(Integer, nullable=False)
    focus_seconds: Mapped[int] = mapped_column(Integer, nullable=False)
