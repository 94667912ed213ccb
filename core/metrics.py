"""The stream metrics' contract: what the metrics job (pipelines/metrics) writes to InfluxDB,
and the Flux that reads it back. The API and the dashboards query through here, so a
measurement, tag or field is named in one place (as core/engagement.py does for the daily
rollups).

Measurements, each with the tag ``period`` (``1m``, ``1h`` or ``1d``) and one point per window
at the window's start:

- ``room_activity`` (tag ``room_id``; periods 1m and 1h): ``messages``, ``active_users``
  (distinct people who sent, joined or left there), ``joins``, ``leaves``;
- ``topic_activity`` (tag ``topic``, the rooms' topic lower-cased with anything but
  ``[a-z0-9:._-]`` an underscore; periods 1m and 1h): the same fields over every room of the
  topic, and ``active_rooms`` (rooms of the topic with a message);
- ``community`` (periods 1m, 1h and 1d): ``messages``, ``active_rooms`` (rooms with a
  message), ``active_users``, ``joins``, ``leaves``, ``friendships`` (accepted requests);
- ``moderation_actions`` (tags ``rule`` and ``action``; periods 1m and 1h): ``count``.

Every point carries ``complete`` (a boolean field). The job writes a window's point several
times while it fills (Flink's CUMULATE windows: every 10 s for a minute, every minute for an
hour or a day), each time with ``complete=false``, and a last time when the
watermark passes its end, with ``complete=true``. The same window written again is the same
point (same series, same timestamp): a replay overwrites, it never adds. Zulip's /stats
lesson: a chart can tell a half-filled hour from a quiet one.

Events come in on event time (``occurred_at``) with 5 s of allowed lateness. Events later than
that are not counted in the window they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from influxdb_client.client.influxdb_client import InfluxDBClient

ROOM_ACTIVITY: Final = "room_activity"
TOPIC_ACTIVITY: Final = "topic_activity"
# Pipeline health, written by the monitor (server/monitor.py, domain/monitoring/probes.py)
# every ``monitor_interval_s``: a consumer group's lag per topic (tags group, topic; field
# lag), Redis memory (used_bytes, limit_bytes, ratio), each Flink job (tag job; running,
# checkpoint_age_s).
KAFKA_LAG: Final = "kafka_lag"
REDIS_MEMORY: Final = "redis_memory"
FLINK_JOB: Final = "flink_job"
# The chat path's own timings over the monitor's window (tag window_s): message deliveries
# (delivered, dropped, success, p50_ms, p95_ms, p99_ms), sends from arrival to ack (sends,
# p50_ms, p95_ms, p99_ms) and room joins (joins, p50_ms, p95_ms, max_ms). A percentile is its
# histogram bucket's upper bound.
CHAT_DELIVERY: Final = "chat_delivery"
CHAT_SEND: Final = "chat_send"
ROOM_JOIN: Final = "room_join"
# The rooms open now (open_rooms), those with someone in (occupied_rooms) and the people in
# them (people_in_rooms), from Redis's active-rooms index, every monitor round.
LIVE_ROOMS: Final = "live_rooms"
COMMUNITY: Final = "community"
# The top terms of each minute's messages (period 1m; tag rank 1-10; fields term, count,
# complete), stop words and masked words left out (pipelines/metrics/sql.py terms_sql).
POPULAR_TERMS: Final = "popular_terms"
MODERATION_ACTIONS: Final = "moderation_actions"
Period = Literal["1m", "1h", "1d"]
PERIOD_SECONDS: Final[dict[str, int]] = {"1m": 60, "1h": 3600, "1d": 86400}


@dataclass(frozen=True)
class Point:
    """One window's values, as read back."""

    start: datetime
    tags: dict[str, str]
    fields: dict[str, Any]

    @property
    def complete(self) -> bool:
        return bool(self.fields.get("complete", False))


def _flux_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def flux(
    bucket: str,
    measurement: str,
    period: Period,
    *,
    start: str = "-1h",
    tags: dict[str, str] | None = None,
) -> str:
    """The Flux for one measurement and period, one row per window (fields pivoted into
    columns). ``start`` is a Flux duration or an RFC 3339 time."""
    filters = [f"r._measurement == {_flux_string(measurement)}", f'r.period == "{period}"']
    filters += [f"r[{_flux_string(k)}] == {_flux_string(v)}" for k, v in (tags or {}).items()]
    range_start = start if start.startswith("-") else f"time(v: {_flux_string(start)})"
    return (
        f"from(bucket: {_flux_string(bucket)})\n"
        f"  |> range(start: {range_start})\n"
        f"  |> filter(fn: (r) => {' and '.join(filters)})\n"
        '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        '  |> sort(columns: ["_time"])'
    )


_META = {"result", "table", "_start", "_stop", "_time", "_measurement", "period"}


def _points(client: InfluxDBClient, text: str, tag_keys: tuple[str, ...]) -> list[Point]:
    points: list[Point] = []
    for table in client.query_api().query(text):
        for record in table.records:
            values = record.values
            point_tags = {k: str(values[k]) for k in tag_keys if values.get(k) is not None}
            fields = {
                k: v
                for k, v in values.items()
                if k not in _META and k not in tag_keys and not k.startswith("_")
            }
            points.append(Point(record.get_time(), point_tags, fields))  # type: ignore[no-untyped-call]
    points.sort(key=lambda point: (point.start, sorted(point.tags.items())))
    return points


def query(
    client: InfluxDBClient,
    bucket: str,
    measurement: str,
    period: Period,
    *,
    start: str = "-1h",
    tags: dict[str, str] | None = None,
    tag_keys: tuple[str, ...] = ("room_id", "rule", "action"),
) -> list[Point]:
    """Every window of ``measurement`` at ``period`` since ``start``, oldest first."""
    return _points(client, flux(bucket, measurement, period, start=start, tags=tags), tag_keys)


def samples_flux(bucket: str, measurement: str, *, start: str = "-1h", last: bool = False) -> str:
    """The Flux for a monitor measurement (no ``period`` tag: a sample every monitor round),
    one row per sample and series; ``last`` keeps each series' newest sample only."""
    range_start = start if start.startswith("-") else f"time(v: {_flux_string(start)})"
    return (
        f"from(bucket: {_flux_string(bucket)})\n"
        f"  |> range(start: {range_start})\n"
        f"  |> filter(fn: (r) => r._measurement == {_flux_string(measurement)})\n"
        + ("  |> last()\n" if last else "")
        + '  |> pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")\n'
        '  |> sort(columns: ["_time"])'
    )


def samples(
    client: InfluxDBClient,
    bucket: str,
    measurement: str,
    *,
    start: str = "-1h",
    last: bool = False,
    tag_keys: tuple[str, ...] = ("group", "topic", "job", "window_s"),
) -> list[Point]:
    """A monitor measurement's samples since ``start`` (each series' newest with ``last``),
    oldest first. ``Point.start`` is the sample's time."""
    return _points(client, samples_flux(bucket, measurement, start=start, last=last), tag_keys)


def sum_by_tag_flux(
    bucket: str, measurement: str, period: Period, field: str, tag: str, start: str, stop: str
) -> str:
    """The Flux for ``field`` summed per value of ``tag`` over the windows in [start, stop)
    (Flux durations such as ``-2h``), largest first: the sum runs in InfluxDB, so a day of a
    busy platform's rooms comes back as one row per room, not one per window."""
    return (
        f"from(bucket: {_flux_string(bucket)})\n"
        f"  |> range(start: {start}, stop: {stop})\n"
        f"  |> filter(fn: (r) => r._measurement == {_flux_string(measurement)}"
        f' and r.period == "{period}" and r._field == {_flux_string(field)})\n'
        f"  |> group(columns: [{_flux_string(tag)}])\n"
        "  |> sum()\n"
        "  |> group()\n"
        '  |> sort(columns: ["_value"], desc: true)'
    )


def sum_by_tag(
    client: InfluxDBClient,
    bucket: str,
    measurement: str,
    period: Period,
    field: str,
    tag: str,
    *,
    start: str,
    stop: str = "now()",
) -> dict[str, float]:
    """``field`` summed per ``tag`` value over [start, stop), largest first."""
    if not (start.startswith("-") and (stop == "now()" or stop.startswith("-"))):
        raise ValueError("start and stop are Flux durations such as -2h (or stop now())")
    text = sum_by_tag_flux(bucket, measurement, period, field, tag, start, stop)
    return {
        str(record.values[tag]): float(record.get_value())  # type: ignore[no-untyped-call]
        for table in client.query_api().query(text)
        for record in table.records
        if record.values.get(tag) is not None
    }
