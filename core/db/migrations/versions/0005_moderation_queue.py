"""users.role, the moderation queue (moderation_items, moderation_reviews), and the audit log
(moderation_events) made append-only

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 04:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPTIONS = {
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
    "mysql_engine": "InnoDB",
}
NOW = sa.text("CURRENT_TIMESTAMP(6)")


def upgrade() -> None:
    op.add_column(
        "users",
        sa.Column(
            "role",
            sa.Enum("member", "moderator", "admin", name="user_role"),
            server_default="member",
            nullable=False,
        ),
    )
    op.create_table(
        "moderation_items",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.Enum("message", "user", name="moderation_kind"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("subject_user_id", sa.BigInteger(), nullable=False),
        sa.Column("reporter_id", sa.BigInteger(), nullable=True),
        sa.Column("room_id", sa.BigInteger(), nullable=True),
        sa.Column("group_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("rule", sa.String(64), server_default="", nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("created_at", mysql.DATETIME(fsp=6), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moderation_items")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index("idx_moderation_items_created", "moderation_items", ["created_at"])
    op.create_index("idx_moderation_items_room", "moderation_items", ["room_id", "created_at"])
    op.create_index(
        "idx_moderation_items_subject", "moderation_items", ["subject_user_id", "created_at"]
    )
    op.create_index("idx_moderation_items_rule", "moderation_items", ["rule", "created_at"])
    op.create_table(
        "moderation_reviews",
        sa.Column("item_id", sa.String(36), nullable=False),
        sa.Column(
            "status", sa.Enum("assigned", "resolved", name="moderation_status"), nullable=False
        ),
        sa.Column("assignee_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "decision",
            sa.Enum("dismiss", "remove", "mute", name="moderation_decision"),
            nullable=True,
        ),
        sa.Column("decided_by", sa.BigInteger(), nullable=True),
        sa.Column("decided_at", mysql.DATETIME(fsp=6), nullable=True),
        sa.Column(
            "updated_at",
            mysql.DATETIME(fsp=6),
            server_default=NOW,
            server_onupdate=NOW,
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_moderation_reviews")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
        mysql_engine="InnoDB",
    )
    op.create_index("idx_moderation_reviews_status", "moderation_reviews", ["status", "updated_at"])
    # The audit log is append-only, whoever writes to it: the database refuses the rest.
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER moderation_events_no_{verb.lower()} BEFORE {verb} ON moderation_events"
            " FOR EACH ROW SIGNAL SQLSTATE '45000'"
            " SET MESSAGE_TEXT = 'moderation_events is an append-only audit log'"
        )


def downgrade() -> None:
    for verb in ("update", "delete"):
        op.execute(f"DROP TRIGGER IF EXISTS moderation_events_no_{verb}")
    op.drop_table("moderation_reviews")
    op.drop_table("moderation_items")
    op.drop_column("users", "role")
