"""People you may know as a Dagster asset, with the check that guards what the API serves.

- ``graph_friend_suggestions`` (after ``graph_communities``): every user's top 20, fitted and
  ranked by ``graph_jobs.recommend``, stored in MySQL's ``friend_suggestions``.
- ``suggestions_exclude_friends_and_blocks`` (blocking): no stored suggestion is a friend or
  blocked either way, counting only what MySQL held a minute before the run (the graph follows
  MySQL by the event sync's lag; the API filters whatever changed since).
"""

# No `from __future__ import annotations`: Dagster reads these annotations at definition time.
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    Config,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from graph_jobs.recommend import FIT_SAMPLE
from graph_jobs.resources import MySQLResource, Neo4jResource, QualityResource
from graph_jobs.suggestions import SUGGESTIONS_PER_USER, store_suggestions
from graph_jobs.sync.assets import GROUP_NAME

SYNC_ALLOWANCE_S = 60  # how far the graph may trail MySQL before a stale row is a failure


class SuggestionConfig(Config):
    per_user: int = SUGGESTIONS_PER_USER
    seed: int = 42
    fit_sample: int = FIT_SAMPLE  # left-out friendships the weights are fitted on


@asset(group_name=GROUP_NAME, deps=["graph_communities"], kinds={"neo4j", "mysql"})
def graph_friend_suggestions(
    context: AssetExecutionContext,
    config: SuggestionConfig,
    neo4j: Neo4jResource,
    mysql: MySQLResource,
) -> MaterializeResult[None]:
    """People you may know for every user, with their reasons, in MySQL's friend_suggestions
    (shard 0), which GET /friends/suggestions serves."""
    report = store_suggestions(
        neo4j.driver,
        neo4j.database,
        mysql.directory,
        k=config.per_user,
        seed=config.seed,
        sample=config.fit_sample,
        progress=context.log.info,
    )
    weights = dict(zip(report.model["features"], report.model["weights"], strict=True))
    return MaterializeResult(
        metadata={
            "users": report.users,
            "users_with_suggestions": report.scored,
            "rows": report.rows,
            "stale_removed": report.removed,
            "fitted_on": report.model["fitted_on"],
            "weights": MetadataValue.json(weights),
            "model": MetadataValue.json(report.model),  # all of it: enough to score with
            "per_user": config.per_user,  # the event sync's re-scoring keeps as many
            "seconds": MetadataValue.json(report.seconds),
        }
    )


# The stored rows that break the rule. GX runs it in MariaDB (graph_jobs.quality); a GX query
# asset takes no bind parameters, and the one value formatted in is this module's int.
_STALE = (
    "SELECT s.user_id, s.candidate_id, s.computed_at FROM friend_suggestions s WHERE "  # noqa: S608
    "EXISTS (SELECT 1 FROM friendships f WHERE f.user1_id = s.user_id "
    "        AND f.user2_id = s.candidate_id "
    f"        AND f.created_at < s.computed_at - INTERVAL {SYNC_ALLOWANCE_S} SECOND) "
    "OR EXISTS (SELECT 1 FROM user_blocks b WHERE "
    "        ((b.blocker_id = s.user_id AND b.blocked_id = s.candidate_id) "
    "         OR (b.blocker_id = s.candidate_id AND b.blocked_id = s.user_id)) "
    f"        AND b.created_at < s.computed_at - INTERVAL {SYNC_ALLOWANCE_S} SECOND) "
    "OR s.candidate_id = s.user_id"
)


@asset_check(asset=graph_friend_suggestions, blocking=True)
def suggestions_exclude_friends_and_blocks(quality: QualityResource) -> AssetCheckResult:
    verdict = quality.gx.no_rows(
        "suggestions_exclude_friends_and_blocks",
        source="directory",
        connection_string=quality.mysql_url(),
        query=_STALE,
        description="no stored suggestion is the user, a friend, or blocked either way",
    )
    return AssetCheckResult(
        passed=verdict.passed,
        metadata={**verdict.metadata(), "allowance_s": SYNC_ALLOWANCE_S},
    )


suggestion_assets = [graph_friend_suggestions]
suggestion_checks = [suggestions_exclude_friends_and_blocks]
