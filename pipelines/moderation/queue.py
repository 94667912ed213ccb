"""The moderation-queue job: moderation-events -> moderation_items (MySQL, directory shard).

    .venv-flink/bin/python -m pipelines.moderation.queue      # submit to the session cluster

Flink SQL only, so it runs in the JVM with no Python worker: a Kafka source (JSON, columns
from ``core.events.ContentFlagged``) and the JDBC sink in upsert mode, keyed by the event's id.
A replay after a restore writes the same rows again and changes nothing; moderators' work on
an item lives in ``moderation_reviews``, which this job never touches. Every word-filter hit,
every user's report and, later, every abuse detection reaches the queue this one way.
`studyhub stack up` submits it if it is not running.
"""

from __future__ import annotations

import argparse
import logging

from core.db.sharding import DIRECTORY_SHARD
from core.events import MODERATION_EVENTS, ContentFlagged
from core.settings import Settings, get_settings
from pipelines.flink_schema import columns_ddl
from pipelines.runtime import jdbc_sink_options, kafka_source_options, table_environment

log = logging.getLogger(__name__)

JOB_NAME = "moderation-queue"
CONSUMER_GROUP = "moderation-queue"


def build_and_submit(
    settings: Settings, *, topic: str = MODERATION_EVENTS, name: str = JOB_NAME
) -> str:
    """Submit the job to the session cluster; returns its Flink job id."""
    t_env = table_environment(settings, name)
    config = t_env.get_config()
    config.set("parallelism.default", "1")
    config.set("execution.checkpointing.interval", "5000 ms")
    config.set("execution.checkpointing.mode", "EXACTLY_ONCE")
    group = CONSUMER_GROUP if topic == MODERATION_EVENTS else f"{CONSUMER_GROUP}-{topic}"
    t_env.execute_sql(f"""
        CREATE TABLE moderation_source (
          {columns_ddl(ContentFlagged)}
        ) WITH (
          {kafka_source_options(settings, topic=topic, group_id=group)},
          'properties.auto.offset.reset' = 'earliest',
          'scan.startup.mode' = 'group-offsets'
        )""")
    t_env.execute_sql(f"""
        CREATE TABLE moderation_items (
          id STRING, kind STRING, action STRING, subject_user_id BIGINT, reporter_id BIGINT,
          room_id BIGINT, group_id BIGINT, message_id BIGINT, rule STRING, reason STRING,
          body STRING, evidence STRING, created_at TIMESTAMP(6),
          PRIMARY KEY (id) NOT ENFORCED
        ) WITH ({jdbc_sink_options(settings, shard=DIRECTORY_SHARD, table="moderation_items")})""")
    result = t_env.execute_sql("""
        INSERT INTO moderation_items
        SELECT event_id,
               CASE WHEN message_id IS NULL THEN 'user' ELSE 'message' END,
               action, user_id, reporter_id, room_id, group_id, message_id,
               COALESCE(rule, ''), reason, body, COALESCE(evidence, '[]'),
               CAST(occurred_at AS TIMESTAMP(6))
        FROM moderation_source
        WHERE type = 'moderation.flagged'""")
    job_client = result.get_job_client()
    if job_client is None:
        raise RuntimeError("Flink returned no job client: the job was not submitted")
    return str(job_client.get_job_id())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topic", default=MODERATION_EVENTS, help="source topic")
    parser.add_argument("--name", default=JOB_NAME, help="Flink job name")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    job_id = build_and_submit(get_settings(), topic=args.topic, name=args.name)
    print(f"{args.name} submitted with JobID {job_id}")  # noqa: T201


if __name__ == "__main__":
    main()
