"""Dagster resources over the real stores, built from ``core.settings``.

Nothing here holds a secret in Dagster's config: each resource reads the deployment's
``STUDYHUB_*`` settings (environment first, then ``.env``) when a run starts, so the UI never shows
a password and one code location serves every deployment. What a data engineer may tune per run
(batch sizes, sample sizes) is resource config.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from confluent_kafka import Consumer
from dagster import ConfigurableResource, InitResourceContext
from influxdb_client.client.influxdb_client import InfluxDBClient
from neo4j import Driver
from pydantic import PrivateAttr
from sqlalchemy import Engine

from core.clients import influx_client, neo4j_driver
from core.db.sharding import DIRECTORY_SHARD, ShardRouter
from core.settings import Settings, get_settings
from graph_jobs.quality import Expectations


def _settings() -> Settings:
    return get_settings()


class Neo4jResource(ConfigurableResource):  # type: ignore[type-arg]
    """The Neo4j server of this deployment, through the official driver."""

    database: str = "neo4j"
    batch_size: int = 10_000

    _driver: Driver | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:  # noqa: ARG002
        self._driver = neo4j_driver(_settings())

    def teardown_after_execution(self, context: InitResourceContext) -> None:  # noqa: ARG002
        if self._driver is not None:
            self._driver.close()
            self._driver = None

    @property
    def driver(self) -> Driver:
        if self._driver is None:  # used outside a run (a sensor, a test): open on demand
            self._driver = neo4j_driver(_settings())
        return self._driver


class MySQLResource(ConfigurableResource):  # type: ignore[type-arg]
    """Every MySQL shard, routed as the API routes them (``core.db.sharding``)."""

    stream_batch: int = 10_000

    _router: ShardRouter | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:  # noqa: ARG002
        self._router = ShardRouter(_settings(), pool_size=2)

    def teardown_after_execution(self, context: InitResourceContext) -> None:  # noqa: ARG002
        if self._router is not None:
            for shard in range(self._router.shard_count):
                self._router.engine(shard).dispose()
            self._router = None

    @property
    def router(self) -> ShardRouter:
        if self._router is None:
            self._router = ShardRouter(_settings(), pool_size=2)
        return self._router

    @property
    def directory(self) -> Engine:
        """Shard 0: users, the social graph, groups and buddies."""
        return self.router.engine(DIRECTORY_SHARD)

    @property
    def shards(self) -> list[Engine]:
        """Every shard, for room-scoped tables."""
        return [self.router.engine(shard) for shard in range(self.router.shard_count)]


class KafkaResource(ConfigurableResource):  # type: ignore[type-arg]
    """Consumers of the platform's topics, with offsets committed only after the work is done."""

    group_id: str = "studyhub-graph-sync"

    @contextmanager
    def consumer(self, **overrides: Any) -> Iterator[Consumer]:
        config: dict[str, Any] = {
            "bootstrap.servers": _settings().kafka_bootstrap,
            "group.id": self.group_id,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 3,
            **overrides,
        }
        consumer = Consumer(config)
        try:
            yield consumer
        finally:
            consumer.close()


class InfluxResource(ConfigurableResource):  # type: ignore[type-arg]
    """InfluxDB 1.8 through its v2-compatible API (the rollups read and write it)."""

    @contextmanager
    def client(self) -> Iterator[InfluxDBClient]:
        client = influx_client(_settings())
        try:
            yield client
        finally:
            client.close()  # type: ignore[no-untyped-call]

    @property
    def bucket(self) -> str:
        return _settings().influx_bucket


class QualityResource(ConfigurableResource):  # type: ignore[type-arg]
    """A Great Expectations 1.x ephemeral context for the data-quality checks
    (``graph_jobs.quality``), opened at a check's first use and kept for the run."""

    _expectations: Expectations | None = PrivateAttr(default=None)

    @property
    def gx(self) -> Expectations:
        if self._expectations is None:
            self._expectations = Expectations()
        return self._expectations

    def mysql_url(self, shard: int = DIRECTORY_SHARD) -> str:
        return _settings().mysql_url(shard)
