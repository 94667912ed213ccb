"""The chat persistence job: chat-messages -> per-room seq -> MySQL (room's shard) -> Redis.

    .venv-flink/bin/python -m pipelines.chat.persist          # submit to the session cluster

A Flink SQL pipeline with one Python operator: the Kafka source (raw values, in the JVM)
feeds ``persist_batch``, a vectorised function that gets one Arrow batch per Python bundle and
flushes it: per shard one multi-row INSERT and one COMMIT, then one Redis pipeline that
publishes the batch on each room's channel (``core.wire.room_channel``) and sets each room's
last seq (``pipelines.chat.store``).

No keyBy: the gateway produces with the room id as the Kafka key, so a room lives in one
partition, the Kafka source gives each partition to one subtask, and the stream arrives
already partitioned by room, in partition order: that order is the room's single order. A
keyBy would add a shuffle and, in PyFlink, a second Python operator to compute the key. The
room's last seq is not Flink state either: MySQL has it (``MAX(seq)``) and the worker caches it.

A bundle also ends before every checkpoint barrier, so everything a checkpoint covers is
committed in MySQL before the checkpoint commits its Kafka offsets. After a restore the
replayed messages are found by their keys, stored nothing, and are broadcast again under their
stored seqs (clients drop seqs they have). `studyhub stack up` submits the job if it is not
running.
"""

from __future__ import annotations

import argparse
import logging

from pyflink.table import EnvironmentSettings, TableEnvironment

from core.events import CHAT_MESSAGES
from core.settings import Settings, get_settings
from pipelines.chat.function import persist_batch
from pipelines.chat.store import connection_config
from pipelines.runtime import connector_jars, fetch_wait_options, flink_python

log = logging.getLogger(__name__)

JOB_NAME = "chat-persist"
CONSUMER_GROUP = "chat-persist"


def build_and_submit(
    settings: Settings,
    *,
    topic: str = CHAT_MESSAGES,
    name: str = JOB_NAME,
    checkpoint_interval_ms: int = 2000,
    bundle_time_ms: int | None = None,
) -> str:
    """Submit the job to the session cluster; returns its Flink job id."""
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    config = t_env.get_config()
    options = job_options(settings, name, checkpoint_interval_ms)
    if bundle_time_ms is not None:
        options["python.fn-execution.bundle.time"] = str(bundle_time_ms)
    for key, value in options.items():
        config.set(key, value)
    group = CONSUMER_GROUP if topic == CHAT_MESSAGES else f"{CONSUMER_GROUP}-{topic}"
    t_env.execute_sql(f"""
        CREATE TABLE chat_source (payload STRING) WITH (
          'connector' = 'kafka',
          'topic' = '{topic}',
          'properties.bootstrap.servers' = '{settings.kafka_bootstrap}',
          'properties.group.id' = '{group}',
          'properties.isolation.level' = 'read_committed',
          'properties.auto.offset.reset' = 'earliest',
          {fetch_wait_options(settings.chat_persist_fetch_wait_ms)},
          'scan.startup.mode' = 'group-offsets',
          'format' = 'raw'
        )""")
    t_env.execute_sql("CREATE TABLE persisted (seq BIGINT) WITH ('connector' = 'blackhole')")
    t_env.create_temporary_function("persist_batch", persist_batch(connection_config(settings)))
    result = t_env.execute_sql(
        "INSERT INTO persisted SELECT persist_batch(payload) FROM chat_source"
    )
    job_client = result.get_job_client()
    if job_client is None:
        raise RuntimeError("Flink returned no job client: the job was not submitted")
    return str(job_client.get_job_id())


def job_options(settings: Settings, name: str, checkpoint_interval_ms: int) -> dict[str, str]:
    """The job's Flink configuration; each value is here for a measured reason."""
    bundle = str(settings.flink_bundle_size)
    return {
        "pipeline.name": name,
        "pipeline.jars": ";".join(jar.as_uri() for jar in connector_jars(settings)),
        "parallelism.default": str(settings.chat_persist_parallelism),
        "table.local-time-zone": "UTC",
        "python.executable": flink_python(),
        # One bundle is one flush. Its time bounds the added latency; its size (and the Arrow
        # batch, which may not exceed it) bounds the multi-row INSERT.
        "python.fn-execution.bundle.time": str(settings.flink_bundle_time_ms),
        "python.fn-execution.bundle.size": bundle,
        "python.fn-execution.arrow.batch.size": bundle,
        "execution.buffer-timeout.interval": f"{settings.flink_buffer_timeout_ms} ms",
        "execution.checkpointing.interval": f"{checkpoint_interval_ms} ms",
        "execution.checkpointing.mode": "EXACTLY_ONCE",
        # Keep the last checkpoint when the job is cancelled or dies, so it can be restored from
        # it (`flink run --fromSavepoint <checkpoint dir>`).
        "execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
        "execution.target": "remote",
        "rest.address": settings.bind_host,
        "rest.port": str(settings.flink_rest_port),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", default=CHAT_MESSAGES, help="source topic (tests use their own)")
    parser.add_argument("--name", default=JOB_NAME, help="Flink job name")
    parser.add_argument(
        "--checkpoint-interval-ms",
        type=int,
        default=2000,
        help="ms between checkpoints (default 2000; tests stretch it to see the pre-barrier flush)",
    )
    parser.add_argument(
        "--bundle-time-ms",
        type=int,
        default=None,
        help="ms a Python bundle (one flush) stays open (default: settings.flink_bundle_time_ms)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    job_id = build_and_submit(
        get_settings(),
        topic=args.topic,
        name=args.name,
        checkpoint_interval_ms=args.checkpoint_interval_ms,
        bundle_time_ms=args.bundle_time_ms,
    )
    print(f"{args.name} submitted with JobID {job_id}")  # noqa: T201


if __name__ == "__main__":
    main()
