from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import NOW, TABLE_OPTIONS, Base, Timestamp, created_at, snowflake_pk


class StudyProfile(Base):
    """What a person studies and when: the input of buddy matching."""

    __tablename__ = "study_profiles"
    __table_args__ = (TABLE_OPTIONS,)

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subjects: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    # Weekly free slots as [{"day": 0-6, "start": "HH:MM", "end": "HH:MM"}] in the user's zone.
    availability: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    goals: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, server_default=NOW, server_onupdate=NOW
    )


class StudyProfileSubject(Base):
    """Subjects normalised out of the profile, so candidates come from an index, not a scan."""

    __tablename__ = "study_profile_subjects"
    __table_args__ = (
        Index("idx_study_profile_subjects_subject", "subject", "user_id"),
        TABLE_OPTIONS,
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)


class BuddyRequest(Base):
    __tablename__ = "buddy_requests"
    __table_args__ = (
        Index("idx_buddy_requests_to", "to_user_id", "status", "id"),
        Index("idx_buddy_requests_from", "from_user_id", "status", "id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    from_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    to_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(
        Enum("pending", "accepted", "declined", "cancelled", name="buddy_request_status"),
        nullable=False,
        server_default="pending",
    )
    message: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = created_at()
    responded_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class StudyBuddy(Base):
    """An accepted buddy pair, stored in both directions so "my buddies" is one range scan."""

    __tablename__ = "study_buddies"
    __table_args__ = (TABLE_OPTIONS,)

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    buddy_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = created_at()
