from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Enum, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import TABLE_OPTIONS, Base, Timestamp, created_at, snowflake_pk

# Rows of these tables live on shard_for_room(room_id) (core.db.sharding).

MODERATION_POLICIES = ("block", "mask", "flag", "off")


class StudyRoom(Base):
    __tablename__ = "study_rooms"
    __table_args__ = (
        Index("idx_study_rooms_topic_status", "topic", "status"),
        Index("idx_study_rooms_owner", "owner_id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    owner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    topic: Mapped[str] = mapped_column(String(64), nullable=False)
    capacity: Mapped[int] = mapped_column(SmallInteger, nullable=False, server_default=text("50"))
    visibility: Mapped[str] = mapped_column(
        Enum("public", "private", name="room_visibility"), nullable=False, server_default="public"
    )
    status: Mapped[str] = mapped_column(
        Enum("open", "closed", name="room_status"), nullable=False, server_default="open"
    )
    # What the word filter does to this room's messages (domain.moderation): refuse them,
    # mask the words for everyone but the author, only flag them for review, or nothing.
    moderation: Mapped[str] = mapped_column(
        Enum(*MODERATION_POLICIES, name="room_moderation"), nullable=False, server_default="block"
    )
    created_at: Mapped[datetime] = created_at()
    closed_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class RoomParticipant(Base):
    """Who is in a room now. Redis holds the live set; this is the record it is rebuilt from."""

    __tablename__ = "room_participants"
    __table_args__ = (Index("idx_room_participants_user", "user_id", "room_id"), TABLE_OPTIONS)

    room_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(
        Enum("owner", "member", name="room_role"), nullable=False, server_default="member"
    )
    joined_at: Mapped[datetime] = created_at()


class RoomInvite(Base):
    """Invitations to private rooms: only the owner and invitees may join one."""

    __tablename__ = "room_invites"
    __table_args__ = (Index("idx_room_invites_user", "user_id", "room_id"), TABLE_OPTIONS)

    room_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    invited_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    created_at: Mapped[datetime] = created_at()


class RoomBan(Base):
    """Who a room's owner (or a global moderator) banned from it: they cannot join again.
    Redis holds the live set (``wire.room_banned_key``); this is the record it is rebuilt from."""

    __tablename__ = "room_bans"
    __table_args__ = (TABLE_OPTIONS,)

    room_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    banned_by: Mapped[int] = mapped_column(BigInteger, nullable=False)
    reason: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = created_at()
