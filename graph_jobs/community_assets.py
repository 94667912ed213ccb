"""Communities and influence as Dagster assets, with the checks that guard them.

- ``graph_communities`` (after ``graph_weights``): Leiden on the weighted friendship graph.
  Checks: ``every_active_user_has_a_community`` and ``modularity_holds`` (not below 80 % of the
  previous run's), both blocking: what they guard is served.
- ``graph_influence``: PageRank and degree, the top influencers overall and per community.
  Check: ``top_k_churn_bounded``, at most half of the previous run's top 100 replaced.
- ``graph_metrics_mysql``: both copied to MySQL (``user_graph_metrics``) for the dashboards.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at definition time.
from typing import Any, Literal

import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from graph_jobs.communities import (
    active_user_communities,
    copy_metrics_to_mysql,
    detect_communities,
    rank_influence,
    top_churn,
)
from graph_jobs.resources import MySQLResource, Neo4jResource, QualityResource
from graph_jobs.sync.assets import GROUP_NAME

MODULARITY_FLOOR = 0.8  # of the previous run's modularity
CHURN_LIMIT = 0.5
TOP_K = 100


def _last_state(
    context: AssetExecutionContext | AssetCheckExecutionContext, key: str
) -> dict[str, Any]:
    """The ``<name>_state`` metadata of the asset's latest materialisation, or {}: inside the
    asset that is the previous run's, inside its checks the run just made."""
    event = context.instance.get_latest_materialization_event(AssetKey(key))
    if event is None or event.asset_materialization is None:
        return {}
    entry = event.asset_materialization.metadata.get(key.removeprefix("graph_") + "_state")
    return {} if entry is None else dict(entry.value)


class CommunityConfig(Config):
    algorithm: Literal["leiden", "louvain"] = "leiden"
    seed: int = 42
    # Leiden's gamma; unset, it is estimated from the graph (graph_jobs.communities).
    resolution: float | None = None


@asset(group_name=GROUP_NAME, deps=["graph_weights"], kinds={"neo4j", "gds"})
def graph_communities(
    context: AssetExecutionContext, config: CommunityConfig, neo4j: Neo4jResource
) -> MaterializeResult[None]:
    """Communities of friends (GDS Leiden, weighted), written to User.community."""
    previous = _last_state(context, "graph_communities")
    report = detect_communities(
        neo4j.driver,
        neo4j.database,
        algorithm=config.algorithm,
        seed=config.seed,
        resolution=config.resolution,
    )
    context.log.info(
        "%s: %d communities over %d users, modularity %.4f (previous %s), %d levels",
        report.algorithm,
        report.communities,
        report.nodes,
        report.modularity,
        previous.get("modularity", "-"),
        report.levels,
    )
    state = {"modularity": report.modularity, "previous_modularity": previous.get("modularity")}
    return MaterializeResult(
        metadata={
            "algorithm": report.algorithm,
            "users": report.nodes,
            # An undirected projection counts each pair in both directions.
            "friendships": report.relationships // 2,
            "communities": report.communities,
            "modularity": report.modularity,
            "levels": report.levels,
            "resolution": report.resolution,
            "resolution_steps": report.resolution_steps,
            "compute_ms": report.compute_ms,
            "communities_state": MetadataValue.json(state),
        }
    )


@asset_check(asset=graph_communities, blocking=True)
def every_active_user_has_a_community(
    neo4j: Neo4jResource, quality: QualityResource
) -> AssetCheckResult:
    verdict = quality.gx.not_null(
        "every_active_user_has_a_community",
        active_user_communities(neo4j.driver, neo4j.database),
        "community",
    )
    return AssetCheckResult(passed=verdict.passed, metadata=verdict.metadata())


@asset_check(asset=graph_communities, blocking=True)
def modularity_holds(context: AssetCheckExecutionContext) -> AssetCheckResult:
    """Modularity has not collapsed since the last run: a sign of a broken projection or sync."""
    state = _last_state(context, "graph_communities")
    now, before = state.get("modularity"), state.get("previous_modularity")
    if now is None:
        return AssetCheckResult(passed=False, metadata={"problem": "no materialisation to check"})
    passed = before is None or now >= MODULARITY_FLOOR * before
    return AssetCheckResult(
        passed=passed,
        metadata={"modularity": now, "previous": before, "floor_share": MODULARITY_FLOOR},
    )


@asset(group_name=GROUP_NAME, deps=["graph_communities"], kinds={"neo4j", "gds"})
def graph_influence(
    context: AssetExecutionContext, neo4j: Neo4jResource
) -> MaterializeResult[None]:
    """PageRank (weighted) and degree, written to User.pagerank and User.degree; the top
    influencers overall and in each of the largest communities."""
    previous = _last_state(context, "graph_influence")
    report = rank_influence(neo4j.driver, neo4j.database, top_k=TOP_K)
    top_ids = [int(row["id"]) for row in report.top]
    context.log.info(
        "PageRank over %d users in %d iterations (converged: %s)",
        report.nodes,
        report.iterations,
        report.converged,
    )
    state = {"top": top_ids, "previous_top": previous.get("top", [])}
    return MaterializeResult(
        metadata={
            "users": report.nodes,
            "iterations": report.iterations,
            "converged": report.converged,
            "top_10": MetadataValue.md(
                "| user | username | pagerank | friends | community |\n|---|---|---|---|---|\n"
                + "\n".join(
                    f"| {r['id']} | {r['username']} | {r['pagerank']:.3f} | {r['degree']:.0f} "
                    f"| {r['community']} |"
                    for r in report.top[:10]
                )
            ),
            "top_per_community": MetadataValue.json(report.per_community),
            "influence_state": MetadataValue.json(state),
        }
    )


@asset_check(asset=graph_influence)
def top_k_churn_bounded(
    context: AssetCheckExecutionContext, quality: QualityResource
) -> AssetCheckResult:
    """At most half of the top 100 is new since the last run: PageRank over a graph that
    changed by a day's friendships moves a little, not wholesale."""
    state = _last_state(context, "graph_influence")
    previous, current = state.get("previous_top", []), state.get("top", [])
    meta = {"churn": round(top_churn(previous, current), 3), "limit": CHURN_LIMIT, "k": TOP_K}
    if not previous:
        return AssetCheckResult(passed=True, metadata={**meta, "note": "no previous run"})
    verdict = quality.gx.mostly_in(
        "top_k_churn_bounded",
        pd.DataFrame({"user_id": current}),
        "user_id",
        previous,
        mostly=1.0 - CHURN_LIMIT,
    )
    return AssetCheckResult(passed=verdict.passed, metadata={**meta, **verdict.metadata()})


@asset(group_name=GROUP_NAME, deps=["graph_influence"], kinds={"neo4j", "mysql"})
def graph_metrics_mysql(
    context: AssetExecutionContext, neo4j: Neo4jResource, mysql: MySQLResource
) -> MaterializeResult[None]:
    """Community, PageRank and degree per user, copied to MySQL's user_graph_metrics (shard 0)
    for the dashboards."""
    written, deleted = copy_metrics_to_mysql(neo4j.driver, neo4j.database, mysql.directory)
    context.log.info("user_graph_metrics: %d rows written, %d stale deleted", written, deleted)
    return MaterializeResult(metadata={"rows": written, "stale_removed": deleted})


community_assets = [graph_communities, graph_influence, graph_metrics_mysql]
community_checks = [every_active_user_has_a_community, modularity_holds, top_k_churn_bounded]
