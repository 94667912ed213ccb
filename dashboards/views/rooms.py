"""Rooms: the busiest rooms, the trending room topics and terms, and one room's own page (its
activity, focus time and moderation). A room's owner sees their own rooms only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from core import metrics
from dashboards import charts, session, widgets
from dashboards.api import ApiError
from dashboards.data import rooms, timeline

viewer = session.gate("rooms", "Rooms")
scope = viewer.scope
st.title("Rooms")
settings = session.settings()
influx, mysql = session.influx(), session.mysql()


def _change(ranked: rooms.Ranked) -> str:
    return "new" if ranked.change is None else f"{ranked.change:+.0%}"


def _trending(ranked: list[rooms.Ranked], caption: str, names: tuple[str, str]) -> None:
    """The top ten, this hour against the hour before."""
    key, count = names
    st.caption(caption)
    st.dataframe(
        pd.DataFrame(
            [
                {key: r.key, count: int(r.now), "hour before": int(r.before), "change": _change(r)}
                for r in ranked[:10]
            ],
            columns=[key, count, "hour before", "change"],
        ),
        hide_index=True,
        width="stretch",
    )


busiest = rooms.busiest(influx, settings, hours=24)
if not scope.staff:
    busiest = [(room_id, n) for room_id, n in busiest if room_id in scope.rooms]
top = busiest[:20]
known = rooms.rooms(mysql, [room_id for room_id, _ in top])

left, right = st.columns([3, 2])
with left:
    st.subheader("Busiest rooms, last 24 hours")
    table = pd.DataFrame(
        [
            {
                # Names repeat across rooms; the id keeps each bar its own.
                "room": f"{known[room_id].name if room_id in known else 'room'} ({room_id})",
                "topic": known[room_id].topic if room_id in known else "",
                "messages": int(total),
            }
            for room_id, total in top
        ],
        columns=["room", "topic", "messages"],
    )
    if table.empty:
        st.info("No messages in any of these rooms in the last 24 hours.")
    else:
        st.altair_chart(charts.bars(table, "messages", "room", ""), width="stretch")
if scope.staff:
    with right:
        st.subheader("Trending", help="The last hour against the hour before.")
        _trending(
            rooms.trending_topics(influx, settings),
            "Room topics, by messages",
            ("topic", "messages"),
        )
        _trending(
            rooms.trending_terms(influx, settings),
            "Terms in messages (stop words and masked words left out)",
            ("term", "uses"),
        )

# -- one room --------------------------------------------------------------------------------
st.divider()
if scope.staff:
    choices: dict[int, str] = {
        room_id: f"{known[room_id].name} ({room_id})" for room_id, _ in top if room_id in known
    }
    picked = st.selectbox(
        "Room",
        [*choices, 0],
        format_func=lambda r: choices.get(r, "another room, by id"),
        key="room_pick",
    )
    room_id = picked or widgets.id_input("Room id", key="room_id") or 0
else:
    room_id = (
        st.selectbox(
            "Room",
            list(scope.rooms),
            format_func=lambda r: f"{scope.rooms[r]} ({r})",
            key="room_pick",
        )
        or 0
    )
if not room_id:
    st.stop()
found = rooms.rooms(mysql, [room_id]).get(room_id)
if found is None:
    st.error(f"Room {room_id} does not exist.")
    st.stop()
if not scope.staff and found.owner_id != scope.user_id:
    st.error("You can look at your own rooms only.")
    st.stop()
st.subheader(widgets.plain(found.name))
st.caption(
    widgets.plain(
        f"room {found.id} · topic {found.topic} · {found.status} · owner {found.owner_id}"
    )
)

stay = rooms.focus(mysql, room_id)
for column, (label, value) in zip(
    st.columns(4),
    (
        ("stays, last 7 days", f"{stay.sessions:,}"),
        ("people", f"{stay.people:,}"),
        ("hours in the room", f"{stay.seconds / 3600:,.1f}"),
        ("hours of focus", f"{stay.focus_seconds / 3600:,.1f}"),
    ),
    strict=True,
):
    column.metric(label, value, border=True)

resolution = st.segmented_control(
    "Activity",
    ["last 3 hours, by minute", "last 7 days, by hour"],
    default="last 3 hours, by minute",
    key="room_resolution",
)
period: metrics.Period = "1h" if resolution == "last 7 days, by hour" else "1m"
points = rooms.activity(influx, settings, room_id, period, "-7d" if period == "1h" else "-3h")
series = pd.concat(
    [charts.frame(points, field).assign(series=field) for field in ("messages", "active_users")],
    ignore_index=True,
)
changes = timeline.since(
    mysql,
    settings,
    datetime.now(UTC) - (timedelta(days=7) if period == "1h" else timedelta(hours=3)),
    room_id=room_id,
)
st.altair_chart(
    charts.line(series, "Messages and active people", "per window", marked=charts.marks(changes)),
    width="stretch",
)
if changes:
    st.caption("Dotted lines: the room's word-filter policy changed (hover for how).")

st.markdown("**Moderation in this room**")
try:
    with viewer.api() as api:
        pending = api.get("/moderation/queue", status="pending", room_id=room_id, limit=50)
        resolved = api.get("/moderation/queue", status="resolved", room_id=room_id, limit=10)
except ApiError as error:
    session.api_failed(error)
else:
    items: list[dict[str, Any]] = pending["items"] + resolved["items"]
    more = "+" if pending["next_cursor"] else ""
    st.caption(f"{len(pending['items'])}{more} pending; the latest decisions below.")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "status": i["status"],
                    "action": i["action"],
                    "rule": i["rule"],
                    "user": i["subject_user_id"],
                    "body": i["body"],
                    "raised": i["created_at"],
                    "decision": i["decision"],
                }
                for i in items
            ],
            columns=["status", "action", "rule", "user", "body", "raised", "decision"],
        ),
        hide_index=True,
        width="stretch",
    )
    st.page_link("views/moderation.py", label="Open the queue", icon=":material/gavel:")
