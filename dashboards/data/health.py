"""Pipeline health and the chat path's KPIs, as the monitor wrote them (core/metrics.py names
the measurements), plus what only a live look can tell: the services answering, and Dagster's
latest runs and asset checks (its GraphQL API, the one its own UI reads)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import redis
from influxdb_client.client.influxdb_client import InfluxDBClient
from neo4j import Driver
from sqlalchemy import text

from core import metrics
from core.db.sharding import ShardRouter
from core.settings import Settings

# Each alert rule's chart: the measurement and field the monitor judged it on.
RULE_SERIES: Final[dict[str, tuple[str, str]]] = {
    "queue_depth": (metrics.KAFKA_LAG, "lag"),
    "redis_memory": (metrics.REDIS_MEMORY, "ratio"),
    "flink_job": (metrics.FLINK_JOB, "running"),
    "checkpoint_age": (metrics.FLINK_JOB, "checkpoint_age_s"),
    "join_latency": (metrics.ROOM_JOIN, "p95_ms"),
    "delivery_latency": (metrics.CHAT_DELIVERY, "p95_ms"),
    "delivery_success": (metrics.CHAT_DELIVERY, "success"),
}


@dataclass(frozen=True)
class Kpi:
    name: str
    value: float | None  # None: nothing measured lately (a quiet chat has no p95)
    unit: str
    limit: float  # the alert's threshold
    higher_is_worse: bool = True
    history: tuple[float, ...] = ()  # the last half hour, a value per monitor round

    @property
    def breached(self) -> bool:
        if self.value is None:
            return False
        return self.value > self.limit if self.higher_is_worse else self.value < self.limit


def _worst_per_round(points: list[metrics.Point], name: str) -> list[tuple[datetime, float]]:
    """One value per monitor round: the largest over its series (e.g. the most lagging
    group and topic)."""
    rounds: dict[datetime, float] = {}
    for point in points:
        value = point.fields.get(name)
        if value is not None:
            rounds[point.start] = max(float(value), rounds.get(point.start, float("-inf")))
    return sorted(rounds.items())


def kpis(client: InfluxDBClient, settings: Settings) -> list[Kpi]:
    """The seed's targets against the monitor's rounds of the last half hour (each round
    covers its window, 30 s by default); the value is the newest round's, if recent."""
    bucket = settings.influx_bucket
    fresh_after = datetime.now(UTC) - timedelta(minutes=2)
    wanted = (
        ("room join p95", metrics.ROOM_JOIN, "p95_ms", "ms", settings.alert_join_p95_ms, True),
        ("send p95", metrics.CHAT_SEND, "p95_ms", "ms", settings.alert_delivery_p95_ms, True),
        (
            "delivery p95",
            metrics.CHAT_DELIVERY,
            "p95_ms",
            "ms",
            settings.alert_delivery_p95_ms,
            True,
        ),
        (
            "delivered",
            metrics.CHAT_DELIVERY,
            "success",
            "%",
            settings.alert_delivery_success,
            False,
        ),
        ("queue depth", metrics.KAFKA_LAG, "lag", "records", settings.alert_queue_depth, True),
        (
            "Redis memory",
            metrics.REDIS_MEMORY,
            "ratio",
            "%",
            settings.alert_redis_memory_ratio,
            True,
        ),
    )
    read: dict[str, list[metrics.Point]] = {}
    found: list[Kpi] = []
    for name, measurement, field, unit, limit, higher_is_worse in wanted:
        if measurement not in read:
            read[measurement] = metrics.samples(client, bucket, measurement, start="-30m")
        rounds = _worst_per_round(read[measurement], field)
        value = rounds[-1][1] if rounds and rounds[-1][0] >= fresh_after else None
        history = tuple(v for _, v in rounds)
        found.append(Kpi(name, value, unit, float(limit), higher_is_worse, history))
    return found


def live_rooms(client: InfluxDBClient, settings: Settings) -> dict[str, int]:
    """Rooms open and occupied and the people in them, as of the monitor's newest round."""
    points = metrics.samples(
        client, settings.influx_bucket, metrics.LIVE_ROOMS, start="-2m", last=True
    )
    return {k: int(v) for k, v in points[-1].fields.items() if k != "complete"} if points else {}


def series(
    client: InfluxDBClient, settings: Settings, measurement: str, start: str = "-1h"
) -> list[metrics.Point]:
    return metrics.samples(client, settings.influx_bucket, measurement, start=start)


# -- the services, looked at now ------------------------------------------------------------


@dataclass(frozen=True)
class ServiceHealth:
    service: str
    up: bool
    detail: str
    took_ms: float


def _http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 5) -> Any:
    request = urllib.request.Request(  # noqa: S310 (http URLs from the settings)
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.load(response)


def services(
    settings: Settings, mysql: ShardRouter, influx: InfluxDBClient, neo4j: Driver
) -> list[ServiceHealth]:
    """Each service answering a trivial request, and how long it took."""

    def one_shard(shard: int) -> Callable[[], str]:
        def check() -> str:
            with mysql.engine(shard).connect() as db:
                return str(db.execute(text("SELECT VERSION()")).scalar())

        return check

    def redis_up() -> str:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=3)
        try:
            return f"{client.info('server')['redis_version']}"
        finally:
            client.close()

    def neo4j_up() -> str:
        neo4j.verify_connectivity()
        return str(neo4j.get_server_info().agent)

    def influx_up() -> str:
        return f"ping {'ok' if influx.ping() else 'failed'}"

    def flink_up() -> str:
        overview = _http_json(f"{settings.flink_rest_url}/overview")
        return f"{overview['jobs-running']} jobs running, {overview['slots-available']} slots free"

    def api_up() -> str:
        return str(_http_json(f"{settings.dashboard_api}/health")["status"])

    def dagster_up() -> str:
        return str(_http_json(f"{settings.dagster_url}/server_info")["dagster_version"])

    checks: list[tuple[str, Callable[[], str]]] = [
        *((f"mariadb-{shard}", one_shard(shard)) for shard in range(settings.mysql_shards)),
        ("redis", redis_up),
        ("influxdb", influx_up),
        ("neo4j", neo4j_up),
        ("flink", flink_up),
        ("api", api_up),
        ("dagster", dagster_up),
    ]
    found: list[ServiceHealth] = []
    for name, check in checks:
        began = time.perf_counter()
        try:
            detail, up = check(), True
        except Exception as error:  # noqa: BLE001 (any failure is the service's state)
            detail, up = f"{type(error).__name__}: {error}", False
        found.append(ServiceHealth(name, up, detail, (time.perf_counter() - began) * 1000))
    return found


# -- Dagster -------------------------------------------------------------------------------

_RUNS = """
query Runs($limit: Int!) {
  runsOrError(limit: $limit) {
    ... on Runs { results { runId jobName status startTime endTime } }
    ... on PythonError { message }
  }
}
"""
_CHECKS = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError {
      ... on AssetChecks {
        checks { name executionForLatestMaterialization { status timestamp } }
      }
    }
  }
}
"""


@dataclass(frozen=True)
class Run:
    run_id: str
    job: str
    status: str
    started: datetime | None
    ended: datetime | None


@dataclass(frozen=True)
class CheckResult:
    asset: str
    check: str
    status: str  # SUCCEEDED, FAILED, IN_PROGRESS, SKIPPED, ... or NOT_RUN
    at: datetime | None


def _graphql(settings: Settings, query: str, variables: dict[str, Any] | None = None) -> Any:
    body = _http_json(
        f"{settings.dagster_url}/graphql", {"query": query, "variables": variables or {}}, 10
    )
    if body.get("errors"):
        raise RuntimeError(f"Dagster GraphQL: {body['errors'][0].get('message')}")
    return body["data"]


def _when(stamp: float | None) -> datetime | None:
    return None if stamp is None else datetime.fromtimestamp(stamp).astimezone()


def dagster_runs(settings: Settings, limit: int = 20) -> list[Run]:
    data = _graphql(settings, _RUNS, {"limit": limit})["runsOrError"]
    if "results" not in data:
        raise RuntimeError(f"Dagster: {data.get('message')}")
    return [
        Run(r["runId"], r["jobName"], r["status"], _when(r["startTime"]), _when(r["endTime"]))
        for r in data["results"]
    ]


def asset_checks(settings: Settings) -> list[CheckResult]:
    results: list[CheckResult] = []
    for node in _graphql(settings, _CHECKS)["assetNodes"]:
        asset = "/".join(node["assetKey"]["path"])
        for check in (node.get("assetChecksOrError") or {}).get("checks", []):
            latest = check.get("executionForLatestMaterialization")
            results.append(
                CheckResult(
                    asset,
                    check["name"],
                    latest["status"] if latest else "NOT_RUN",
                    _when(latest["timestamp"]) if latest else None,
                )
            )
    return results
