"""Alerts inbox: firing, acknowledged and resolved alerts, each with the chart and the samples
the monitor judged it on, its history, and a one-click acknowledgement (through the API)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core import metrics
from dashboards import charts, session, widgets
from dashboards.api import ApiError
from dashboards.data import health, timeline

viewer = session.gate("alerts", "The alerts inbox")
st.title("Alerts")

state = st.segmented_control(
    "State", ["firing", "acknowledged", "resolved"], default="firing", key="alert_state"
)
rules = ["any rule", "probe", *health.RULE_SERIES]
rule = st.selectbox("Rule", rules, key="alert_rule")
filters = (state, rule)
cursor = widgets.page_cursor("alerts", filters)


def _evidence(alert: dict[str, Any]) -> None:
    """The alert's series from a while before it started to its end (or now)."""
    series = health.RULE_SERIES.get(alert["rule"])
    if series is None:
        st.caption("A probe alert: the monitor could not read a service (see its message).")
        return
    measurement, field = series
    started = datetime.fromisoformat(alert["started_at"])
    since = (started - timedelta(minutes=15)).isoformat()
    points = metrics.samples(
        session.influx(), session.settings().influx_bucket, measurement, start=since
    )
    subject = alert["subject"]
    if measurement == metrics.KAFKA_LAG:
        points = [p for p in points if f"{p.tags.get('group')}/{p.tags.get('topic')}" == subject]
    elif measurement == metrics.FLINK_JOB:
        points = [p for p in points if p.tags.get("job") == subject]
    data = charts.frame(points, field)
    changes = [timeline.Change(started, "this alert fired")]
    if alert.get("resolved_at"):
        changes.append(timeline.Change(datetime.fromisoformat(alert["resolved_at"]), "resolved"))
    changes += timeline.since(session.mysql(), session.settings(), started - timedelta(minutes=15))
    marks = charts.marks(changes)
    st.altair_chart(
        charts.line(
            data,
            f"{measurement}.{field} ({subject})",
            field,
            threshold=float(alert["threshold"]),
            marked=marks,
        ),
        width="stretch",
    )
    with st.popover("The samples"):
        st.dataframe(data, hide_index=True)


try:
    with viewer.api() as api:
        page = api.get(
            "/admin/alerts",
            state=state,
            rule=None if rule == "any rule" else rule,
            limit=20,
            cursor=cursor,
        )
except ApiError as error:
    session.api_failed(error)
    st.stop()

items: list[dict[str, Any]] = page["items"]
if not items:
    st.info(f"No {state or ''} alerts{'' if rule == 'any rule' else ' for ' + rule}.")
    widgets.pager("alerts", page["next_cursor"])
    st.stop()

st.dataframe(
    pd.DataFrame(
        [
            {
                "id": str(a["id"]),
                "severity": a["severity"],
                "rule": a["rule"],
                "subject": a["subject"],
                "value": a["value"],
                "threshold": a["threshold"],
                "since": a["started_at"],
                "resolved": a["resolved_at"],
            }
            for a in items
        ]
    ),
    hide_index=True,
    width="stretch",
)
widgets.pager("alerts", page["next_cursor"])

chosen = st.selectbox(
    "Alert",
    items,
    format_func=lambda a: f"{a['severity']} · {a['rule']} · {a['subject']} ({a['id']})",
    key="alert_chosen",
)
alert: dict[str, Any] = chosen or items[0]
icon = ":material/error:" if alert["severity"] == "critical" else ":material/warning:"
st.subheader(f"{alert['rule']} on {alert['subject']}")
st.markdown(f"{icon} **{alert['severity']}**, {alert['state']}: {widgets.plain(alert['message'])}")
left, right = st.columns([3, 1])
left.write(
    f"value **{alert['value']:g}** against **{alert['threshold']:g}** · since {alert['started_at']}"
)
if alert["state"] == "firing" and right.button(
    "Acknowledge", key=f"ack-{alert['id']}", icon=":material/done:", type="primary"
):
    try:
        with viewer.api() as api:
            api.post(f"/admin/alerts/{alert['id']}/acknowledge")
    except ApiError as error:
        session.api_failed(error)
    else:
        st.toast(f"Acknowledged: {alert['rule']} on {alert['subject']}")
        st.rerun()
SNOOZES = {"15 minutes": 15, "1 hour": 60, "4 hours": 240, "1 day": 1440}
if alert["state"] != "resolved":
    with right.popover("Snooze", icon=":material/snooze:"):
        length = st.radio("For", list(SNOOZES), key=f"snooze-for-{alert['id']}")
        if st.button("Snooze it", key=f"snooze-{alert['id']}"):
            try:
                with viewer.api() as api:
                    api.post(f"/admin/alerts/{alert['id']}/snooze", {"minutes": SNOOZES[length]})
            except ApiError as error:
                session.api_failed(error)
            else:
                st.toast(f"Snoozed for {length}: it fires again after, if still open.")
                st.rerun()
if alert.get("acknowledged_by"):
    right.caption(f"acknowledged by user {alert['acknowledged_by']} at {alert['acknowledged_at']}")
if alert.get("snoozed_until"):
    right.caption(f"snoozed until {alert['snoozed_until']}")
_evidence(alert)
try:
    with viewer.api() as api:
        history = api.get(f"/admin/alerts/{alert['id']}")["history"] or []
except ApiError as error:
    session.api_failed(error)
else:
    st.caption("History")
    st.dataframe(pd.DataFrame(history), hide_index=True, width="stretch")
