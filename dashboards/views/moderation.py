"""Moderation queue: the items the word filter, the stream job and users' reports raised, each
with its evidence (the message, the matched span, the transformations that exposed it) and the
user's history, decided in one click with a reason. Everything goes through the API: it scopes
a room's owner to their room, a group's moderators to their group, and audits each decision."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import session, widgets
from dashboards.api import ApiError
from dashboards.data.access import Scope

viewer = session.gate("moderation", "The moderation queue")
scope: Scope = viewer.scope
st.title("Moderation queue")

# -- filters -------------------------------------------------------------------------------
top = st.columns(4)
status = top[0].selectbox("Status", ["pending", "assigned", "resolved"], key="mq_status")
kind = top[1].selectbox("Kind", ["any", "message", "user"], key="mq_kind")
rule = top[2].text_input("Rule", key="mq_rule", placeholder="e.g. flood, en-profanity") or None
with top[3]:
    subject = widgets.id_input("User id", key="mq_user")
room_id: int | None = None
group_id: int | None = None
if scope.staff:
    room_id = widgets.id_input("Room id", key="mq_room", help="Empty: every room.")
else:
    # A room's owner sees their rooms' items; a group's moderators their groups'.
    places: list[tuple[str, int]] = [("room", r) for r in scope.rooms] + [
        ("group", g) for g in scope.groups
    ]
    place = st.selectbox(
        "Room or group",
        places,
        format_func=lambda p: (
            (scope.rooms if p[0] == "room" else scope.groups)[p[1]] + f" ({p[0]} {p[1]})"
        ),
        key="mq_place",
    )
    if place is not None:
        room_id, group_id = (place[1], None) if place[0] == "room" else (None, place[1])
filters = (status, kind, rule, subject, room_id, group_id)
cursor = widgets.page_cursor("queue", filters)

try:
    with viewer.api() as api:
        page = api.get(
            "/moderation/queue",
            status=status,
            kind=None if kind == "any" else kind,
            rule=rule,
            user_id=subject,
            room_id=room_id,
            group_id=group_id,
            limit=25,
            cursor=cursor,
        )
except ApiError as error:
    session.api_failed(error)
    st.stop()

items: list[dict[str, Any]] = page["items"]
st.dataframe(
    pd.DataFrame(
        [
            {
                "id": i["id"],
                "kind": i["kind"],
                "action": i["action"],
                "rule": i["rule"],
                "user": i["subject_user_id"],
                "room": i["room_id"],
                "reason": i["reason"],
                "body": i["body"],
                "raised": i["created_at"],
                "decision": i["decision"],
            }
            for i in items
        ],
        columns=[
            "id",
            "kind",
            "action",
            "rule",
            "user",
            "room",
            "reason",
            "body",
            "raised",
            "decision",
        ],
    ),
    hide_index=True,
    width="stretch",
)
widgets.pager("queue", page["next_cursor"])


def _marked(body: str, hit: dict[str, Any]) -> str:
    """The message, escaped, with the hit's original span in red."""
    start, end = int(hit["start"]), int(hit["end"])
    before, span, after = (
        widgets.plain(part) for part in (body[:start], body[start:end], body[end:])
    )
    return f"{before}**:red[{span}]**{after}"


if not items:
    st.info("Nothing here under these filters.")
else:
    item = (
        st.selectbox(
            "Item",
            items,
            format_func=lambda i: (
                f"{i['rule'] or i['action']} · user {i['subject_user_id']} ({i['id']})"
            ),
            key="mq_item",
        )
        or items[0]
    )
    st.subheader(widgets.plain(f"{item['action']} · {item['rule'] or 'report'}"))
    st.caption(
        f"item {item['id']} · {item['kind']} by user {item['subject_user_id']}"
        + (f" in room {item['room_id']}" if item["room_id"] else "")
        + (f" in group {item['group_id']}" if item["group_id"] else "")
        + (f" · reported by user {item['reporter_id']}" if item["reporter_id"] else "")
        + f" · {item['created_at']}"
    )
    st.markdown(f"Reason: {widgets.plain(item['reason'])}")
    body = item["body"] or ""
    evidence: list[dict[str, Any]] = item["evidence"] or []
    hits = [e for e in evidence if "start" in e and "end" in e]
    if body:
        shown = _marked(body, hits[0]) if hits else widgets.plain(body)
        st.markdown("> " + shown.replace("\n", "\n> "))
    for hit in hits:
        chain = " → ".join(
            [f"**{widgets.plain(hit['original'])}**"]
            + [f"**{widgets.plain(s['text'])}** ({widgets.plain(s['step'])})" for s in hit["steps"]]
        )
        rule = widgets.plain(f"{hit['rule']} ({hit['kind']}, {hit['source']})")
        st.markdown(f"- rule {rule}: {chain}")
    others = [e for e in evidence if e not in hits]
    if others:
        st.json(others, expanded=False)

    st.markdown("**The user's history**")
    try:
        with viewer.api() as api:
            earlier = api.get(
                "/moderation/queue",
                status="resolved",
                user_id=item["subject_user_id"],
                room_id=room_id if not scope.staff else None,
                group_id=group_id,
                limit=10,
            )["items"]
            decisions = (
                api.get("/moderation/audit", user_id=item["subject_user_id"], limit=10)["items"]
                if scope.staff
                else api.get(
                    "/moderation/audit", user_id=item["subject_user_id"], room_id=room_id, limit=10
                )["items"]
                if room_id is not None
                else []
            )
    except ApiError as error:
        session.api_failed(error)
    else:
        st.caption(
            f"{len(earlier)} earlier item(s) resolved (newest 10), {len(decisions)} decision(s)"
        )
        if decisions:
            st.dataframe(
                pd.DataFrame(decisions)[["created_at", "kind", "reason", "actor_id", "room_id"]],
                hide_index=True,
                width="stretch",
            )

    if item["status"] != "resolved":
        if item["assignee_id"] != scope.user_id and st.button(
            "Assign to me", key=f"assign-{item['id']}", icon=":material/person_add:"
        ):
            try:
                with viewer.api() as api:
                    api.post(f"/moderation/items/{item['id']}/assign")
            except ApiError as error:
                session.api_failed(error)
            else:
                st.toast("Assigned to you.")
                st.rerun()
        with st.form(f"decide-{item['id']}"):
            decision = st.radio(
                "Decision", ["dismiss", "remove", "mute", "ban"], horizontal=True, key="mq_decision"
            )
            minutes = st.number_input(
                "Mute for (minutes)",
                min_value=1,
                max_value=60 * 24 * 30,
                value=60,
                key="mq_minutes",
            )
            reason = st.text_input("Reason (kept in the audit log)", key="mq_reason")
            decided = st.form_submit_button("Decide", type="primary")
        if decided:
            try:
                with viewer.api() as api:
                    api.post(
                        f"/moderation/items/{item['id']}/decision",
                        {"decision": decision, "reason": reason, "mute_minutes": int(minutes)},
                    )
            except ApiError as error:
                session.api_failed(error)
            else:
                st.toast(f"{decision}: done, and audited.")
                st.rerun()
    else:
        st.success(
            f"Decided: {item['decision']} by user {item['decided_by']} at {item['decided_at']}"
        )

st.divider()
st.subheader("Audit trail")
audit_room = None if scope.staff else room_id
if not scope.staff and audit_room is None:
    st.caption("The audit trail of a group is kept with the platform's moderators.")
else:
    audit_cursor = widgets.page_cursor("audit", (audit_room,))
    try:
        with viewer.api() as api:
            trail = api.get("/moderation/audit", room_id=audit_room, limit=25, cursor=audit_cursor)
    except ApiError as error:
        session.api_failed(error)
    else:
        st.dataframe(
            pd.DataFrame(
                trail["items"],
                columns=[
                    "id",
                    "created_at",
                    "kind",
                    "user_id",
                    "room_id",
                    "message_id",
                    "actor_id",
                    "reason",
                    "details",
                ],
            ),
            hide_index=True,
            width="stretch",
        )
        widgets.pager("audit", trail["next_cursor"])
