"""The community map: the communities and PageRank the graph jobs last computed (MySQL's
``user_graph_metrics``, indexed by community and rank), and the friendships among a
community's most central members (Neo4j, core/graph.py's labels), laid out for a picture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import networkx as nx
from neo4j import Driver
from sqlalchemy import bindparam, text

from core import graph
from core.db.sharding import ShardRouter


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str
    community_id: int
    pagerank: float
    friends: int


def sizes(
    mysql: ShardRouter, limit: int = 30
) -> tuple[list[tuple[int, int]], int, datetime | None]:
    """The ``limit`` largest communities as (id, members), how many communities there are,
    and when the graph jobs computed them."""
    with mysql.directory_engine().connect() as db:
        top = db.execute(
            text(
                "SELECT community_id, COUNT(*) AS n FROM user_graph_metrics"
                " WHERE community_id IS NOT NULL GROUP BY community_id"
                " ORDER BY n DESC, community_id LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
        count, computed = db.execute(
            text("SELECT COUNT(DISTINCT community_id), MAX(computed_at) FROM user_graph_metrics")
        ).one()
    return [(int(c), int(n)) for c, n in top], int(count or 0), computed


_MEMBER = (
    "SELECT m.user_id, u.username, m.community_id, COALESCE(m.pagerank, 0), COALESCE(m.degree, 0)"
    " FROM user_graph_metrics m JOIN users u ON u.id = m.user_id"
)


def _members(rows: Sequence[Sequence[Any]]) -> list[Member]:
    return [Member(int(a), str(b), int(c), float(d), int(e)) for a, b, c, d, e in rows]


def central_members(mysql: ShardRouter, community_id: int, top: int) -> list[Member]:
    """The community's ``top`` members by PageRank (its index, read backwards)."""
    with mysql.directory_engine().connect() as db:
        rows = db.execute(
            text(
                _MEMBER + " WHERE m.community_id = :c AND u.is_active"
                " ORDER BY m.pagerank DESC, m.user_id LIMIT :top"
            ),
            {"c": community_id, "top": top},
        ).all()
    return _members(rows)


def influencers(mysql: ShardRouter, limit: int = 20) -> list[Member]:
    """The most central people of the whole graph."""
    with mysql.directory_engine().connect() as db:
        rows = db.execute(
            text(
                _MEMBER + " WHERE m.community_id IS NOT NULL AND u.is_active"
                " ORDER BY m.pagerank DESC, m.user_id LIMIT :limit"
            ),
            {"limit": limit},
        ).all()
    return _members(rows)


def members(mysql: ShardRouter, ids: list[int]) -> list[Member]:
    if not ids:
        return []
    statement = text(_MEMBER + " WHERE m.user_id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with mysql.directory_engine().connect() as db:
        return _members(db.execute(statement, {"ids": ids}).all())


def user_id(mysql: ShardRouter, username: str) -> int | None:
    with mysql.directory_engine().connect() as db:
        found = db.execute(
            text("SELECT id FROM users WHERE username = :u"), {"u": username}
        ).scalar()
    return None if found is None else int(found)


@dataclass(frozen=True)
class Picture:
    nodes: list[tuple[Member, float, float]]  # each member and its place
    edges: list[tuple[int, int]]


def picture(
    driver: Driver, mysql: ShardRouter, core_members: list[Member], outside: int = 40
) -> Picture:
    """The friendships among ``core_members`` (one community's), plus up to ``outside`` of
    their friendships into other communities (its border), placed by a spring layout (seeded:
    the same graph draws the same way)."""
    ids = [m.user_id for m in core_members]
    with driver.session() as session:
        inner = session.run(
            f"MATCH (a:{graph.USER})-[:{graph.FRIEND}]-(b:{graph.USER})"
            " WHERE a.id IN $ids AND b.id IN $ids AND a.id < b.id RETURN a.id, b.id",
            ids=ids,
        ).values()
        # A few friends outside the drawn set per member, so the border is spread over the
        # community rather than all hung on its first member.
        candidates = session.run(
            f"MATCH (a:{graph.USER})-[:{graph.FRIEND}]-(b:{graph.USER})"
            " WHERE a.id IN $ids AND NOT b.id IN $ids"
            " WITH a, collect(b.id)[..5] AS others UNWIND others AS b"
            " RETURN a.id, b LIMIT $candidates",
            ids=ids,
            candidates=outside * 10,
        ).values()
    community_id = core_members[0].community_id if core_members else None
    elsewhere = {
        m.user_id: m
        for m in members(mysql, sorted({int(b) for _, b in candidates}))
        if m.community_id != community_id
    }
    border = [(int(a), int(b)) for a, b in candidates if int(b) in elsewhere][:outside]
    everyone = {m.user_id: m for m in core_members}
    everyone.update({b: elsewhere[b] for _, b in border})
    edges = [(int(a), int(b)) for a, b in inner] + border
    layout: nx.Graph[int] = nx.Graph()
    layout.add_nodes_from(everyone)
    layout.add_edges_from(edges)
    places = nx.spring_layout(layout, seed=7) if everyone else {}
    return Picture(
        [(m, float(places[i][0]), float(places[i][1])) for i, m in everyone.items()], edges
    )
