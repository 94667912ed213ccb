"""Overview: the chat path against the seed's targets, who is in rooms now, the message volume
and the open alerts. The live part refreshes itself every ten seconds (a fragment, not a page
reload), as often as the monitor measures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import streamlit as st

from core import metrics
from dashboards import charts, session
from dashboards.api import ApiError
from dashboards.data import health, timeline

viewer = session.gate("overview", "The overview")
st.title("Overview")


def _shown(kpi: health.Kpi) -> str:
    if kpi.value is None:
        return "—"
    if kpi.unit == "%":
        return f"{kpi.value:.1%}"
    if kpi.unit == "ms":
        return f"{kpi.value:,.0f} ms"
    return f"{kpi.value:,.0f}"


def _limit(kpi: health.Kpi) -> str:
    limit = f"{kpi.limit:.0%}" if kpi.unit == "%" else f"{kpi.limit:,.0f} {kpi.unit}"
    return ("above " if kpi.higher_is_worse else "below ") + limit


@st.cache_data(ttl=60, show_spinner=False)
def _recent_changes() -> list[timeline.Change]:
    """The last hour's changes for the chart's marks, read once a minute for every viewer:
    the fragment below runs every 10 s per open tab, and Dagster's runs are a GraphQL call."""
    return timeline.since(
        session.mysql(), session.settings(), datetime.now(UTC) - timedelta(hours=1)
    )


@st.fragment(run_every=timedelta(seconds=10))
def live() -> None:
    settings = session.settings()
    influx = session.influx()
    st.subheader("The chat path now", help="The monitor's last 30 s, summed over every process.")
    columns = st.columns(6)
    for column, kpi in zip(columns, health.kpis(influx, settings), strict=True):
        column.metric(
            kpi.name,
            _shown(kpi),
            delta=None if kpi.value is None else ("alert" if kpi.breached else "ok"),
            delta_color="red" if kpi.breached else "green",
            delta_arrow="off",
            border=True,
            help=f"The alert fires {_limit(kpi)}. The line: the last half hour. A dash: "
            "nothing to measure lately (no joins, sends or deliveries in the window).",
            chart_data=list(kpi.history) or None,
            chart_type="line",
        )
    rooms = health.live_rooms(influx, settings)
    minute = metrics.query(influx, settings.influx_bucket, metrics.COMMUNITY, "1m", start="-3m")
    last = next((p for p in reversed(minute) if p.complete), None)
    people, open_rooms, active = st.columns(3)
    people.metric("people in rooms now", f"{rooms.get('people_in_rooms', 0):,}", border=True)
    open_rooms.metric(
        "rooms occupied / open",
        f"{rooms.get('occupied_rooms', 0):,} / {rooms.get('open_rooms', 0):,}",
        border=True,
    )
    active.metric(
        "active last minute",
        f"{int(last.fields.get('active_users', 0)):,}" if last else "—",
        delta=f"in {int(last.fields.get('active_rooms', 0)):,} rooms" if last else None,
        delta_color="gray",
        delta_arrow="off",
        border=True,
        help="People who sent, joined or left in the last complete minute (the metrics job).",
    )
    volume = metrics.query(influx, settings.influx_bucket, metrics.COMMUNITY, "1m", start="-1h")
    changes = _recent_changes()
    st.altair_chart(
        charts.line(
            charts.frame(volume, "messages"),
            "Messages per minute",
            "messages",
            marked=charts.marks(changes),
        ),
        width="stretch",
    )
    st.caption(
        "Hollow points: minutes still filling (provisional). Dotted lines: a room's filter "
        "policy changed, or a Dagster run started (hover for which)."
    )


live()

st.subheader("Open alerts")
try:
    with viewer.api() as api:
        firing = api.get("/admin/alerts", state="firing", limit=20)["items"]
        acknowledged = api.get("/admin/alerts", state="acknowledged", limit=20)["items"]
except ApiError as error:
    session.api_failed(error)
else:
    open_alerts = firing + acknowledged
    if not open_alerts:
        st.success("No alert is open.", icon=":material/check_circle:")
    else:
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "severity": a["severity"],
                        "state": a["state"],
                        "rule": a["rule"],
                        "subject": a["subject"],
                        "message": a["message"],
                        "since": a["started_at"],
                    }
                    for a in open_alerts
                ]
            ),
            hide_index=True,
            width="stretch",
        )
        st.page_link(
            "views/alerts.py", label="Open the alerts inbox", icon=":material/arrow_forward:"
        )
