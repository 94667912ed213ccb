"""Communities and influence over the friendship graph, with GDS, written back to Neo4j.

One in-memory projection per run: every (:User), and FRIEND as undirected, weighted by its
``weight`` (1 + rooms and groups shared; ``graph_weights``). On it:

- Leiden (or Louvain, by config) writes ``User.community``. Leiden refines Louvain's merges so
  that no community comes out internally disconnected, at the same cost.
- PageRank (weighted) writes ``User.pagerank``. Degree writes ``User.degree`` (friends).

The projection is dropped in a ``finally``: a failed run must not leave a graph holding heap.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

from neo4j import Driver
from sqlalchemy import Engine, delete, text
from sqlalchemy.dialects.mysql import insert

from core.db.models import UserGraphMetrics
from core.graph import FRIEND, USER

_PROJECT = (
    "CALL gds.graph.project($name, $label, "
    "{rel: {type: $rel, orientation: 'UNDIRECTED', "
    "properties: {weight: {property: 'weight', defaultValue: 1.0}}}}) "
    "YIELD nodeCount, relationshipCount RETURN nodeCount, relationshipCount"
)
_DROP = "CALL gds.graph.drop($name, false) YIELD graphName RETURN graphName"


@contextmanager
def projection(driver: Driver, database: str) -> Iterator[tuple[str, int, int]]:
    """The friendship graph in GDS's memory: (name, nodes, relationships)."""
    name = f"studyhub-social-{uuid.uuid4().hex[:8]}"
    records, _, _ = driver.execute_query(
        _PROJECT, name=name, label=USER, rel=FRIEND, database_=database
    )
    try:
        yield name, int(records[0]["nodeCount"]), int(records[0]["relationshipCount"])
    finally:
        driver.execute_query(_DROP, name=name, database_=database)


@dataclass
class CommunityReport:
    algorithm: str
    nodes: int
    relationships: int
    communities: int
    modularity: float
    levels: int
    compute_ms: int


def detect_communities(
    driver: Driver,
    database: str,
    *,
    algorithm: Literal["leiden", "louvain"] = "leiden",
    seed: int = 42,
) -> CommunityReport:
    # Leiden takes a seed; Louvain has none in GDS, and is deterministic at concurrency 1.
    options = "randomSeed: $seed, " if algorithm == "leiden" else "concurrency: 1, "
    call = (
        f"CALL gds.{algorithm}.write($name, {{writeProperty: 'community', {options}"
        "relationshipWeightProperty: 'weight'}) "
        "YIELD communityCount, modularity, ranLevels, computeMillis "
        "RETURN communityCount, modularity, ranLevels, computeMillis"
    )
    with projection(driver, database) as (name, nodes, relationships):
        records, _, _ = driver.execute_query(call, name=name, seed=seed, database_=database)
    row = records[0]
    return CommunityReport(
        algorithm=algorithm,
        nodes=nodes,
        relationships=relationships,
        communities=int(row["communityCount"]),
        modularity=float(row["modularity"]),
        levels=int(row["ranLevels"]),
        compute_ms=int(row["computeMillis"]),
    )


@dataclass
class InfluenceReport:
    nodes: int
    iterations: int
    converged: bool
    top: list[dict[str, Any]]  # the most influential users overall
    per_community: list[dict[str, Any]]  # the largest communities and their top influencers


_TOP = (
    f"MATCH (u:{USER}) WHERE u.pagerank IS NOT NULL "
    "RETURN u.id AS id, u.username AS username, u.pagerank AS pagerank, u.degree AS degree, "
    "u.community AS community ORDER BY u.pagerank DESC LIMIT $k"
)
_PER_COMMUNITY = (
    f"MATCH (u:{USER}) WHERE u.community IS NOT NULL "
    "WITH u.community AS community, u ORDER BY u.pagerank DESC "
    "WITH community, count(u) AS size, collect(u.id)[..$k] AS top "
    "RETURN community, size, top ORDER BY size DESC LIMIT $communities"
)


def rank_influence(driver: Driver, database: str, *, top_k: int = 100) -> InfluenceReport:
    with projection(driver, database) as (name, nodes, _):
        records, _, _ = driver.execute_query(
            "CALL gds.pageRank.write($name, {writeProperty: 'pagerank', "
            "relationshipWeightProperty: 'weight'}) YIELD ranIterations, didConverge "
            "RETURN ranIterations, didConverge",
            name=name,
            database_=database,
        )
        driver.execute_query(
            "CALL gds.degree.write($name, {writeProperty: 'degree'}) YIELD nodePropertiesWritten "
            "RETURN nodePropertiesWritten",
            name=name,
            database_=database,
        )
    top, _, _ = driver.execute_query(_TOP, k=top_k, database_=database)
    groups, _, _ = driver.execute_query(_PER_COMMUNITY, k=5, communities=10, database_=database)
    return InfluenceReport(
        nodes=nodes,
        iterations=int(records[0]["ranIterations"]),
        converged=bool(records[0]["didConverge"]),
        top=[r.data() for r in top],
        per_community=[r.data() for r in groups],
    )


def users_without_community(driver: Driver, database: str) -> int:
    records, _, _ = driver.execute_query(
        f"MATCH (u:{USER}) WHERE u.active AND u.community IS NULL RETURN count(u) AS n",
        database_=database,
    )
    return int(records[0]["n"])


def top_churn(previous: list[int], current: list[int]) -> float:
    """The share of the previous top-k no longer in the top-k (0 with nothing to compare)."""
    if not previous:
        return 0.0
    return 1.0 - len(set(previous) & set(current)) / len(previous)


_METRICS = (
    f"MATCH (u:{USER}) WHERE u.community IS NOT NULL "
    "RETURN u.id AS user_id, u.community AS community_id, u.pagerank AS pagerank, "
    "toInteger(u.degree) AS degree"
)


def copy_metrics_to_mysql(
    driver: Driver, database: str, engine: Engine, *, batch: int = 10_000
) -> tuple[int, int]:
    """Every user's community, PageRank and degree into ``user_graph_metrics``; rows of users
    the graph no longer has are deleted. Returns (rows written, rows deleted)."""
    insert_rows = insert(UserGraphMetrics)
    upsert = insert_rows.on_duplicate_key_update(
        community_id=insert_rows.inserted.community_id,
        pagerank=insert_rows.inserted.pagerank,
        degree=insert_rows.inserted.degree,
        computed_at=insert_rows.inserted.computed_at,
    )
    written = 0
    with engine.connect() as conn:
        at = conn.execute(text("SELECT UTC_TIMESTAMP(6)")).scalar_one()
        with driver.session(database=database) as session:
            rows: list[dict[str, Any]] = []
            for record in session.run(_METRICS):
                rows.append({**record.data(), "computed_at": at})
                if len(rows) >= batch:
                    conn.execute(upsert, rows)
                    conn.commit()
                    written, rows = written + len(rows), []
            if rows:
                conn.execute(upsert, rows)
                written += len(rows)
        stale = delete(UserGraphMetrics).where(UserGraphMetrics.computed_at < at)
        deleted = conn.execute(stale).rowcount
        conn.commit()
    return written, int(deleted)
