from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from core.db.models.base import TABLE_OPTIONS, Base, Double, Timestamp


class UserGraphMetrics(Base):
    """What the graph jobs compute per user (community, PageRank, friends), copied from Neo4j
    for the dashboards, which read MySQL and must not run graph queries of their own."""

    __tablename__ = "user_graph_metrics"
    __table_args__ = (
        Index("idx_user_graph_metrics_community", "community_id", "pagerank"),
        TABLE_OPTIONS,
    )

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    community_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    pagerank: Mapped[float | None] = mapped_column(Double, nullable=True)
    degree: Mapped[int | None] = mapped_column(Integer, nullable=True)
    computed_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)


class FriendSuggestion(Base):
    """People you may know, ranked by the graph job (``graph_friend_suggestions``), with the
    reasons shown beside each: what ``GET /friends/suggestions`` serves. Users the job has not
    scored yet get the friends-of-friends SQL instead (domain.social)."""

    __tablename__ = "friend_suggestions"
    __table_args__ = (TABLE_OPTIONS,)

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    rank: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    candidate_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    score: Mapped[float] = mapped_column(Double, nullable=False)
    mutual_friends: Mapped[int] = mapped_column(Integer, nullable=False)
    mutual_ids: Mapped[list[int]] = mapped_column(JSON, nullable=False)  # up to five
    shared_rooms: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    shared_groups: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    shared_subjects: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    same_community: Mapped[bool] = mapped_column(Boolean, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(Timestamp, nullable=False)
