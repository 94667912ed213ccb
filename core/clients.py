"""Factories for the service clients, configured from settings in one place.

Each layer takes its clients as parameters (so tests and jobs can pass their own), and builds
them here when it runs for real.
"""

from __future__ import annotations

import redis
from influxdb_client.client.influxdb_client import InfluxDBClient
from neo4j import Driver, GraphDatabase

from core.settings import Settings


def redis_client(settings: Settings, *, decode_responses: bool = True) -> redis.Redis:
    return redis.Redis.from_url(
        settings.redis_url,
        decode_responses=decode_responses,
        socket_timeout=5,
        health_check_interval=30,
    )


def neo4j_driver(settings: Settings) -> Driver:
    return GraphDatabase.driver(
        settings.neo4j_uri,
        auth=(settings.neo4j_user, settings.neo4j_password.get_secret_value()),
    )


def influx_client(settings: Settings) -> InfluxDBClient:
    # InfluxDB 1.8's v2-compatible API: token "user:password", org "-", bucket "db/rp".
    return InfluxDBClient(url=settings.influx_url, token=settings.influx_token, org="-")
