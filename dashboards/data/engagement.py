"""Engagement: the daily rollups and retention cohorts (core/engagement.py, written by the
Dagster rollup assets), the busiest hours (the metrics job's hourly windows) and the change on
last week. Pure reads and arithmetic; the page draws."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from influxdb_client.client.influxdb_client import InfluxDBClient

from core import engagement, metrics
from core.settings import Settings


def today() -> date:
    return datetime.now(UTC).date()


def daily(
    client: InfluxDBClient, settings: Settings, days: int
) -> list[engagement.DailyEngagement]:
    """The last ``days`` days, today included (provisional until it has settled)."""
    end = today() + timedelta(days=1)
    return engagement.read_daily(client, settings.influx_bucket, end - timedelta(days=days), end)


def retention(
    client: InfluxDBClient, settings: Settings, weeks: int
) -> list[engagement.RetentionCell]:
    """The cohorts of the last ``weeks`` signup weeks."""
    first = engagement.week_start(today()) - timedelta(weeks=weeks - 1)
    return engagement.read_retention(
        client, settings.influx_bucket, first, today() + timedelta(days=1)
    )


def busiest_hours(
    client: InfluxDBClient, settings: Settings, days: int = 28
) -> dict[tuple[int, int], int]:
    """Messages by (weekday 0=Monday, UTC hour) over the last ``days`` days, from the metrics
    job's hourly windows."""
    points = metrics.query(
        client, settings.influx_bucket, metrics.COMMUNITY, "1h", start=f"-{days}d"
    )
    grid: dict[tuple[int, int], int] = defaultdict(int)
    for point in points:
        start = point.start.astimezone(UTC)
        grid[(start.weekday(), start.hour)] += int(point.fields.get("messages", 0))
    return dict(grid)


@dataclass(frozen=True)
class Change:
    name: str
    this_week: float
    last_week: float

    @property
    def ratio(self) -> float | None:
        return None if not self.last_week else self.this_week / self.last_week - 1


def week_over_week(days: list[engagement.DailyEngagement]) -> list[Change]:
    """The seven complete days to yesterday against the seven before them: totals of
    messages, group posts and room joins, and the mean daily active users."""
    by_day = {d.day: d for d in days}
    end = today()  # exclusive: today is not complete
    this = [
        by_day[end - timedelta(days=n)] for n in range(1, 8) if end - timedelta(days=n) in by_day
    ]
    last = [
        by_day[end - timedelta(days=n)] for n in range(8, 15) if end - timedelta(days=n) in by_day
    ]

    def total(group: list[engagement.DailyEngagement], field: str) -> float:
        return float(sum(getattr(d, field) for d in group))

    def mean_dau(group: list[engagement.DailyEngagement]) -> float:
        return total(group, "dau") / len(group) if group else 0.0

    return [
        Change("daily active users (mean)", mean_dau(this), mean_dau(last)),
        Change("messages", total(this, "messages"), total(last, "messages")),
        Change("room joins", total(this, "room_joins"), total(last, "room_joins")),
        Change("group posts", total(this, "group_posts"), total(last, "group_posts")),
    ]
