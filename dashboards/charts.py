"""The dashboards' charts (Altair): one look for every page, thresholds drawn as rules, and
provisional windows drawn apart from complete ones (a half-filled minute is not a drop)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import altair as alt
import pandas as pd

from core.metrics import Point
from dashboards.data.timeline import Change

HEIGHT = 220


def naive_utc(moment: datetime | None) -> datetime | None:
    """A moment as a naive UTC datetime: what Arrow (Streamlit's tables and charts) takes
    without pandas' deprecated tz-aware path. Every chart and table says UTC."""
    return None if moment is None else moment.astimezone(UTC).replace(tzinfo=None)


def frame(points: Iterable[Point], field: str, by: str | None = None) -> pd.DataFrame:
    """One row per point that has ``field``: time, value, the ``by`` tag, completeness, and a
    segment number that grows at every gap (a stretch with no points: the stack was down, or
    the series was quiet), so that a line breaks there instead of bridging it."""
    rows: list[dict[str, Any]] = [
        {
            "time": naive_utc(point.start),
            "value": point.fields[field],
            "series": point.tags.get(by, "") if by else field,
            "window": "complete" if point.fields.get("complete", True) else "provisional",
        }
        for point in points
        if point.fields.get(field) is not None
    ]
    data = pd.DataFrame(rows, columns=["time", "value", "series", "window"])
    data["segment"] = 0
    if len(data) > 2:
        data = data.sort_values(["series", "time"]).reset_index(drop=True)
        steps = data.groupby("series")["time"].diff()
        usual = steps.median()
        gap = steps > usual * 3
        data["segment"] = gap.astype(int).groupby(data["series"]).cumsum()
    return data


def marks(changes: Iterable[Change]) -> pd.DataFrame:
    """Annotations (dashboards.data.timeline) as a chart's ``marked`` rows."""
    return pd.DataFrame(
        [{"time": naive_utc(c.at), "label": c.label} for c in changes], columns=["time", "label"]
    )


def line(
    data: pd.DataFrame,
    title: str,
    unit: str,
    *,
    threshold: float | None = None,
    marked: pd.DataFrame | None = None,
) -> alt.LayerChart:
    """A line per series; a dashed red rule at ``threshold``; provisional windows as hollow
    points.
    ``marked`` rows (time, label) become vertical annotations (an alert started, a run)."""
    base = alt.Chart(data).encode(
        x=alt.X("time:T", title="UTC", scale=alt.Scale(type="utc"), axis=alt.Axis(format="%H:%M")),
        y=alt.Y("value:Q", title=unit),
        color=alt.Color("series:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["time:T", "series:N", alt.Tooltip("value:Q", format=",.4~g"), "window:N"],
    )
    layers: list[Any] = [
        base.mark_line().encode(detail="segment:N"),
        # Windows still filling, as hollow points on the line (complete ones are the line).
        base.transform_filter(alt.datum.window == "provisional").mark_point(size=40, filled=False),
    ]
    if threshold is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"value": [threshold]}))
            .mark_rule(color="#d62728", strokeDash=[6, 4])
            .encode(y="value:Q")
        )
    if marked is not None and not marked.empty:
        layers.append(
            alt.Chart(marked)
            .mark_rule(color="#7f7f7f", strokeDash=[2, 2])
            .encode(x="time:T", tooltip=[alt.Tooltip("time:T", format="%H:%M:%S"), "label:N"])
        )
    return alt.LayerChart(layer=layers, title=title, height=HEIGHT)


def bars(data: pd.DataFrame, x: str, y: str, title: str) -> alt.Chart:
    chart: alt.Chart = (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(f"{x}:Q", title=None),
            y=alt.Y(f"{y}:N", sort="-x", title=None, axis=alt.Axis(labelLimit=260)),
            tooltip=list(data.columns),
        )
        .properties(title=title, height=max(HEIGHT, 18 * len(data)))
    )
    return chart
