from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Enum, Index, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import NOW, TABLE_OPTIONS, Base, Timestamp, created_at, snowflake_pk

FRIENDSHIP_PARTITIONS = 8


class Friendship(Base):
    """One row per direction: (a, b) and (b, a) both exist for a friendship.

    Friend list of X is then one range scan of idx_friendships_user1 in one partition, and
    mutual friends is a join of two such ranges. The table is partitioned by HASH(user1_id), and
    MariaDB demands that every unique key contain the partitioning column, and refuses foreign
    keys on partitioned tables, so integrity (both directions present, no self-friendship) is
    kept by the application and checked by the tests.

    There is deliberately no PRIMARY KEY: InnoDB clusters the table on the first UNIQUE NOT NULL
    key, so idx_friendships_user1 *is* the clustered index. Declaring a primary key on the same
    columns as well would store every row twice. The ORM mapper is told the key explicitly.
    """

    __table__ = Table(
        "friendships",
        Base.metadata,
        Column("user1_id", BigInteger, nullable=False, autoincrement=False),
        Column("user2_id", BigInteger, nullable=False, autoincrement=False),
        Column("created_at", Timestamp, nullable=False, server_default=NOW),
        UniqueConstraint("user1_id", "user2_id", name="idx_friendships_user1"),
        Index("idx_friendships_user2", "user2_id", "user1_id"),
        mysql_partition_by="HASH(user1_id)",
        mysql_partitions=str(FRIENDSHIP_PARTITIONS),
        **TABLE_OPTIONS,
    )
    __mapper_args__ = {  # noqa: RUF012 - SQLAlchemy reads this class attribute once
        "primary_key": [__table__.c.user1_id, __table__.c.user2_id]
    }

    user1_id: Mapped[int]
    user2_id: Mapped[int]
    created_at: Mapped[datetime]


class FriendRequest(Base):
    __tablename__ = "friend_requests"
    __table_args__ = (
        Index("idx_friend_requests_to", "to_user_id", "status", "id"),
        Index("idx_friend_requests_from", "from_user_id", "status", "id"),
        TABLE_OPTIONS,
    )

    id: Mapped[int] = snowflake_pk()
    from_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    to_user_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    status: Mapped[str] = mapped_column(
        Enum("pending", "accepted", "declined", "cancelled", name="friend_request_status"),
        nullable=False,
        server_default="pending",
    )
    created_at: Mapped[datetime] = created_at()
    responded_at: Mapped[datetime | None] = mapped_column(Timestamp, nullable=True)


class UserBlock(Base):
    __tablename__ = "user_blocks"
    __table_args__ = (Index("idx_user_blocks_blocked", "blocked_id", "blocker_id"), TABLE_OPTIONS)

    blocker_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    blocked_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = created_at()
