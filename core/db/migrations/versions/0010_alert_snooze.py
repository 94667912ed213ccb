"""alerts can be snoozed: acknowledged until a time, then firing again if still open

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 13:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATES = ("firing", "acknowledged", "resolved")
EVENT_STATES = ("firing", "acknowledged", "snoozed", "resolved")


def upgrade() -> None:
    op.add_column("alerts", sa.Column("snoozed_until", mysql.DATETIME(fsp=6), nullable=True))
    op.alter_column(
        "alert_events",
        "state",
        existing_type=sa.Enum(*STATES, name="alert_state"),
        type_=sa.Enum(*EVENT_STATES, name="alert_event_state"),
        existing_nullable=False,
    )


def downgrade() -> None:
    op.execute("UPDATE alert_events SET state = 'acknowledged' WHERE state = 'snoozed'")
    op.alter_column(
        "alert_events",
        "state",
        existing_type=sa.Enum(*EVENT_STATES, name="alert_event_state"),
        type_=sa.Enum(*STATES, name="alert_state"),
        existing_nullable=False,
    )
    op.drop_column("alerts", "snoozed_until")
