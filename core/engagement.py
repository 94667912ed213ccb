"""The engagement rollups' contract: what is stored in InfluxDB, and the Flux that reads it.

The rollup assets (graph_jobs/engagement_assets.py) write these points; the dashboards and the
API read them back through the query functions here, so a measurement or field is named in one
place.

- ``engagement`` (tag ``period=day``), one point per UTC day at its midnight: ``dau``, ``wau``
  and ``mau`` (distinct users active that day, in the 7 and in the 30 days ending it),
  ``messages``, ``group_posts``, ``room_joins``, ``messages_per_active_user`` (messages / dau)
  and ``stickiness`` (dau / mau).
- ``retention`` (tags ``cohort``, the Monday that starts the signup week, and ``weeks_after``),
  one point per cohort and week since: ``cohort_size``, ``retained`` (active in that week) and
  ``rate``. ``weeks_after=1`` is week-one retention.

Every point carries ``complete`` (a boolean field): false while its period is still running,
or ended less than ``SETTLE`` ago (late messages may still land). Zulip's /stats lesson: a chart
must not show a half-filled day as a drop. It is a field, not a tag, so that re-running a
period overwrites its point (same series, same time) instead of adding a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from influxdb_client.client.influxdb_client import InfluxDBClient

DAILY = "engagement"
RETENTION = "retention"
WEEK_DAYS = 7
MONTH_DAYS = 30
SETTLE = timedelta(minutes=5)  # how long after a period ends late rows may still arrive


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class DailyEngagement:
    day: date
    dau: int
    wau: int
    mau: int
    messages: int
    group_posts: int
    room_joins: int
    complete: bool

    @property
    def messages_per_active_user(self) -> float:
        return self.messages / self.dau if self.dau else 0.0

    @property
    def stickiness(self) -> float:
        return self.dau / self.mau if self.mau else 0.0

    def record(self) -> dict[str, Any]:
        """The point, in the dict form ``write_api().write`` takes."""
        return {
            "measurement": DAILY,
            "tags": {"period": "day"},
            "fields": {
                "dau": self.dau,
                "wau": self.wau,
                "mau": self.mau,
                "messages": self.messages,
                "group_posts": self.group_posts,
                "room_joins": self.room_joins,
                "messages_per_active_user": float(round(self.messages_per_active_user, 4)),
                "stickiness": float(round(self.stickiness, 4)),
                "complete": self.complete,
            },
            "time": midnight(self.day),
        }


@dataclass(frozen=True)
class RetentionCell:
    cohort: date  # the Monday of the signup week
    weeks_after: int
    cohort_size: int
    retained: int
    complete: bool

    @property
    def rate(self) -> float:
        return self.retained / self.cohort_size if self.cohort_size else 0.0

    def record(self) -> dict[str, Any]:
        return {
            "measurement": RETENTION,
            "tags": {"cohort": self.cohort.isoformat(), "weeks_after": str(self.weeks_after)},
            "fields": {
                "cohort_size": self.cohort_size,
                "retained": self.retained,
                # A float even when 0 or 1: a field's type is fixed by its first write.
                "rate": float(round(self.rate, 4)),
                "complete": self.complete,
            },
            "time": midnight(self.cohort),
        }


def _flux(bucket: str, measurement: str, start: date, stop: date) -> str:
    # Dates only, formatted here: nothing from a request reaches the query text.
    return (
        f'from(bucket: "{bucket}")\n'
        f"  |> range(start: {midnight(start).isoformat()}, stop: {midnight(stop).isoformat()})\n"
        f'  |> filter(fn: (r) => r._measurement == "{measurement}")\n'
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
    )


def daily_flux(bucket: str, start: date, stop: date) -> str:
    """The daily points of [start, stop), one row per day with every field as a column."""
    return _flux(bucket, DAILY, start, stop) + '  |> sort(columns: ["_time"])\n'


def retention_flux(bucket: str, start: date, stop: date) -> str:
    """The retention cells of the cohorts that start in [start, stop)."""
    return _flux(bucket, RETENTION, start, stop)


def _rows(client: InfluxDBClient, org: str, flux: str) -> list[dict[str, Any]]:
    tables = client.query_api().query(flux, org=org)
    return [dict(record.values) for table in tables for record in table.records]


def read_daily(
    client: InfluxDBClient, bucket: str, start: date, stop: date, *, org: str = "-"
) -> list[DailyEngagement]:
    return [
        DailyEngagement(
            day=row["_time"].date(),
            dau=int(row["dau"]),
            wau=int(row["wau"]),
            mau=int(row["mau"]),
            messages=int(row["messages"]),
            group_posts=int(row["group_posts"]),
            room_joins=int(row["room_joins"]),
            complete=bool(row["complete"]),
        )
        for row in _rows(client, org, daily_flux(bucket, start, stop))
    ]


def read_retention(
    client: InfluxDBClient, bucket: str, start: date, stop: date, *, org: str = "-"
) -> list[RetentionCell]:
    cells = [
        RetentionCell(
            cohort=date.fromisoformat(row["cohort"]),
            weeks_after=int(row["weeks_after"]),
            cohort_size=int(row["cohort_size"]),
            retained=int(row["retained"]),
            complete=bool(row["complete"]),
        )
        for row in _rows(client, org, retention_flux(bucket, start, stop))
    ]
    return sorted(cells, key=lambda c: (c.cohort, c.weeks_after))
