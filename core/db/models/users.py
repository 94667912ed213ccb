from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Enum, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import NOW, TABLE_OPTIONS, Base, Timestamp, created_at, snowflake_pk


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        # Prefix search ("friend search") runs LIKE 'q%' on both; the collation makes it
        # case-insensitive without a lower() that would defeat the index.
        Index("idx_users_username", "username", unique=True),
        Index("idx_users_display_name", "display_name"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    username: Mapped[str] = mapped_column(String(32), nullable=False)
    display_name: Mapped[str] = mapped_column(String(64), nullable=False)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, server_default="UTC")
    is_active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("1"))
    # Global moderation rights (domain.moderation.queue): moderators and admins act on every
    # item of the queue; set with `studyhub moderation set-role`.
    role: Mapped[str] = mapped_column(
        Enum("member", "moderator", "admin", name="user_role"),
        nullable=False,
        server_default="member",
    )
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = mapped_column(
        Timestamp, nullable=False, server_default=NOW, server_onupdate=NOW
    )
