"""focus_sessions: each stay in a study room and its focus time, for the focus stats

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 11:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "focus_sessions",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("joined_at", mysql.DATETIME(fsp=6), nullable=False),
        sa.Column("room_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("left_at", mysql.DATETIME(fsp=6), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.Column("focus_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "joined_at", "room_id", name=op.f("pk_focus_sessions")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index("idx_focus_sessions_left", "focus_sessions", ["left_at"])


def downgrade() -> None:
    op.drop_table("focus_sessions")
