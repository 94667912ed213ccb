"""room_bans, and "ban" among the moderators' decisions

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "room_bans",
        sa.Column("room_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("banned_by", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column(
            "created_at",
            mysql.DATETIME(fsp=6),
            server_default=sa.text("CURRENT_TIMESTAMP(6)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("room_id", "user_id", name=op.f("pk_room_bans")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.alter_column(
        "moderation_reviews",
        "decision",
        existing_type=sa.Enum("dismiss", "remove", "mute", name="moderation_decision"),
        type_=sa.Enum("dismiss", "remove", "mute", "ban", name="moderation_decision"),
        existing_nullable=True,
    )


def downgrade() -> None:
    op.alter_column(
        "moderation_reviews",
        "decision",
        existing_type=sa.Enum("dismiss", "remove", "mute", "ban", name="moderation_decision"),
        type_=sa.Enum("dismiss", "remove", "mute", name="moderation_decision"),
        existing_nullable=True,
    )
    op.drop_table("room_bans")
