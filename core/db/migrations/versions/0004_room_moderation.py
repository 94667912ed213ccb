"""study_rooms.moderation (the word filter's policy per room), chat_messages.masked_body

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "study_rooms",
        sa.Column(
            "moderation",
            sa.Enum("block", "mask", "flag", "off", name="room_moderation"),
            server_default="block",
            nullable=False,
        ),
    )
    # Trailing and nullable: MariaDB adds it in place, without copying the partitioned table.
    op.add_column("chat_messages", sa.Column("masked_body", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("chat_messages", "masked_body")
    op.drop_column("study_rooms", "moderation")
