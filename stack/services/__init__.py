"""The services of the local stack, in start order."""

from __future__ import annotations

from core.settings import Settings
from stack.services.api import ApiService
from stack.services.base import Service, ServiceStatus
from stack.services.dagster import DagsterCodeServer, DagsterDaemon, DagsterWebserver
from stack.services.dashboards import DashboardsService
from stack.services.flink import FlinkJobManager, FlinkTaskManager
from stack.services.flink_jobs import (
    ChatPersistJob,
    FlinkJob,
    MetricsJob,
    ModerationJob,
)
from stack.services.influxdb import InfluxDBService
from stack.services.kafka import KafkaService
from stack.services.mariadb import MariaDBShard
from stack.services.monitor import MonitorService
from stack.services.neo4j import Neo4jService
from stack.services.redis import RedisService

__all__ = ["Service", "ServiceStatus", "all_services", "start_waves"]


def all_services(settings: Settings) -> list[Service]:
    return [
        *(MariaDBShard(settings, shard) for shard in range(settings.mysql_shards)),
        RedisService(settings),
        InfluxDBService(settings),
        KafkaService(settings),
        Neo4jService(settings),
        FlinkJobManager(settings),
        FlinkTaskManager(settings),
        ApiService(settings),
        DagsterCodeServer(settings),
        DagsterWebserver(settings),
        ChatPersistJob(settings),
        ModerationJob(settings),
        MetricsJob(settings),
        DagsterDaemon(settings),
        MonitorService(settings),
        DashboardsService(settings),
    ]


def start_waves(services: list[Service]) -> list[list[Service]]:
    """Groups that may start concurrently; a later wave needs the earlier ones up."""
    # The webserver and the daemon read the code server; jobs need the TaskManager; the
    # daemon's health is read through the webserver; the monitor watches the jobs; the
    # dashboards sign in through the API and read what the monitor writes.
    second_kinds = (FlinkTaskManager, ApiService, DagsterCodeServer)
    third_kinds = (FlinkJob, DagsterWebserver)
    fourth_kinds = (DagsterDaemon, MonitorService, DashboardsService)
    later = (*second_kinds, *third_kinds, *fourth_kinds)
    first: list[Service] = [s for s in services if not isinstance(s, later)]
    second: list[Service] = [s for s in services if isinstance(s, second_kinds)]
    third: list[Service] = [s for s in services if isinstance(s, third_kinds)]
    fourth: list[Service] = [s for s in services if isinstance(s, fourth_kinds)]
    return [wave for wave in (first, second, third, fourth) if wave]
