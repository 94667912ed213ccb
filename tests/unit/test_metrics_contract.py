"""The stream metrics' contract (core/metrics.py) and the metrics job's pure parts: the Flux
that reads a measurement, and where a submission starts reading."""

from __future__ import annotations

import pytest

from core import metrics
from pipelines.metrics.sql import COMMUNITY_FIELDS, line_sql, start_of_day_ms


def test_flux_filters_on_measurement_period_and_tags_and_pivots_fields() -> None:
    text = metrics.flux(
        "studyhub/autogen",
        metrics.ROOM_ACTIVITY,
        "1m",
        start="2026-12-07T06:00:00Z",
        tags={"room_id": "42"},
    )
    assert 'from(bucket: "studyhub/autogen")' in text
    assert 'range(start: time(v: "2026-12-07T06:00:00Z"))' in text
    assert 'r._measurement == "room_activity"' in text
    assert 'r.period == "1m"' in text
    assert 'r["room_id"] == "42"' in text
    assert 'pivot(rowKey: ["_time"], columnKey: ["_field"]' in text


def test_flux_escapes_what_it_quotes() -> None:
    text = metrics.flux("b", metrics.MODERATION_ACTIONS, "1h", tags={"rule": 'a"b\\c'})
    assert 'r["rule"] == "a\\"b\\\\c"' in text
    assert "range(start: -1h)" in text


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        (1796627054.2, 1796601600 * 1000),  # 2026-12-07 07:04:14 UTC
        (1796601600.0, 1796601600 * 1000),  # midnight itself
        (1796601599.9, (1796601600 - 86400) * 1000),  # the second before
    ],
)
def test_a_submission_starts_at_the_start_of_the_utc_day(now: float, midnight: int) -> None:
    assert start_of_day_ms(now) == midnight


def test_a_line_is_complete_only_for_the_whole_window() -> None:
    sql = line_sql(metrics.COMMUNITY, "1h", "", COMMUNITY_FIELDS)
    assert sql.startswith("CONCAT('community,period=1h'")
    assert "TIMESTAMPDIFF(SECOND, window_start, window_end) = 3600" in sql
    for name, _ in COMMUNITY_FIELDS:
        assert f"{name}=" in sql
