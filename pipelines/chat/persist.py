"""The chat persistence job: chat-messages -> per-room seq -> MySQL (room's shard) -> Redis.

    .venv-flink/bin/python -m pipelines.chat.persist          # submit to the session cluster

It keys the stream by room_id, so one room's messages are handled one at a time in Kafka
partition order: that order is the room's single order. Each message is stored first and then
published on the room's channel (``core.wire.room_channel``), which every gateway listens to.
Checkpoints every few seconds commit the Kafka offsets together with each room's last seq;
after a restore the replayed messages get the same seqs, find their rows already stored, and
are broadcast again (clients drop seqs they have). `studyhub stack up` submits the job if it is
not running.
"""

from __future__ import annotations

import argparse
import json
import logging
from typing import Any

from pyflink.common import Configuration, Types, WatermarkStrategy
from pyflink.common.serialization import SimpleStringSchema
from pyflink.datastream import CheckpointingMode, StreamExecutionEnvironment
from pyflink.datastream.connectors.kafka import (
    KafkaOffsetResetStrategy,
    KafkaOffsetsInitializer,
    KafkaSource,
)

from core.events import CHAT_MESSAGES
from core.settings import Settings, get_settings
from pipelines.chat.function import PersistAndBroadcast
from pipelines.runtime import connector_jars, flink_python

log = logging.getLogger(__name__)

JOB_NAME = "chat-persist"
CONSUMER_GROUP = "chat-persist"


def build_and_submit(
    settings: Settings, *, topic: str = CHAT_MESSAGES, name: str = JOB_NAME
) -> str:
    config = Configuration()
    config.set_string("execution.target", "remote")
    config.set_string("rest.address", settings.bind_host)
    config.set_string("rest.port", str(settings.flink_rest_port))
    config.set_string("pipeline.name", name)
    config.set_string("pipeline.jars", ";".join(jar.as_uri() for jar in connector_jars(settings)))
    config.set_string("python.executable", flink_python())
    config.set_string("python.fn-execution.bundle.time", str(settings.flink_bundle_time_ms))
    # Keep the last checkpoint when the job is cancelled or dies, so it can be restored from it
    # (`flink run --fromSavepoint <checkpoint dir>`).
    config.set_string(
        "execution.checkpointing.externalized-checkpoint-retention", "RETAIN_ON_CANCELLATION"
    )
    env = StreamExecutionEnvironment.get_execution_environment(config)
    env.set_parallelism(1)
    # Network buffers between the Kafka source and the keyed Python operator are flushed when
    # full or after this many ms; the default 100 ms put ~70 ms on every message's delivery.
    env.set_buffer_timeout(settings.flink_buffer_timeout_ms)
    env.enable_checkpointing(2000, CheckpointingMode.EXACTLY_ONCE)

    source = (
        KafkaSource.builder()
        .set_bootstrap_servers(settings.kafka_bootstrap)
        .set_topics(topic)
        .set_group_id(f"{CONSUMER_GROUP}-{topic}" if topic != CHAT_MESSAGES else CONSUMER_GROUP)
        .set_starting_offsets(
            KafkaOffsetsInitializer.committed_offsets(KafkaOffsetResetStrategy.EARLIEST)
        )
        .set_value_only_deserializer(SimpleStringSchema())
        .set_property("isolation.level", "read_committed")
        .build()
    )
    (
        env.from_source(source, WatermarkStrategy.no_watermarks(), topic)
        .key_by(room_key, key_type=Types.LONG())
        .process(PersistAndBroadcast(_connection_config(settings)))
        .name("store-then-broadcast")
    )
    client = env.execute_async(name)
    return str(client.get_job_id())


def room_key(raw: str) -> int:
    return int(json.loads(raw)["room_id"])


def _connection_config(settings: Settings) -> dict[str, Any]:
    return {
        "mysql": [
            {
                "host": settings.mysql_host,
                "port": settings.mysql_port(shard),
                "user": settings.mysql_user,
                "password": settings.mysql_password.get_secret_value(),
                "database": settings.mysql_database,
            }
            for shard in range(settings.mysql_shards)
        ],
        "redis_url": settings.redis_url,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", default=CHAT_MESSAGES, help="source topic (tests use their own)")
    parser.add_argument("--name", default=JOB_NAME, help="Flink job name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    settings = get_settings()
    print(f"{args.name} submitted: {build_and_submit(settings, topic=args.topic, name=args.name)}")  # noqa: T201


if __name__ == "__main__":
    main()
