"""The moderation queue's half of the moderation job: moderation-events -> moderation_items
(MySQL, directory shard). ``pipelines.moderation.job`` submits it with the abuse half.

Flink SQL only, so it runs in the JVM with no Python worker: a Kafka source (JSON, columns
from ``core.events.ContentFlagged``) and the JDBC sink in upsert mode, keyed by the event's id.
A replay after a restore writes the same rows again and changes nothing; moderators' work on
an item lives in ``moderation_reviews``, which this job never touches. Every word-filter hit,
every user's report and, later, every abuse detection reaches the queue this one way.
"""

from __future__ import annotations

from pyflink.table import TableEnvironment

from core.db.sharding import DIRECTORY_SHARD
from core.events import MODERATION_EVENTS, ContentFlagged
from core.settings import Settings
from pipelines.flink_schema import columns_ddl
from pipelines.runtime import jdbc_sink_options, kafka_source_options

CONSUMER_GROUP = "moderation-queue"


def queue_insert(t_env: TableEnvironment, settings: Settings) -> str:
    """Declare the queue's source and sink; returns the INSERT that feeds the queue."""
    t_env.execute_sql(f"""
        CREATE TABLE queue_source (
          {columns_ddl(ContentFlagged)}
        ) WITH (
          {kafka_source_options(settings, topic=MODERATION_EVENTS, group_id=CONSUMER_GROUP)},
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
    return """
        INSERT INTO moderation_items
        SELECT event_id,
               CASE WHEN message_id IS NULL THEN 'user' ELSE 'message' END,
               action, user_id, reporter_id, room_id, group_id, message_id,
               COALESCE(rule, ''), reason, body, COALESCE(evidence, '[]'),
               CAST(occurred_at AS TIMESTAMP(6))
        FROM queue_source
        WHERE type = 'moderation.flagged'"""
