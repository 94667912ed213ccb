"""The shortest chain of friends between two users, through the Neo4j copy of the graph.

One ``SHORTEST 1`` path pattern: Neo4j searches breadth first from both ends and applies the
inline predicate while it expands, so users who have blocked the caller, or whom the caller has
blocked, are never stepped through. Either end blocking the other, or the caller, reads as no
path at all (404): an answer must not reveal a block. MySQL gives the names; the graph trails
it by the event sync's lag (docs/graph.md), so a friendship made seconds ago may not count yet.
"""

from __future__ import annotations

from neo4j.exceptions import DriverError, Neo4jError
from sqlalchemy import or_, select

from core.db.models import User, UserBlock
from core.graph import FRIEND, USER
from domain.errors import NotFound, Unavailable
from domain.resources import Resources
from domain.schemas.social import PathOut, PathStep

MAX_HOPS = 6  # six degrees: beyond that a chain of friends says nothing

_SHORTEST = (
    f"MATCH p = SHORTEST 1 (s:{USER} {{id: $a}})"
    f"((x:{USER})-[:{FRIEND}]-(y:{USER}) WHERE NOT y.id IN $avoid){{1,{MAX_HOPS}}}"
    f"(t:{USER} {{id: $b}}) "
    "WHERE length(p) <= $hops RETURN [n IN nodes(p) | n.id] AS ids"
)


async def _shortest(res: Resources, a: int, b: int, avoid: set[int], max_hops: int) -> list[int]:
    try:
        records, _, _ = await res.graph.execute_query(
            _SHORTEST, a=a, b=b, avoid=sorted(avoid), hops=max_hops, database_="neo4j"
        )
    except (DriverError, Neo4jError) as error:
        raise Unavailable(f"the social graph is not reachable ({type(error).__name__})") from None
    if not records:
        raise NotFound(f"no path of friends from {a} to {b} within {max_hops} hops")
    return [int(i) for i in records[0]["ids"]]


async def path(res: Resources, me: int, a: int, b: int, *, max_hops: int) -> PathOut:
    async with res.db.directory()() as session:
        known = set((await session.scalars(select(User.id).where(User.id.in_({a, b, me})))).all())
        for user in (a, b):
            if user not in known:
                raise NotFound(f"user {user} not found")
        blocks = (
            await session.execute(
                select(UserBlock.blocker_id, UserBlock.blocked_id).where(
                    or_(
                        UserBlock.blocker_id.in_({me, a, b}),
                        UserBlock.blocked_id.in_({me, a, b}),
                    )
                )
            )
        ).all()
    avoid = {x for pair in blocks for x in pair if me in pair} - {me}
    ends = {a, b}
    if any(set(pair) == ends for pair in blocks) or ends & avoid:
        raise NotFound(f"no path of friends from {a} to {b}")
    ids = [a] if a == b else await _shortest(res, a, b, avoid, max_hops)
    async with res.db.directory()() as session:
        rows = (
            await session.execute(
                select(User.id, User.username, User.display_name).where(User.id.in_(ids))
            )
        ).all()
    names = {row.id: row for row in rows}
    steps = [
        PathStep(user_id=i, username=names[i].username, display_name=names[i].display_name)
        for i in ids
        if i in names
    ]
    if len(steps) != len(ids):  # someone on it left MySQL since the sync: no honest chain
        raise NotFound(f"no path of friends from {a} to {b} within {max_hops} hops")
    return PathOut(from_user_id=a, to_user_id=b, hops=len(ids) - 1, path=steps)
