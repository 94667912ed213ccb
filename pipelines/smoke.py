"""Smoke job: Kafka -> Flink SQL -> MySQL through the JDBC connector.

It proves the connector wiring of the local stack: it reads chat events of one room from a
topic (bounded at the offsets present at start), and upserts them into that room's shard's
``chat_messages``, using the record's offset + 1 as the seq. That seq is only right for a
one-partition, one-room topic, which is all the smoke test uses; the chat persistence job
assigns real per-room sequence numbers.

    .venv-flink/bin/python -m pipelines.smoke --topic T --room-id R --group-id G
"""

from __future__ import annotations

import argparse
import logging

from core.db.sharding import shard_for_room
from core.events import ChatMessageSent
from core.settings import Settings, get_settings
from pipelines.flink_schema import columns_ddl
from pipelines.runtime import jdbc_sink_options, kafka_source_options, table_environment

log = logging.getLogger(__name__)


def run(settings: Settings, *, topic: str, room_id: int, group_id: str, remote: bool = True) -> str:
    """Submit the job, wait for it to finish, and return its Flink job id."""
    t_env = table_environment(settings, f"smoke-{topic}", remote=remote)
    t_env.execute_sql(f"""
        CREATE TABLE chat_source (
          {columns_ddl(ChatMessageSent)},
          `offset` BIGINT METADATA VIRTUAL
        ) WITH (
          {kafka_source_options(settings, topic=topic, group_id=group_id)},
          'scan.startup.mode' = 'earliest-offset',
          'scan.bounded.mode' = 'latest-offset'
        )""")
    shard = shard_for_room(room_id, settings.mysql_shards)
    t_env.execute_sql(f"""
        CREATE TABLE chat_sink (
          room_id BIGINT, seq BIGINT, message_id BIGINT, sender_id BIGINT,
          client_msg_id STRING, body STRING, created_at TIMESTAMP(6),
          PRIMARY KEY (room_id, seq) NOT ENFORCED
        ) WITH ({jdbc_sink_options(settings, shard=shard, table="chat_messages")})""")
    result = t_env.execute_sql(f"""
        INSERT INTO chat_sink
        SELECT room_id, `offset` + 1, message_id, sender_id, client_msg_id, body,
               CAST(occurred_at AS TIMESTAMP(6))
        FROM chat_source WHERE room_id = {int(room_id)}""")  # noqa: S608 - an int, not text
    job_client = result.get_job_client()
    job_id = str(job_client.get_job_id()) if job_client is not None else "local"
    log.info("submitted %s, waiting for it to finish", job_id)
    result.wait()
    return job_id


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", required=True, help="Kafka topic with ChatMessageSent events")
    parser.add_argument("--room-id", type=int, required=True, help="The one room in that topic")
    parser.add_argument("--group-id", required=True, help="Kafka consumer group for the source")
    parser.add_argument("--local", action="store_true", help="Run in a local mini-cluster")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    job_id = run(
        get_settings(),
        topic=args.topic,
        room_id=args.room_id,
        group_id=args.group_id,
        remote=not args.local,
    )
    log.info("job %s finished", job_id)


if __name__ == "__main__":
    main()
