"""Build PyFlink table environments that run on the local Flink session cluster.

Jobs take their environment (and settings) as parameters, so tests submit the same job code to
the same cluster that `make up` runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pyflink.table import EnvironmentSettings, TableEnvironment

from core.settings import REPO_ROOT, Settings


def connector_jars(settings: Settings) -> list[Path]:
    jars = sorted(settings.flink_connectors_dir.glob("*.jar"))
    if not jars:
        raise RuntimeError(
            f"no connector jars in {settings.flink_connectors_dir}; run `make up` first"
        )
    return jars


def flink_python() -> str:
    """The interpreter of .venv-flink, for the TaskManager's Python workers."""
    return str(REPO_ROOT / ".venv-flink" / "bin" / "python")


def table_environment(
    settings: Settings, job_name: str, *, remote: bool = True
) -> TableEnvironment:
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    config.set("pipeline.name", job_name)
    config.set("pipeline.jars", ";".join(jar.as_uri() for jar in connector_jars(settings)))
    config.set("table.local-time-zone", "UTC")
    config.set("python.executable", sys.executable)
    config.set("python.fn-execution.bundle.time", str(settings.flink_bundle_time_ms))
    if remote:
        config.set("execution.target", "remote")
        config.set("rest.address", settings.bind_host)
        config.set("rest.port", str(settings.flink_rest_port))
    return t_env


def kafka_source_options(
    settings: Settings, *, topic: str, group_id: str, max_wait_ms: int | None = None
) -> str:
    """The Kafka source's WITH options. ``max_wait_ms``: let the broker hold a fetch that
    long (or until 256 KiB are there) instead of answering each as soon as a record is in.
    A consumer that need not be prompt (windows of seconds) then fetches a few times a second
    rather than thousands: at 1,000 messages/s the metrics job's fetchers alone cost more CPU
    than all its SQL."""
    options = (
        "'connector' = 'kafka',\n"
        f"  'topic' = '{topic}',\n"
        f"  'properties.bootstrap.servers' = '{settings.kafka_bootstrap}',\n"
        f"  'properties.group.id' = '{group_id}',\n"
        "  'properties.isolation.level' = 'read_committed',\n"
        "  'format' = 'json',\n"
        "  'json.timestamp-format.standard' = 'ISO-8601',\n"
        "  'json.fail-on-missing-field' = 'false'"
    )
    if max_wait_ms is not None:
        options += ",\n  " + fetch_wait_options(max_wait_ms)
    return options


def fetch_wait_options(max_wait_ms: int) -> str:
    """Kafka source options: the broker holds a fetch until 256 KiB are there or
    ``max_wait_ms`` has passed (the consumer's default answers at once, one record in)."""
    return (
        "'properties.fetch.min.bytes' = '262144',\n"
        f"  'properties.fetch.max.wait.ms' = '{max_wait_ms}'"
    )


def jdbc_sink_options(settings: Settings, *, shard: int, table: str) -> str:
    return (
        "'connector' = 'jdbc',\n"
        f"  'url' = '{settings.mysql_jdbc_url(shard)}',\n"
        "  'driver' = 'org.mariadb.jdbc.Driver',\n"
        f"  'table-name' = '{table}',\n"
        f"  'username' = '{settings.mysql_user}',\n"
        f"  'password' = '{settings.mysql_password.get_secret_value()}',\n"
        "  'sink.buffer-flush.interval' = '100ms',\n"
        "  'sink.buffer-flush.max-rows' = '500',\n"
        "  'sink.max-retries' = '5'"
    )
