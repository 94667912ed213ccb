"""Engagement: daily, weekly and monthly actives, retention by signup week, the focus-time
leaderboards, the busiest hours and the change on last week. Days are UTC; a day or cohort
still filling is marked provisional (Zulip's lesson: a half-filled day is not a drop)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import session, widgets
from dashboards.api import ApiError
from dashboards.data import engagement

viewer = session.gate("engagement", "Engagement")
st.title("Engagement")
settings = session.settings()
influx = session.influx()

days = engagement.daily(
    influx,
    settings,
    days=st.select_slider("Days shown", [14, 30, 60, 90], value=60, key="eng_days"),
)

# -- change on last week ---------------------------------------------------------------------
st.subheader("This week against last", help="The 7 complete days to yesterday, and the 7 before.")
for column, change in zip(st.columns(4), engagement.week_over_week(days), strict=True):
    column.metric(
        change.name,
        f"{change.this_week:,.0f}",
        delta=None if change.ratio is None else f"{change.ratio:+.0%} on last week",
        border=True,
    )

# -- actives ---------------------------------------------------------------------------------
if not days:
    st.info(
        "No daily rollups yet: the Dagster schedule `engagement_hourly` writes them "
        "(or materialize `engagement_daily` in the Dagster UI)."
    )
else:
    actives = pd.DataFrame(
        [
            {
                "day": d.day.isoformat(),
                "measure": name,
                "users": value,
                "day status": "complete" if d.complete else "provisional",
            }
            for d in days
            for name, value in (("DAU", d.dau), ("WAU", d.wau), ("MAU", d.mau))
        ]
    )
    base = alt.Chart(actives).encode(
        x=alt.X("day:T", title="UTC day"),
        y=alt.Y("users:Q", title="users"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["day:T", "measure:N", "users:Q", "day status:N"],
    )
    st.altair_chart(
        alt.layer(
            base.mark_line(),
            base.transform_filter(alt.datum["day status"] == "provisional").mark_point(
                size=60, filled=False
            ),
        ).properties(
            title="Daily, weekly and monthly active users (hollow: provisional)", height=240
        ),
        width="stretch",
    )
    latest = days[-1]
    st.caption(
        f"{latest.day}: {latest.dau:,} active, stickiness (DAU/MAU) "
        f"{latest.stickiness:.0%}, {latest.messages_per_active_user:.1f} messages per active "
        f"user{' (provisional)' if not latest.complete else ''}."
    )

# -- retention -------------------------------------------------------------------------------
cells = engagement.retention(influx, settings, weeks=12)
st.subheader("Retention by signup week")
if not cells:
    st.info("No retention cohorts yet: the nightly `engagement_nightly_retention` writes them.")
else:
    grid = pd.DataFrame(
        [
            {
                "cohort": c.cohort.isoformat(),
                "week": c.weeks_after,
                "retained": c.rate,
                "people": c.cohort_size,
                "status": "complete" if c.complete else "provisional",
            }
            for c in cells
            if c.cohort_size  # a signup week nobody signed up in has no row
        ]
    )
    if grid.empty:
        st.info("No one signed up in the last 12 weeks.")
    else:
        heat = alt.Chart(grid).encode(
            x=alt.X("week:O", title="weeks after signup"),
            y=alt.Y("cohort:O", title="signup week (Monday)", sort="descending"),
        )
        st.altair_chart(
            alt.layer(
                heat.mark_rect().encode(
                    color=alt.Color(
                        "retained:Q",
                        scale=alt.Scale(scheme="blues", domain=[0, 1]),
                        legend=alt.Legend(format=".0%"),
                    ),
                    tooltip=[
                        "cohort:O",
                        "week:O",
                        alt.Tooltip("retained:Q", format=".1%"),
                        "people:Q",
                        "status:N",
                    ],
                ),
                heat.mark_text(fontSize=10).encode(
                    text=alt.Text("retained:Q", format=".0%"),
                    opacity=alt.condition(
                        alt.datum.status == "provisional", alt.value(0.4), alt.value(1.0)
                    ),
                ),
            ).properties(height=max(160, 24 * grid["cohort"].nunique())),
            width="stretch",
        )
        st.caption("Faded numbers: weeks still running (provisional).")

# -- busiest hours ---------------------------------------------------------------------------
st.subheader("Busiest hours", help="Messages per weekday and UTC hour, the last four weeks.")
hours = engagement.busiest_hours(influx, settings)
if not hours:
    st.info("No hourly windows yet: the metrics job writes them as chat happens.")
else:
    weekdays = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    table = pd.DataFrame(
        [{"weekday": weekdays[d], "hour": h, "messages": n} for (d, h), n in hours.items()]
    )
    st.altair_chart(
        alt.Chart(table)
        .mark_rect()
        .encode(
            x=alt.X("hour:O", title="UTC hour"),
            y=alt.Y("weekday:O", sort=weekdays, title=None),
            color=alt.Color("messages:Q", scale=alt.Scale(scheme="oranges")),
            tooltip=["weekday:O", "hour:O", "messages:Q"],
        )
        .properties(height=200),
        width="stretch",
    )

# -- focus leaderboards ----------------------------------------------------------------------
st.subheader("Focus-time leaderboard")
left, right = st.columns(2)
period = (
    left.segmented_control("Period", ["day", "week", "month"], default="week", key="lb_period")
    or "week"
)
cursor = widgets.page_cursor("leaderboard", period)
try:
    with viewer.api() as api:
        board = api.get(
            "/focus/leaderboard", period=period, scope="global", limit=20, cursor=cursor
        )
except ApiError as error:
    session.api_failed(error)
else:
    right.caption(f"{board['starts_at']} to {board['ends_at']} (UTC), cached for a minute")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "rank": e["rank"],
                    "user": e["username"],
                    "hours in rooms": round(e["seconds"] / 3600, 2),
                    "hours of focus": round(e["focus_seconds"] / 3600, 2),
                }
                for e in board["items"]
            ],
            columns=["rank", "user", "hours in rooms", "hours of focus"],
        ),
        hide_index=True,
        width="stretch",
    )
    widgets.pager("leaderboard", board["next_cursor"])
