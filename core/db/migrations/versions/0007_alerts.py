"""alerts and alert_events: the monitor's alerts, their state and their history

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 07:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("CURRENT_TIMESTAMP(6)")
STATES = ("firing", "acknowledged", "resolved")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(191), nullable=False),
        sa.Column(
            "severity", sa.Enum("critical", "warning", name="alert_severity"), nullable=False
        ),
        sa.Column("state", sa.Enum(*STATES, name="alert_state"), nullable=False),
        sa.Column("value", mysql.DOUBLE(asdecimal=False), nullable=False),
        sa.Column("threshold", mysql.DOUBLE(asdecimal=False), nullable=False),
        sa.Column("message", sa.String(255), nullable=False),
        sa.Column("open_key", sa.String(320), nullable=True),
        sa.Column("started_at", mysql.DATETIME(fsp=6), server_default=NOW, nullable=False),
        sa.Column("updated_at", mysql.DATETIME(fsp=6), server_default=NOW, nullable=False),
        sa.Column("resolved_at", mysql.DATETIME(fsp=6), nullable=True),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("acknowledged_at", mysql.DATETIME(fsp=6), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index("uq_alerts_open_key", "alerts", ["open_key"], unique=True)
    op.create_index("idx_alerts_state", "alerts", ["state", "started_at"])
    op.create_index("idx_alerts_rule", "alerts", ["rule", "started_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.Enum(*STATES, name="alert_state"), nullable=False),
        sa.Column("value", mysql.DOUBLE(asdecimal=False), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", mysql.DATETIME(fsp=6), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_events")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index("idx_alert_events_alert", "alert_events", ["alert_id", "created_at"])


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alerts")
