"""Fixtures for the real local services started by `studyhub stack up` (make test does that).

A service that is not healthy fails the test with the service's log in view; nothing is
skipped quietly and nothing is faked.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from influxdb_client.client.influxdb_client import InfluxDBClient
from neo4j import Driver

from core.clients import influx_client, neo4j_driver, redis_client
from core.db.sharding import ShardRouter
from core.events import ROOM_EVENTS, SOCIAL_EVENTS
from core.settings import Settings, get_settings
from stack.process import tail
from stack.services import Service, all_services
from tests.utils.api import EventTap, People, live_api


@pytest.fixture(scope="session")
def settings() -> Settings:
    return get_settings()


def _service(settings: Settings, name: str) -> Service:
    (service,) = [s for s in all_services(settings) if s.name == name]
    return service


def require(settings: Settings, *names: str) -> None:
    for name in names:
        service = _service(settings, name)
        status = service.status()
        if status.state != "running":
            pytest.fail(
                f"{name} is {status.state}; start the stack with `make up` "
                f"(or `.venv/bin/studyhub stack up`).\n{service.log_path}:\n"
                f"{tail(service.log_path)}",
                pytrace=False,
            )


@pytest.fixture(scope="session")
def mysql(settings: Settings) -> Iterator[ShardRouter]:
    require(settings, *(f"mariadb-{shard}" for shard in range(settings.mysql_shards)))
    router = ShardRouter(settings)
    yield router
    router.dispose()


@pytest.fixture(scope="session")
def redis_conn(settings: Settings) -> Iterator[redis.Redis]:
    require(settings, "redis")
    client = redis_client(settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def kafka(settings: Settings) -> Settings:
    require(settings, "kafka")
    return settings


@pytest.fixture(scope="session")
def neo4j(settings: Settings) -> Iterator[Driver]:
    require(settings, "neo4j")
    driver = neo4j_driver(settings)
    yield driver
    driver.close()


@pytest.fixture(scope="session")
def influx(settings: Settings) -> Iterator[InfluxDBClient]:
    require(settings, "influxdb")
    client = influx_client(settings)
    yield client
    client.close()


@pytest.fixture(scope="session")
def api_settings(settings: Settings) -> Settings:
    # Generous limits for the suite (every test client is 127.0.0.1), in a namespace of its own.
    return settings.model_copy(
        update={
            "rate_limit_auth_per_minute": 100_000,
            "rate_limit_user_per_minute": 100_000,
            "rate_limit_namespace": f"test-ratelimit-{uuid.uuid4().hex[:8]}",
        }
    )


@pytest.fixture(scope="session")
def api_url(api_settings: Settings) -> Iterator[str]:
    require(api_settings, "mariadb-0", "mariadb-1", "redis", "kafka")
    with live_api(api_settings) as url:
        yield url


@pytest.fixture
def people(api_url: str, api_settings: Settings) -> Iterator[People]:
    registry = People(api_url, api_settings)
    yield registry
    registry.close()


@pytest.fixture
def room_events(api_settings: Settings) -> Iterator[EventTap]:
    tap = EventTap(api_settings, ROOM_EVENTS)
    yield tap
    tap.close()


@pytest.fixture
def social_events(api_settings: Settings) -> Iterator[EventTap]:
    tap = EventTap(api_settings, SOCIAL_EVENTS)
    yield tap
    tap.close()
