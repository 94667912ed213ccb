"""Communities and influence, as the graph jobs last computed them (``graph_communities`` and
``graph_influence``, copied to MySQL's ``user_graph_metrics`` by ``graph_metrics_mysql``).

Served from MySQL, not Neo4j: these are nightly numbers, the table is indexed on
(community_id, pagerank), so a community's size, a user's rank in it and its top influencers
are index range reads, and the API keeps working while the graph is away. Users who have
blocked the viewer are left out of the lists, as they are from search.
"""

from __future__ import annotations

from sqlalchemy import func, select

from core.db.models import User, UserBlock, UserGraphMetrics
from domain.errors import NotFound
from domain.resources import Resources
from domain.schemas.social import CommunityOut, InfluencerOut, UserCommunityOut
from domain.social import blocked_between


async def of_user(res: Resources, viewer: int, user_id: int) -> UserCommunityOut:
    async with res.db.directory()() as session:
        row = (
            await session.execute(
                select(User.id, UserGraphMetrics)
                .outerjoin(UserGraphMetrics, UserGraphMetrics.user_id == User.id)
                .where(User.id == user_id)
            )
        ).one_or_none()
        if row is None or (viewer != user_id and await blocked_between(session, viewer, user_id)):
            raise NotFound(f"user {user_id} does not exist")
        metrics: UserGraphMetrics | None = row[1]
        if metrics is None or metrics.community_id is None:
            raise NotFound(
                f"user {user_id} has no community yet: the graph jobs place new users "
                "on their next run (nightly, or from the Dagster UI)"
            )
        community = metrics.community_id
        size = await session.scalar(
            select(func.count()).where(UserGraphMetrics.community_id == community)
        )
        ahead = await session.scalar(
            select(func.count()).where(
                UserGraphMetrics.community_id == community,
                UserGraphMetrics.pagerank > (metrics.pagerank or 0.0),
            )
        )
    return UserCommunityOut(
        user_id=user_id,
        community_id=community,
        community_size=int(size or 0),
        pagerank=metrics.pagerank,
        rank_in_community=int(ahead or 0) + 1,
        friends=metrics.degree,
        computed_at=metrics.computed_at,
    )


async def community(res: Resources, viewer: int, community_id: int, *, top: int) -> CommunityOut:
    async with res.db.directory()() as session:
        size = int(
            await session.scalar(
                select(func.count()).where(UserGraphMetrics.community_id == community_id)
            )
            or 0
        )
        if size == 0:
            raise NotFound(f"community {community_id} does not exist (or not since the last run)")
        blocked_viewer = select(UserBlock.blocker_id).where(UserBlock.blocked_id == viewer)
        rows = (
            await session.execute(
                select(
                    User.id,
                    User.username,
                    User.display_name,
                    UserGraphMetrics.pagerank,
                    UserGraphMetrics.degree,
                    UserGraphMetrics.computed_at,
                )
                .join(User, User.id == UserGraphMetrics.user_id)
                .where(
                    UserGraphMetrics.community_id == community_id,
                    User.is_active.is_(True),
                    User.id.not_in(blocked_viewer),
                )
                .order_by(UserGraphMetrics.pagerank.desc(), UserGraphMetrics.user_id)
                .limit(top)
            )
        ).all()
    return CommunityOut(
        id=community_id,
        size=size,
        computed_at=max((r.computed_at for r in rows), default=None),
        top_influencers=[
            InfluencerOut(
                user_id=r.id,
                username=r.username,
                display_name=r.display_name,
                pagerank=r.pagerank,
                friends=r.degree,
            )
            for r in rows
        ],
    )
