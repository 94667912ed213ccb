from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Enum, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import TABLE_OPTIONS, Base, Timestamp, created_at, snowflake_pk


class DiscussionGroup(Base):
    __tablename__ = "discussion_groups"
    __table_args__ = (
        Index("idx_discussion_groups_name", "name"),
        Index("idx_discussion_groups_owner", "owner_id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    owner_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str] = mapped_column(String(100), nullable=False)
    description: Mapped[str] = mapped_column(String(2000), nullable=False, server_default="")
    subject: Mapped[str | None] = mapped_column(String(64), nullable=True)
    visibility: Mapped[str] = mapped_column(
        Enum("public", "private", name="group_visibility"), nullable=False, server_default="public"
    )
    created_at: Mapped[datetime] = created_at()


class GroupMember(Base):
    __tablename__ = "group_members"
    __table_args__ = (Index("idx_group_members_user", "user_id", "group_id"), TABLE_OPTIONS)

    group_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    role: Mapped[str] = mapped_column(
        Enum("owner", "moderator", "member", name="group_role"),
        nullable=False,
        server_default="member",
    )
    joined_at: Mapped[datetime] = created_at()


class GroupPost(Base):
    """A post in a group's thread; replies point at their parent and at the thread's root."""

    __tablename__ = "group_posts"
    __table_args__ = (
        # Thread listing pages by id (time order) within a group, roots only or one thread.
        Index("idx_group_posts_group", "group_id", "root_id", "id"),
        Index("idx_group_posts_parent", "parent_id", "id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    group_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    author_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    parent_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    root_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    title: Mapped[str | None] = mapped_column(String(200), nullable=True)
    body: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_at()
    edited_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)
