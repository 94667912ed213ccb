"""focus_sessions by room: a room's focus time is an index range read (the dashboards' room page)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 13:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("idx_focus_sessions_room", "focus_sessions", ["room_id", "left_at"])


def downgrade() -> None:
    op.drop_index("idx_focus_sessions_room", table_name="focus_sessions")
