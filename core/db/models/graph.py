from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer
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
