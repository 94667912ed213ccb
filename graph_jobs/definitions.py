"""The Dagster code location of studyhub: every graph asset, check, job, schedule and sensor.

dagster-webserver -m graph_jobs.definitions     (``make up`` starts it, with the daemon)
"""

from __future__ import annotations

from dagster import Definitions

from graph_jobs.community_assets import community_assets, community_checks
from graph_jobs.engagement_assets import engagement_assets, engagement_jobs, engagement_schedules
from graph_jobs.resources import (
    InfluxResource,
    KafkaResource,
    MySQLResource,
    Neo4jResource,
    QualityResource,
)
from graph_jobs.suggestion_assets import suggestion_assets, suggestion_checks
from graph_jobs.sync.assets import (
    friendship_rules,
    graph_event_sync,
    graph_events_sensor,
    graph_full_sync,
    graph_nightly_resync,
    graph_weights,
    relation_assets,
    relation_checks,
)


def resources() -> dict[str, object]:
    """Resources of this deployment; tests pass the same ones to ``materialize``."""
    return {
        "neo4j": Neo4jResource(),
        "mysql": MySQLResource(),
        "kafka": KafkaResource(),
        "influx": InfluxResource(),
        "quality": QualityResource(),
    }


defs = Definitions(
    assets=[
        *relation_assets,
        graph_weights,
        *community_assets,
        *suggestion_assets,
        *engagement_assets,
    ],
    asset_checks=[*relation_checks, *friendship_rules, *community_checks, *suggestion_checks],
    jobs=[graph_full_sync, graph_event_sync, *engagement_jobs],
    schedules=[graph_nightly_resync, *engagement_schedules],
    sensors=[graph_events_sensor],
    resources=resources(),
)
