"""Engagement rollups as scheduled Dagster assets, written to InfluxDB for the dashboards.

- ``engagement_daily``, one partition per UTC day: DAU, WAU, MAU, messages, group posts, room
  joins, messages per active user and stickiness (core/engagement.py). Today's partition
  exists (``end_offset=1``) and is provisional until the day has ended and settled.
- ``engagement_retention``: weekly signup cohorts of the last 12 weeks, each followed for up to
  8 weeks; week 1 is week-one retention.

``engagement_hourly`` re-runs today's and yesterday's partitions every hour (yesterday's then
settles into a complete point) and the retention once a day. Re-running a period overwrites its
points: a backfill from the Dagster UI is safe.
"""

# No `from __future__ import annotations`: Dagster reads these annotations at definition time.
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    Config,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    MaterializeResult,
    RunRequest,
    ScheduleEvaluationContext,
    asset,
    define_asset_job,
    schedule,
)

from core.engagement import DailyEngagement, RetentionCell
from graph_jobs.engagement import daily_engagement, retention
from graph_jobs.resources import InfluxResource, MySQLResource

GROUP_NAME = "engagement"
# The first day a backfill may ask for; earlier days have no data on any deployment.
FIRST_DAY = "2026-01-01"
daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=1, timezone="UTC")


def _write(influx: InfluxResource, records: list[dict[str, object]]) -> None:
    from influxdb_client.client.write_api import SYNCHRONOUS  # noqa: PLC0415

    with influx.client() as client:
        client.write_api(write_options=SYNCHRONOUS).write(bucket=influx.bucket, record=records)


@asset(
    group_name=GROUP_NAME,
    partitions_def=daily_partitions,
    kinds={"mysql", "influxdb"},
)
def engagement_daily(
    context: AssetExecutionContext, mysql: MySQLResource, influx: InfluxResource
) -> MaterializeResult[None]:
    """Daily, weekly and monthly active users and the day's activity, from every MySQL shard,
    as one InfluxDB point per day (measurement ``engagement``)."""
    day = date.fromisoformat(context.partition_key)
    found: DailyEngagement = daily_engagement(mysql.shards, mysql.directory, day)
    _write(influx, [found.record()])
    context.log.info(
        "%s: DAU %d, WAU %d, MAU %d, %d messages (%.2f per active user)%s",
        day,
        found.dau,
        found.wau,
        found.mau,
        found.messages,
        found.messages_per_active_user,
        "" if found.complete else " (provisional: the day is not over)",
    )
    return MaterializeResult(
        metadata={
            "dau": found.dau,
            "wau": found.wau,
            "mau": found.mau,
            "messages": found.messages,
            "group_posts": found.group_posts,
            "room_joins": found.room_joins,
            "messages_per_active_user": round(found.messages_per_active_user, 3),
            "stickiness": round(found.stickiness, 3),
            "complete": found.complete,
        }
    )


class RetentionConfig(Config):
    cohorts: int = 12  # signup weeks, the current one included
    weeks: int = 8  # weeks followed after each
    # Compute as of this instant (ISO 8601, UTC) instead of now: to rebuild a past view.
    as_of: str | None = None


@asset(group_name=GROUP_NAME, kinds={"mysql", "influxdb"})
def engagement_retention(
    context: AssetExecutionContext,
    config: RetentionConfig,
    mysql: MySQLResource,
    influx: InfluxResource,
) -> MaterializeResult[None]:
    """Week-N retention of weekly signup cohorts: the share of each week's new users active N
    weeks later (measurement ``retention``), for the dashboards' cohort heatmap."""
    now = (
        datetime.fromisoformat(config.as_of).astimezone(UTC) if config.as_of else datetime.now(UTC)
    )
    cells: list[RetentionCell] = retention(
        mysql.shards, mysql.directory, cohorts=config.cohorts, weeks=config.weeks, now=now
    )
    _write(influx, [cell.record() for cell in cells])
    week_one = [c for c in cells if c.weeks_after == 1 and c.complete and c.cohort_size]
    rate = (
        sum(c.retained for c in week_one) / sum(c.cohort_size for c in week_one)
        if week_one
        else None
    )
    context.log.info(
        "%d cohorts, %d cells; week-one retention over complete cohorts: %s",
        config.cohorts,
        len(cells),
        "-" if rate is None else f"{rate:.1%}",
    )
    return MaterializeResult(
        metadata={
            "cells": len(cells),
            "new_users": sum(c.cohort_size for c in cells if c.weeks_after == 0),
            "week_one_retention": rate,
            "as_of": now.isoformat(),
        }
    )


engagement_daily_job = define_asset_job(
    "engagement_daily_job", selection=AssetSelection.assets(engagement_daily)
)
engagement_retention_job = define_asset_job(
    "engagement_retention_job", selection=AssetSelection.assets(engagement_retention)
)


@schedule(
    job=engagement_daily_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def engagement_hourly(context: ScheduleEvaluationContext) -> list[RunRequest]:
    """Today's partition (provisional) and yesterday's (settling into complete), every hour."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    today = now.astimezone(UTC).date()
    return [
        RunRequest(run_key=f"{day}@{now:%Y%m%dT%H}", partition_key=day.isoformat())
        for day in (today - timedelta(days=1), today)
    ]


@schedule(
    job=engagement_retention_job,
    cron_schedule="20 0 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
)
def engagement_nightly_retention() -> RunRequest:
    return RunRequest()


engagement_assets = [engagement_daily, engagement_retention]
engagement_jobs = [engagement_daily_job, engagement_retention_job]
engagement_schedules = [engagement_hourly, engagement_nightly_retention]
