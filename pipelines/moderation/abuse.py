"""The abuse half of the moderation job: abuse caught in the stream, per user, and a timed
mute for it. ``pipelines.moderation.job`` submits it with the queue half.

It reads chat-messages and moderation-events. Windows are in Flink SQL, so the per-message
work stays in the JVM: the JSON parse, the windows and the counts. Each kind of abuse is one
windowed GROUP BY over processing time (hopping windows), keyed by the sender:

- `flood`, 20 s windows sliding by 5 s: ``moderation_flood_messages`` distinct messages or
  more (a resend is not a second message), across all rooms and gateway processes (the
  gateway's own limit is per process);
- `mentions`, the same windows: ``moderation_mention_limit`` @mentions or more;
- `duplicate`, 30 s windows sliding by 10 s: the same text (its letters, lower case) in
  ``moderation_duplicate_rooms`` rooms or more;
- `blocked`, 60 s windows sliding by 10 s: ``moderation_blocked_burst`` messages or more
  blocked by the word filter.

Only what trips reaches Python: a table function (``MuteUser``) sets the mute in Redis with
SET NX PX, the key the gateway's send gate reads. It yields a row only when the mute is new,
so the windows that overlap a flood, and the replays after a restore, mute once and report
once. That row becomes a ``ContentFlagged`` (action ``muted``, rule ``stream:<kind>``) on
moderation-events: the queue half of the job makes it a queue item, and its id is a hash of
the user and the window, so a replay writes the same item. The mute ends by itself (its TTL).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import redis
from pyflink.table import DataTypes, TableEnvironment
from pyflink.table.udf import FunctionContext, TableFunction, udtf

from core import wire
from core.events import CHAT_MESSAGES, MODERATION_EVENTS, ChatMessageSent, ContentFlagged
from core.settings import Settings
from pipelines.flink_schema import columns_ddl
from pipelines.runtime import kafka_source_options

CONSUMER_GROUP = "moderation-abuse"
# A mute may come 0.2 s later; the fetcher then reads every chat message in a few large
# fetches a second instead of thousands of small ones (a fifth of a core at 1,000/s).
FETCH_WAIT_MS = 200
# Ids below 2^22 are no snowflakes (core.ids): the stack's warm-up (sender 0) and the job
# benchmark (sender 1) produce as them, at rates that are floods by design.
FIRST_USER_ID = 1 << 22
# Only what was produced in the last few seconds is counted. The windows are on processing
# time, so a backlog read all at once would look like a flood: the job catching up after a
# restore, or Kafka delivering what its producers queued while it was away. Found by
# `make faults`: every sender of the JobManager and Kafka runs was muted.
FRESH = "occurred_at > CURRENT_TIMESTAMP - INTERVAL '5' SECOND"


class MuteUser(TableFunction):  # type: ignore[misc]
    """Mute a user in Redis unless they are muted already; one row (the mute's ms) if new."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.client: Any = None

    def open(self, function_context: FunctionContext) -> None:
        del function_context
        self.client = redis.Redis.from_url(self.redis_url)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def is_deterministic(self) -> bool:
        return False  # it writes to Redis: once per row, never folded or repeated

    def eval(self, user_id: int, seconds: int) -> Iterator[int]:
        if self.client.set(wire.mute_key(user_id), "stream", nx=True, px=seconds * 1000):
            yield seconds * 1000


def _event_id() -> str:
    """A UUID-shaped hash of the kind, the user and the window: the same detection, replayed,
    has the same id, and the queue's upsert keeps one item."""
    digest = "MD5(CONCAT(kind, ':', CAST(user_id AS STRING), ':', CAST(window_end AS STRING)))"
    parts = [(1, 8), (9, 4), (13, 4), (17, 4), (21, 12)]
    return "CONCAT(" + ", '-', ".join(f"SUBSTRING({digest}, {a}, {n})" for a, n in parts) + ")"


def _source(settings: Settings, topic: str) -> str:
    return kafka_source_options(
        settings, topic=topic, group_id=CONSUMER_GROUP, max_wait_ms=FETCH_WAIT_MS
    )


def abuse_insert(t_env: TableEnvironment, settings: Settings) -> str:
    """Declare the abuse half's sources, sink, function and windows; returns its INSERT."""
    source = "'properties.auto.offset.reset' = 'latest', 'scan.startup.mode' = 'group-offsets'"
    t_env.execute_sql(f"""
        CREATE TABLE chat_source (
          {columns_ddl(ChatMessageSent)},
          proctime AS PROCTIME()
        ) WITH (
          {_source(settings, CHAT_MESSAGES)},
          {source}
        )""")
    t_env.execute_sql(f"""
        CREATE TABLE moderation_source (
          {columns_ddl(ContentFlagged)},
          proctime AS PROCTIME()
        ) WITH (
          {_source(settings, MODERATION_EVENTS)},
          {source}
        )""")
    t_env.execute_sql(f"""
        CREATE TABLE moderation_sink (
          {columns_ddl(ContentFlagged)}
        ) WITH (
          'connector' = 'kafka',
          'topic' = '{MODERATION_EVENTS}',
          'properties.bootstrap.servers' = '{settings.kafka_bootstrap}',
          'format' = 'json',
          'json.timestamp-format.standard' = 'ISO-8601',
          'sink.delivery-guarantee' = 'at-least-once'
        )""")
    t_env.create_temporary_function(
        "mute_user",
        udtf(
            MuteUser(settings.redis_url),
            result_types=[DataTypes.BIGINT()],
            deterministic=False,
            name="mute_user",
        ),
    )
    s = settings
    hop = (
        "TABLE(HOP(TABLE {table}, DESCRIPTOR(proctime),"
        " INTERVAL '{slide}' SECOND, INTERVAL '{size}' SECOND))"
    )
    # Every value formatted into the SQL below is an int from the settings or a literal here.
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW detections AS
        SELECT user_id, kind, window_end, n,
               CONCAT('{{"kind": "', kind, '", "count": ', CAST(n AS STRING),
                      ', "window_s": ', CAST(size_s AS STRING), '}}') AS evidence,
               sample
        FROM (
          SELECT sender_id AS user_id, 'flood' AS kind, window_end,
                 COUNT(DISTINCT client_msg_id) AS n, 20 AS size_s, MAX(body) AS sample
          FROM {hop.format(table="chat_source", slide=5, size=20)}
          WHERE sender_id >= {FIRST_USER_ID} AND {FRESH}
          GROUP BY sender_id, window_start, window_end
          HAVING COUNT(DISTINCT client_msg_id) >= {s.moderation_flood_messages}
          UNION ALL
          SELECT sender_id, 'mentions', window_end,
                 SUM(CHAR_LENGTH(body) - CHAR_LENGTH(REPLACE(body, '@', ''))), 10, MAX(body)
          FROM {hop.format(table="chat_source", slide=5, size=10)}
          WHERE sender_id >= {FIRST_USER_ID} AND {FRESH}
          GROUP BY sender_id, window_start, window_end
          HAVING SUM(CHAR_LENGTH(body) - CHAR_LENGTH(REPLACE(body, '@', '')))
                 >= {s.moderation_mention_limit}
          UNION ALL
          SELECT sender_id, 'duplicate', window_end, COUNT(DISTINCT room_id), 30, MAX(body)
          FROM {hop.format(table="chat_source", slide=10, size=30)}
          WHERE CHAR_LENGTH(REGEXP_REPLACE(body, '[^A-Za-z]', '')) >= 8
            AND sender_id >= {FIRST_USER_ID} AND {FRESH}
          GROUP BY sender_id, LOWER(REGEXP_REPLACE(body, '[^A-Za-z]', '')),
                   window_start, window_end
          HAVING COUNT(DISTINCT room_id) >= {s.moderation_duplicate_rooms}
          UNION ALL
          SELECT user_id, 'blocked', window_end, COUNT(*), 60, MAX(body)
          FROM {hop.format(table="moderation_source", slide=10, size=60)}
          WHERE action = 'blocked' AND {FRESH}
          GROUP BY user_id, window_start, window_end
          HAVING COUNT(*) >= {s.moderation_blocked_burst}
        )""")  # noqa: S608
    return f"""
        INSERT INTO moderation_sink
        SELECT {_event_id()} AS event_id,
               CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(6)) AS occurred_at,
               'moderation.flagged' AS type,
               user_id,
               CAST(NULL AS BIGINT) AS room_id,
               CAST(NULL AS BIGINT) AS message_id,
               CONCAT('abuse caught in the stream: ', kind, ', ', CAST(n AS STRING),
                      '; muted for ', CAST(muted_ms / 1000 AS STRING), ' s') AS reason,
               CAST(1.0 AS DOUBLE) AS score,
               'muted' AS action,
               CONCAT('stream:', kind) AS rule,
               sample AS body,
               CONCAT('[', evidence, ']') AS evidence,
               CAST(NULL AS BIGINT) AS reporter_id,
               CAST(NULL AS BIGINT) AS group_id
        FROM detections,
             LATERAL TABLE(mute_user(user_id, {s.moderation_stream_mute_s})) AS muted(muted_ms)
        """  # noqa: S608
