"""The metrics job: community metrics in event-time windows, written to InfluxDB.

    .venv-flink/bin/python -m pipelines.metrics.job [--name N --group G --from-ms T]

It reads chat-messages, room-events, social-events and moderation-events, and writes the
measurements core/metrics.py describes: activity per room, the community overall and
moderation actions by rule, per minute, hour and day.

The windowing is Flink SQL, in the JVM: every source keeps event time (``occurred_at``, 5 s
of allowed lateness). Each event is counted once, into a 10 s slice per room, topic, user and
kind; CUMULATE windows over the slices give each minute (hour, day) a first result after
10 s (1 minute for an hour or a day) and a growing one at every step after, the last when
the watermark passes the window's end. Each result becomes an InfluxDB line in SQL; a 10 s
tumbling window over the results gathers every line of one step into one string. Only then
does Python run: ``WritePoints`` writes that string in one request, a few times a minute.

A source with no traffic would hold the watermark, and the last minute would never close. A
``datagen`` source of one row a second at the wall clock keeps the watermark moving, and
``table.exec.source.idle-timeout`` lets idle Kafka partitions stop holding it back.

Idempotent: a window's point is keyed by its measurement, tags and start, so writing it again
(a restore from a checkpoint, or a replay with ``--from-ms``) overwrites it. A replay under
its own ``--name`` and ``--group`` recomputes the same numbers and doubles nothing.

Where it starts reading: by default at the start of the current UTC day, not at the group's
committed offsets. Its state (the open minute, hour and day) is derived from Kafka, and a
submission after the job was lost (the JobManager restarted, `make down` and `make up`)
starts with none. Starting at the group's offsets would then overwrite today's point with
the counts since the restart. Starting at midnight rebuilds the open windows whole, and
rewrites the day's closed ones with the same values. The cost is reading today's events
again at each submission. A restore inside the cluster (a TaskManager lost) resumes from
the last checkpoint, as any job does. The one gap: if the job is down across midnight,
yesterday's last minutes are never counted. Their day then stays ``complete=false``.

`studyhub stack up` submits it if it is not running.
"""

# ruff: noqa: S608 (the SQL is built from this module's constants and the settings' ints)
from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Iterator
from typing import Any

from influxdb_client.rest import ApiException
from pyflink.table import DataTypes, TableEnvironment
from pyflink.table.udf import FunctionContext, TableFunction, udtf

from core.events import CHAT_MESSAGES, MODERATION_EVENTS, ROOM_EVENTS, SOCIAL_EVENTS
from core.settings import Settings, get_settings
from pipelines.metrics.focus import focus_insert
from pipelines.metrics.sql import (
    FIRST_USER_ID,
    LATENESS_S,
    SEPARATOR,
    lines_sql,
    slices_sql,
    start_of_day_ms,
)
from pipelines.runtime import kafka_source_options, table_environment

log = logging.getLogger(__name__)

JOB_NAME = "metrics"
# Its windows step every 10 s: half a second more before a record is read costs nothing.
FETCH_WAIT_MS = 500
CONSUMER_GROUP = "metrics"


class WritePoints(TableFunction):  # type: ignore[misc]
    """Write a batch of InfluxDB lines (joined by SEPARATOR) in one request, and a heartbeat
    of this job (measurement ``metrics_job``: the step's end, the lines written); yields the
    number of lines. A failed write fails the task: Flink restores the last checkpoint and
    writes the same points again."""

    def __init__(self, url: str, token: str, bucket: str, job: str) -> None:
        self.url = url
        self.token = token
        self.bucket = bucket
        self.job = job
        self.client: Any = None
        self.writer: Any = None

    def open(self, function_context: FunctionContext) -> None:
        del function_context
        from influxdb_client.client.influxdb_client import InfluxDBClient  # noqa: PLC0415
        from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415

        self.client = InfluxDBClient(url=self.url, token=self.token, org="-", timeout=30_000)
        self.writer = self.client.write_api(write_options=SYNCHRONOUS)

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def is_deterministic(self) -> bool:
        return False  # it writes: once per row, never folded or repeated

    def eval(self, lines: str, step_end_s: int) -> Iterator[int]:
        batch = [line for line in lines.split(SEPARATOR) if line]
        job = self.job.replace(" ", "_").replace(",", "_").replace("=", "_")
        batch.append(
            f"metrics_job,job={job} step_end={step_end_s}i,lines={len(batch)}i {step_end_s}"
        )
        try:
            self.writer.write(bucket=self.bucket, org="-", record=batch, write_precision="s")
        except ApiException as error:
            if error.status is None or error.status >= 500 or error.status in (401, 403, 404):
                raise  # InfluxDB down or misconfigured: fail, restore, write again
            # A line InfluxDB cannot parse is refused the same way on every retry; the rest of
            # the batch is written ("partial write"). Failing would restart the job forever.
            log.error("metrics: InfluxDB refused part of a batch: %s", error.body)
        yield len(batch) - 1


def _sources(t_env: TableEnvironment, settings: Settings, group: str, from_ms: int | None) -> None:
    if from_ms is None:
        startup = "'properties.auto.offset.reset' = 'latest', 'scan.startup.mode' = 'group-offsets'"
    else:
        startup = (
            f"'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{from_ms}'"
        )
    time_columns = (
        "occurred_at TIMESTAMP_LTZ(6),\n"
        "  ts AS CAST(occurred_at AS TIMESTAMP_LTZ(3)),\n"
        f"  WATERMARK FOR ts AS ts - INTERVAL '{LATENESS_S}' SECOND"
    )
    tables = {
        "chat_source": (
            CHAT_MESSAGES,
            "room_id BIGINT, sender_id BIGINT, body STRING, masked_body STRING, topic STRING",
        ),
        "room_source": (
            ROOM_EVENTS,
            "type STRING, room_id BIGINT, user_id BIGINT, room_focus_ms BIGINT, topic STRING,"
            " session_s BIGINT",
        ),
        "social_source": (SOCIAL_EVENTS, "type STRING, from_user_id BIGINT"),
        "moderation_source": (
            MODERATION_EVENTS,
            "type STRING, room_id BIGINT, user_id BIGINT, rule STRING, action STRING",
        ),
    }
    for table, (topic, columns) in tables.items():
        source = kafka_source_options(
            settings, topic=topic, group_id=group, max_wait_ms=FETCH_WAIT_MS
        )
        t_env.execute_sql(f"""
            CREATE TABLE {table} (
              {columns},
              {time_columns}
            ) WITH (
              {source},
              {startup}
            )""")
    # The clock: one row a second at the wall clock, so that windows close without traffic.
    t_env.execute_sql(f"""
        CREATE TABLE clock_source (
          n INT,
          ts AS CAST(CURRENT_TIMESTAMP AS TIMESTAMP_LTZ(3)),
          WATERMARK FOR ts AS ts - INTERVAL '{LATENESS_S}' SECOND
        ) WITH ('connector' = 'datagen', 'rows-per-second' = '1')""")
    # Each message's terms: what others saw (a masked message's words are stars, so the
    # filter's words stay out), lower-cased runs of letters and digits. The clock's rows (no
    # term) keep this path's watermark moving too: without them a quiet chat holds the last
    # minute open until the next message.
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW chat_terms AS
        SELECT term, ts
        FROM chat_source
        CROSS JOIN UNNEST(REGEXP_EXTRACT_ALL(LOWER(COALESCE(masked_body, body)),
                                             '[\\p{{L}}\\p{{N}}]+', 0)) AS w(term)
        WHERE sender_id >= {FIRST_USER_ID}
        UNION ALL
        SELECT CAST(NULL AS STRING), ts FROM clock_source""")
    t_env.execute_sql(f"""
        CREATE TEMPORARY VIEW metric_events AS
        SELECT room_id, sender_id AS user_id, 'message' AS kind,
               CAST(NULL AS STRING) AS rule, CAST(NULL AS STRING) AS action,
               topic, CAST(NULL AS BIGINT) AS session_s, ts
        FROM chat_source WHERE sender_id >= {FIRST_USER_ID}
        UNION ALL
        SELECT room_id, user_id, IF(type = 'room.joined', 'join', 'leave'),
               CAST(NULL AS STRING), CAST(NULL AS STRING), topic,
               IF(type = 'room.left', session_s, CAST(NULL AS BIGINT)), ts
        FROM room_source WHERE type IN ('room.joined', 'room.left')
        UNION ALL
        SELECT CAST(NULL AS BIGINT), from_user_id, 'friendship',
               CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING),
               CAST(NULL AS BIGINT), ts
        FROM social_source WHERE type = 'friend.accepted'
        UNION ALL
        SELECT room_id, user_id, 'moderation',
               REGEXP_REPLACE(COALESCE(NULLIF(rule, ''), 'none'), '[^A-Za-z0-9:._-]', '_'),
               REGEXP_REPLACE(COALESCE(NULLIF(action, ''), 'none'), '[^A-Za-z0-9:._-]', '_'),
               CAST(NULL AS STRING), CAST(NULL AS BIGINT), ts
        FROM moderation_source WHERE type = 'moderation.flagged'
        UNION ALL
        SELECT CAST(NULL AS BIGINT), CAST(NULL AS BIGINT), 'clock',
               CAST(NULL AS STRING), CAST(NULL AS STRING), CAST(NULL AS STRING),
               CAST(NULL AS BIGINT), ts
        FROM clock_source""")


def metrics_insert(
    t_env: TableEnvironment,
    settings: Settings,
    *,
    job: str = JOB_NAME,
    group: str = CONSUMER_GROUP,
    from_ms: int | None = None,
) -> str:
    """Declare the sources, the windows and the writer; returns the INSERT."""
    _sources(t_env, settings, group, from_ms)
    t_env.execute_sql(f"CREATE TEMPORARY VIEW metric_slices AS {slices_sql()}")
    t_env.execute_sql(f"CREATE TEMPORARY VIEW metric_lines AS {lines_sql()}")
    t_env.execute_sql("CREATE TABLE metrics_written (n BIGINT) WITH ('connector' = 'blackhole')")
    t_env.create_temporary_function(
        "write_points",
        udtf(
            WritePoints(settings.influx_url, settings.influx_token, settings.influx_bucket, job),
            result_types=[DataTypes.BIGINT()],
            deterministic=False,
            name="write_points",
        ),
    )
    return f"""
        INSERT INTO metrics_written
        SELECT written
        FROM (
          SELECT window_end, LISTAGG(line, '{SEPARATOR}') AS lines
          FROM TABLE(TUMBLE(TABLE metric_lines, DESCRIPTOR(window_time), INTERVAL '10' SECOND))
          GROUP BY window_start, window_end
        ),
        LATERAL TABLE(write_points(lines, UNIX_TIMESTAMP(CAST(window_end AS STRING))))
          AS w(written)
        """


def build_and_submit(
    settings: Settings,
    *,
    name: str = JOB_NAME,
    group: str = CONSUMER_GROUP,
    from_ms: int | None = None,
) -> str:
    """Submit the job to the session cluster; returns its Flink job id."""
    t_env = table_environment(settings, name)
    config = t_env.get_config()
    config.set("parallelism.default", "1")
    config.set("execution.checkpointing.interval", "10000 ms")
    config.set("execution.checkpointing.mode", "EXACTLY_ONCE")
    config.set("table.exec.source.idle-timeout", "5000 ms")
    # The SQL operators build each row anew, so a row handed down a chain need not be copied
    # first (a profile had the copies at a tenth of the job's CPU).
    config.set("pipeline.object-reuse", "true")
    # A handful of rows a minute reach Python: a bundle per row, so a write never waits.
    config.set("python.fn-execution.bundle.size", "1")
    statements = t_env.create_statement_set()
    statements.add_insert_sql(
        metrics_insert(t_env, settings, job=name, group=group, from_ms=from_ms)
    )
    statements.add_insert_sql(focus_insert(t_env, settings))
    result = statements.execute()
    job_client = result.get_job_client()
    if job_client is None:
        raise RuntimeError("Flink returned no job client: the job was not submitted")
    return str(job_client.get_job_id())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default=JOB_NAME, help="Flink job name (and heartbeat tag)")
    parser.add_argument("--group", default=CONSUMER_GROUP, help="Kafka consumer group")
    parser.add_argument(
        "--from-ms",
        type=int,
        default=None,
        help="read every topic from this time (epoch ms); default: the start of the UTC day",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    from_ms = args.from_ms if args.from_ms is not None else start_of_day_ms(time.time())
    job_id = build_and_submit(get_settings(), name=args.name, group=args.group, from_ms=from_ms)
    print(f"{args.name} submitted with JobID {job_id}")  # noqa: T201


if __name__ == "__main__":
    main()
