"""The graph sync in Dagster: one asset per relation, its check, the event job and its sensor.

- ``graph_<relation>`` assets copy MySQL into Neo4j and repair drift (``sync.full``).
- Each has a ``matches_mysql`` check: counts on both sides and a sample of users'
  neighbourhoods. A difference fails the check; beyond 0.1 % of the rows it is an error.
- ``graph_weights`` derives co-presence and friendship strength inside Neo4j.
- ``graph_event_sync`` drains social-events and room-events into Neo4j; the
  ``graph_events_sensor`` launches it whenever the consumer group lags, so the graph follows
  the product within a sensor interval plus a run's start-up (about half a minute).
"""

# No `from __future__ import annotations` here: Dagster reads the context and resource
# annotations at definition time and refuses them as strings.
from collections.abc import Iterator

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    MaterializeResult,
    OpExecutionContext,
    RunRequest,
    RunsFilter,
    ScheduleDefinition,
    SensorEvaluationContext,
    SkipReason,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
    job,
    op,
    sensor,
)
from sqlalchemy import Engine

from core.events import ROOM_EVENTS, SOCIAL_EVENTS, Event
from core.graph import BLOCKED, FRIEND
from core.settings import get_settings
from graph_jobs.resources import KafkaResource, MySQLResource, Neo4jResource, QualityResource
from graph_jobs.suggestions import SUGGESTIONS_PER_USER, model_from, store_suggestions
from graph_jobs.sync.consume import drain, lag
from graph_jobs.sync.events import GraphChanges
from graph_jobs.sync.full import (
    compare_relation,
    copy_relation,
    ensure_constraints,
    sample_user_ids,
)
from graph_jobs.sync.relations import RELATIONS, Relation
from graph_jobs.sync.weights import derive_weights

GROUP_NAME = "social_graph"
EVENT_TOPICS = (SOCIAL_EVENTS, ROOM_EVENTS)
# Beyond these shares (of rows counted, of users sampled) a failed check is an error, not a
# warning: the event sync lags by seconds and a re-sync repairs the rest; more means a bug.
SUGGESTIONS = AssetKey("graph_friend_suggestions")  # graph_jobs.suggestion_assets
DRIFT_ERROR = 0.001
SAMPLE_ERROR = 0.01


def _engines(relation: Relation, mysql: MySQLResource) -> list[Engine]:
    return mysql.shards if relation.shards == "all" else [mysql.directory]


def _relation_asset(relation: Relation) -> AssetsDefinition:
    @asset(
        name=relation.asset_name,
        group_name=GROUP_NAME,
        description=relation.description,
        deps=[f"graph_{dep}" for dep in relation.deps],
        kinds={"neo4j", "mysql"},
    )
    def _copy(
        context: AssetExecutionContext, neo4j: Neo4jResource, mysql: MySQLResource
    ) -> MaterializeResult[None]:
        ensure_constraints(neo4j.driver, neo4j.database)
        step = max(100_000, neo4j.batch_size)
        logged = [0]

        def progress(rows: int) -> None:
            if rows - logged[0] >= step:
                logged[0] = rows
                context.log.info("%s: %s rows written", relation.name, f"{rows:,}")

        report = copy_relation(
            relation,
            engines=_engines(relation, mysql),
            driver=neo4j.driver,
            database=neo4j.database,
            batch=neo4j.batch_size,
            progress=progress,
        )
        context.log.info(
            "%s: %s rows in %.1fs (%s/s), %s stale removed",
            relation.name,
            f"{report.rows:,}",
            report.seconds,
            f"{report.rows_per_second:,.0f}",
            f"{report.swept:,}",
        )
        return MaterializeResult(
            metadata={
                "rows": report.rows,
                "batches": report.batches,
                "stale_removed": report.swept,
                "seconds": round(report.seconds, 2),
                "rows_per_second": round(report.rows_per_second),
            }
        )

    return _copy


class CheckConfig(Config):
    sample_users: int = 200
    # Users whose neighbourhoods are compared whatever the sample draws (a user someone
    # reported, or the one a test broke on purpose).
    user_ids: list[int] = []  # noqa: RUF012 - pydantic copies the default per instance


def _relation_check(relation: Relation) -> AssetChecksDefinition:
    @asset_check(
        asset=AssetKey(relation.asset_name),
        name="matches_mysql",
        description=(
            f"{relation.name}: the same count in MySQL and Neo4j"
            + (", and the same neighbours for a sample of users" if relation.sample_sql else "")
        ),
    )
    def _check(
        context: AssetCheckExecutionContext,
        config: CheckConfig,
        neo4j: Neo4jResource,
        mysql: MySQLResource,
    ) -> AssetCheckResult:
        users = sorted({*config.user_ids, *sample_user_ids(mysql.directory, config.sample_users)})
        comparison = compare_relation(
            relation,
            engines=_engines(relation, mysql),
            directory=mysql.directory,
            driver=neo4j.driver,
            database=neo4j.database,
            user_ids=users,
        )
        if not comparison.matches:
            context.log.warning("%s differs: %s", relation.name, comparison.metadata())
        if comparison.orphans:
            context.log.warning(
                "%s: %d MySQL rows point at a user, group or room that does not exist",
                relation.name,
                comparison.orphans,
            )
        return AssetCheckResult(
            passed=comparison.matches,
            severity=(
                AssetCheckSeverity.ERROR
                if comparison.drift > DRIFT_ERROR
                or len(comparison.differences) > SAMPLE_ERROR * len(users)
                else AssetCheckSeverity.WARN
            ),
            metadata=comparison.metadata(),
        )

    return _check


relation_assets = [_relation_asset(relation) for relation in RELATIONS]
relation_checks = [_relation_check(relation) for relation in RELATIONS]

# The rows that break each rule (GX runs them in MariaDB: graph_jobs.quality). Friendships are
# stored one row per direction and MariaDB cannot enforce it (no foreign keys or CHECKs across
# the partitions), so these say whether the API's writes kept it.
_ONE_WAY = (
    "SELECT f.user1_id, f.user2_id FROM friendships f "
    "LEFT JOIN friendships r ON r.user1_id = f.user2_id AND r.user2_id = f.user1_id "
    "WHERE r.user1_id IS NULL"
)
_SELF = "SELECT user1_id, user2_id FROM friendships WHERE user1_id = user2_id"


def _friendship_rule(name: str, query: str, description: str) -> AssetChecksDefinition:
    # Blocking: the weights, communities and suggestions would be built on a broken graph.
    @asset_check(
        asset=AssetKey("graph_friendships"), name=name, description=description, blocking=True
    )
    def _check(quality: QualityResource) -> AssetCheckResult:
        verdict = quality.gx.no_rows(
            name,
            source="directory",
            connection_string=quality.mysql_url(),
            query=query,
            description=description,
        )
        return AssetCheckResult(passed=verdict.passed, metadata=verdict.metadata())

    return _check


friendship_rules = [
    _friendship_rule(
        "friendships_symmetric", _ONE_WAY, "every friendship row has its reverse in MySQL"
    ),
    _friendship_rule("no_self_friendship", _SELF, "no user is their own friend in MySQL"),
]


@asset(
    group_name=GROUP_NAME,
    deps=["graph_friendships", "graph_room_participants", "graph_group_members"],
    kinds={"neo4j"},
)
def graph_weights(context: AssetExecutionContext, neo4j: Neo4jResource) -> MaterializeResult[None]:
    """Co-presence (rooms a pair shares now) and friendship strength (1 + rooms and groups
    shared), derived inside Neo4j after the copy."""
    report = derive_weights(neo4j.driver, neo4j.database)
    context.log.info(
        "%s co-present pairs, %s friendships weighed in %.1fs",
        f"{report.co_present:,}",
        f"{report.friendships_weighed:,}",
        report.seconds,
    )
    return MaterializeResult(
        metadata={
            "co_present_pairs": report.co_present,
            "co_present_removed": report.co_present_swept,
            "friendships_weighed": report.friendships_weighed,
            "seconds": round(report.seconds, 2),
        }
    )


graph_full_sync = define_asset_job(
    "graph_full_sync",
    selection=AssetSelection.groups(GROUP_NAME),
    description="Copy the whole social graph from MySQL into Neo4j and repair any drift.",
)

graph_nightly_resync = ScheduleDefinition(
    name="graph_nightly_resync",
    job=graph_full_sync,
    cron_schedule="30 3 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="The full re-sync, nightly, when the platform is quiet.",
)


class EventSyncConfig(Config):
    batch: int = 5_000
    # Re-score the suggestions of users whose friendships or blocks changed, and of their
    # friends, with the weights of the last full run (graph_friend_suggestions).
    refresh_suggestions: bool = True


def _refresh_suggestions(
    context: OpExecutionContext, neo4j: Neo4jResource, mysql: MySQLResource, touched: set[int]
) -> None:
    event = context.instance.get_latest_materialization_event(SUGGESTIONS)
    done = event.asset_materialization if event is not None else None
    stored = done.metadata.get("model") if done is not None else None
    model = model_from(dict(stored.value) if stored is not None else None)  # type: ignore[arg-type]
    per_user = done.metadata.get("per_user") if done is not None else None
    if model is None:
        context.log.info("no suggestions stored yet: nothing to refresh")
        return
    report = store_suggestions(
        neo4j.driver,
        neo4j.database,
        mysql.directory,
        users=sorted(touched),
        neighbours=True,
        model=model,
        k=int(per_user.value) if per_user is not None else SUGGESTIONS_PER_USER,  # type: ignore[arg-type]
    )
    context.log.info(
        "suggestions refreshed for %d users (%d touched and their friends), %d rows, %s",
        report.users,
        len(touched),
        report.rows,
        report.seconds,
    )


@op(description="Apply social-events and room-events to Neo4j, up to where the topics stood.")
def apply_graph_events(
    context: OpExecutionContext,
    config: EventSyncConfig,
    neo4j: Neo4jResource,
    kafka: KafkaResource,
    mysql: MySQLResource,
) -> None:
    ensure_constraints(neo4j.driver, neo4j.database)
    totals = {"created": 0, "deleted": 0}
    touched: set[int] = set()

    def apply(events: list[Event]) -> None:
        changes = GraphChanges()
        for event in events:
            changes.add(event)
        counts = changes.apply(neo4j.driver, neo4j.database)
        for kind in (FRIEND, BLOCKED):
            for a, b in changes.pairs.get(kind, {}):
                touched.update((a, b))
        for name, value in counts.items():
            totals[name] += value
        context.log.info(
            "%d events -> %d changes (+%d / -%d relationships)",
            len(events),
            len(changes),
            counts["created"],
            counts["deleted"],
        )

    with kafka.consumer() as consumer:
        report = drain(consumer, EVENT_TOPICS, apply, batch=config.batch)
    context.log.info(
        "drained %d records in %d batch(es), %d malformed skipped; relationships +%d -%d",
        report.records,
        report.batches,
        report.malformed,
        totals["created"],
        totals["deleted"],
    )
    if touched and config.refresh_suggestions:
        _refresh_suggestions(context, neo4j, mysql, touched)


# In process: one op, so the default multiprocess executor would only add a second Python
# start-up (seconds of CPU) to every run the sensor launches.
@job(
    description="Follow social-events and room-events into Neo4j (launched by its sensor).",
    executor_def=in_process_executor,
)
def graph_event_sync() -> None:
    apply_graph_events()


_ACTIVE = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@sensor(
    job=graph_event_sync,
    minimum_interval_seconds=get_settings().dagster_sensor_interval_s,
    default_status=DefaultSensorStatus.RUNNING,
    description="Launches graph_event_sync when social-events or room-events have new records.",
)
def graph_events_sensor(
    context: SensorEvaluationContext, kafka: KafkaResource
) -> Iterator[RunRequest | SkipReason]:
    active = context.instance.get_runs(
        RunsFilter(job_name=graph_event_sync.name, statuses=_ACTIVE), limit=1
    )
    if active:
        yield SkipReason(f"run {active[0].run_id} is still draining")
        return
    with kafka.consumer() as consumer:
        behind = lag(consumer, EVENT_TOPICS)
    if behind == 0:
        yield SkipReason("the graph is up to date with the event topics")
        return
    yield RunRequest(tags={"studyhub/lag": str(behind)})
