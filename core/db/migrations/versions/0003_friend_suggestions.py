"""friend_suggestions: people you may know, ranked by the graph job, for the API

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04 19:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "friend_suggestions",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rank", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("candidate_id", sa.BigInteger(), nullable=False),
        sa.Column("score", mysql.DOUBLE(asdecimal=False), nullable=False),
        sa.Column("mutual_friends", sa.Integer(), nullable=False),
        sa.Column("mutual_ids", sa.JSON(), nullable=False),
        sa.Column("shared_rooms", sa.SmallInteger(), nullable=False),
        sa.Column("shared_groups", sa.SmallInteger(), nullable=False),
        sa.Column("shared_subjects", sa.SmallInteger(), nullable=False),
        sa.Column("same_community", sa.Boolean(), nullable=False),
        sa.Column("computed_at", mysql.DATETIME(fsp=6), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "rank", name=op.f("pk_friend_suggestions")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )


def downgrade() -> None:
    op.drop_table("friend_suggestions")
