"""user_graph_metrics for the dashboards; moderation_events.score as DOUBLE

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 07:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # DOUBLE, not the generic Float: see core/db/models/base.py (Dagster recompiles Float).
    op.alter_column(
        "moderation_events",
        "score",
        existing_type=sa.Float(),
        type_=mysql.DOUBLE(asdecimal=False),
        existing_nullable=True,
    )
    op.create_table(
        "user_graph_metrics",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("pagerank", mysql.DOUBLE(asdecimal=False), nullable=True),
        sa.Column("degree", sa.Integer(), nullable=True),
        sa.Column("computed_at", mysql.DATETIME(fsp=6), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_user_graph_metrics")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index(
        "idx_user_graph_metrics_community",
        "user_graph_metrics",
        ["community_id", "pagerank"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("idx_user_graph_metrics_community", table_name="user_graph_metrics")
    op.drop_table("user_graph_metrics")
    op.alter_column(
        "moderation_events",
        "score",
        existing_type=mysql.DOUBLE(asdecimal=False),
        type_=mysql.FLOAT(),
        existing_nullable=True,
    )
