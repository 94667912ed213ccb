"""Communities and influence over the friendship graph, with GDS, written back to Neo4j.

One in-memory projection per run: every (:User), and FRIEND as undirected, weighted by its
``weight`` (1 + rooms and groups shared; ``graph_weights``). On it:

- Leiden (or Louvain, by config) writes ``User.community``. Leiden refines Louvain's merges so
  that no community comes out internally disconnected, at the same cost.
- PageRank (weighted) writes ``User.pagerank``. Degree writes ``User.degree`` (friends).

The projection is dropped in a ``finally``: a failed run must not leave a graph holding heap.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd
from neo4j import Driver, Result
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


# The same graph less some pairs (a Cypher projection): the recommender's fit leaves edges out
# and must not see them through the communities either.
_PROJECT_WITHOUT = (
    "MATCH (a:{label}) OPTIONAL MATCH (a)-[r:{rel}]->(b:{label}) "
    "WHERE NOT coalesce($without[toString(a.id) + '-' + toString(b.id)], false) "
    "WITH gds.graph.project($name, a, b, "
    "  {{relationshipProperties: {{weight: coalesce(r.weight, 1.0)}}}}, "
    "  {{undirectedRelationshipTypes: ['*']}}) AS g "
    "RETURN g.nodeCount AS nodeCount, g.relationshipCount AS relationshipCount"
)


@contextmanager
def projection(
    driver: Driver,
    database: str,
    *,
    label: str = USER,
    rel: str = FRIEND,
    without: Sequence[tuple[int, int]] = (),
) -> Iterator[tuple[str, int, int]]:
    """The friendship graph in GDS's memory: (name, nodes, relationships). ``label`` and
    ``rel`` name another graph of the same shape (the evaluation's scratch graphs);
    ``without`` lists pairs of ids left out of it."""
    name = f"studyhub-social-{uuid.uuid4().hex[:8]}"
    if without:
        left_out = {f"{a}-{b}": True for pair in without for a, b in (pair, pair[::-1])}
        records, _, _ = driver.execute_query(
            _PROJECT_WITHOUT.format(label=label, rel=rel),
            name=name,
            without=left_out,
            database_=database,
        )
    else:
        records, _, _ = driver.execute_query(
            _PROJECT, name=name, label=label, rel=rel, database_=database
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
    resolution: float = 1.0  # Leiden's gamma
    resolution_steps: int = 0  # estimation rounds it took


RESOLUTION_STEPS = 8  # Newman's iteration: it settles in two to six steps on our graphs
RESOLUTION_MAX = 10.0


def planted_partition_gamma(inside: float, total: float, squared_degrees: float) -> float | None:
    """The resolution at which maximising modularity is maximum likelihood for a
    degree-corrected planted partition with the given partition's densities (Newman 2016,
    "Equivalence between modularity optimization and maximum likelihood methods for community
    detection"). ``inside``: edge weight within communities; ``total``: all edge weight;
    ``squared_degrees``: the sum over communities of their degree sum squared. None when the
    partition has no contrast to measure (one community, or nothing between them)."""
    if total <= 0:
        return None
    expected = squared_degrees / (2 * total)
    if inside <= 0 or inside >= total or expected <= 0 or expected >= 2 * total:
        return None
    omega_in = 2 * inside / expected
    omega_out = 2 * (total - inside) / (2 * total - expected)
    if omega_in <= omega_out:
        return None
    return (omega_in - omega_out) / (math.log(omega_in) - math.log(omega_out))


def _degrees(driver: Driver, database: str, name: str) -> dict[int, float]:
    records, _, _ = driver.execute_query(
        "CALL gds.degree.stream($name, {relationshipWeightProperty: 'weight'}) "
        "YIELD nodeId, score RETURN nodeId, score",
        name=name,
        database_=database,
    )
    return {int(r["nodeId"]): float(r["score"]) for r in records}


def _squared_degree_sums(
    driver: Driver, database: str, name: str, prop: str, degree: dict[int, float]
) -> float:
    """The sum over communities (node property ``prop`` of the projection) of their degree
    sum squared: the expected-edges term of modularity."""
    records, _, _ = driver.execute_query(
        "CALL gds.graph.nodeProperty.stream($name, $prop) "
        "YIELD nodeId, propertyValue RETURN nodeId, propertyValue AS community",
        name=name,
        prop=prop,
        database_=database,
    )
    sums: dict[int, float] = {}
    for r in records:
        community = int(r["community"])
        sums[community] = sums.get(community, 0.0) + degree.get(int(r["nodeId"]), 0.0)
    return sum(v * v for v in sums.values())


def _estimate_gamma(
    driver: Driver, database: str, name: str, seed: int, degree: dict[int, float]
) -> tuple[float, int]:
    """Leiden's resolution, estimated without labels: run at gamma, measure the densities of
    what it found, set gamma to the planted-partition value, until it settles. Modularity's
    fixed gamma of 1 merges small communities in large graphs (its resolution limit) and
    splits nothing in dense ones; the estimate follows the graph instead.

    GDS's Leiden reports the modularity at its gamma, inside / m - gamma * squared / (2m)^2
    (checked against a direct count), so the weight inside communities follows from it and
    the squared degree sums; gds.modularity.stats is not used: it fails on the benchmark's
    population (ArrayIndexOutOfBounds in GDS 2.13)."""
    total = sum(degree.values()) / 2
    gamma, steps = 1.0, 0
    while steps < RESOLUTION_STEPS and total > 0:
        steps += 1
        records, _, _ = driver.execute_query(
            "CALL gds.leiden.mutate($name, {mutateProperty: 'community_try', gamma: $gamma, "
            "randomSeed: $seed, concurrency: 1, relationshipWeightProperty: 'weight'}) "
            "YIELD modularity RETURN modularity",
            name=name,
            gamma=gamma,
            seed=seed,
            database_=database,
        )
        squared = _squared_degree_sums(driver, database, name, "community_try", degree)
        driver.execute_query(
            "CALL gds.graph.nodeProperties.drop($name, ['community_try']) "
            "YIELD propertiesRemoved RETURN propertiesRemoved",
            name=name,
            database_=database,
        )
        inside = total * (float(records[0]["modularity"]) + gamma * squared / (4 * total**2))
        estimate = planted_partition_gamma(inside, total, squared)
        if estimate is None:
            break
        estimate = min(estimate, RESOLUTION_MAX)
        if abs(estimate - gamma) < 0.01:
            gamma = estimate
            break
        gamma = estimate
    return gamma, steps


def detect_communities(
    driver: Driver,
    database: str,
    *,
    algorithm: Literal["leiden", "louvain"] = "leiden",
    seed: int = 42,
    label: str = USER,
    rel: str = FRIEND,
    without: Sequence[tuple[int, int]] = (),
    write_property: str = "community",
    resolution: float | None = None,
) -> CommunityReport:
    """Communities written to ``write_property``. Leiden's resolution is estimated from the
    graph (``_estimate_gamma``) unless ``resolution`` fixes it; Louvain keeps GDS's defaults
    (it is the evaluation's baseline)."""
    with projection(driver, database, label=label, rel=rel, without=without) as (
        name,
        nodes,
        relationships,
    ):
        gamma, steps = 1.0, 0
        # Degrees only when a resolution other than 1 is estimated or used.
        degree: dict[int, float] = {}
        if algorithm == "leiden" and resolution != 1.0:
            degree = _degrees(driver, database, name)
        if algorithm == "leiden":
            if resolution is None:
                gamma, steps = _estimate_gamma(driver, database, name, seed, degree)
            else:
                gamma = resolution
            # Seeded and on one thread: the same graph gives the same communities.
            options = "randomSeed: $seed, concurrency: 1, gamma: $gamma, "
        else:
            options = "concurrency: 1, "  # Louvain has no seed; one thread is deterministic
        # Mutate, measure, then write: the modularity reported is the plain one (gamma 1) of
        # what is written, comparable across runs, resolutions and methods.
        records, _, _ = driver.execute_query(
            f"CALL gds.{algorithm}.mutate($name, {{mutateProperty: $property, {options}"
            "relationshipWeightProperty: 'weight'}) "
            "YIELD communityCount, ranLevels, computeMillis, modularity "
            "RETURN communityCount, ranLevels, computeMillis, modularity",
            name=name,
            seed=seed,
            gamma=gamma,
            property=write_property,
            database_=database,
        )
        modularity = float(records[0]["modularity"])
        total = sum(degree.values()) / 2
        if gamma != 1.0 and total > 0:
            squared = _squared_degree_sums(driver, database, name, write_property, degree)
            modularity += (gamma - 1.0) * squared / (4 * total**2)
        driver.execute_query(
            "CALL gds.graph.nodeProperties.write($name, [$property]) "
            "YIELD propertiesWritten RETURN propertiesWritten",
            name=name,
            property=write_property,
            database_=database,
        )
    row = records[0]
    return CommunityReport(
        algorithm=algorithm,
        nodes=nodes,
        relationships=relationships,
        communities=int(row["communityCount"]),
        modularity=modularity,
        levels=int(row["ranLevels"]),
        compute_ms=int(row["computeMillis"]),
        resolution=round(gamma, 3),
        resolution_steps=steps,
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


def active_user_communities(driver: Driver, database: str) -> pd.DataFrame:
    """Every active user's community (null if the last run did not reach them), indexed by
    user id: the frame the ``every_active_user_has_a_community`` expectation runs over."""
    frame: pd.DataFrame = driver.execute_query(
        f"MATCH (u:{USER}) WHERE u.active RETURN u.id AS user_id, u.community AS community",
        database_=database,
        result_transformer_=Result.to_df,
    )
    if frame.empty:
        frame = pd.DataFrame({"user_id": [], "community": []})
    return frame.set_index("user_id")


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
