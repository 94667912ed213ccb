"""Community map: the communities the graph jobs found and their sizes, a picture of one
community (nodes sized by PageRank, coloured by community, its border with the others
included), the most central people, and the chain of friends between two people."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import charts, session, widgets
from dashboards.api import ApiError
from dashboards.data import community

viewer = session.gate("community", "The community map")
st.title("Community map")
mysql = session.mysql()

top, count, computed = community.sizes(mysql, limit=30)
if not top:
    st.info(
        "No communities yet: the Dagster job `graph_full_sync` (nightly, or from the Dagster "
        "UI) computes them."
    )
    st.stop()
st.caption(f"{count:,} communities, computed {computed} UTC by the graph jobs (Leiden, PageRank).")
sizes = pd.DataFrame([{"community": str(c), "members": n} for c, n in top])
st.altair_chart(
    charts.bars(sizes, "members", "community", "The largest communities"), width="stretch"
)

largest = dict(top)
picked = st.selectbox(
    "Community",
    [*largest, 0],
    format_func=lambda c: f"{c} ({largest[c]:,} members)" if c else "another community, by id",
    key="community_pick",
)
chosen = picked or widgets.id_input("Community id", key="community_id") or 0
if not chosen:
    st.stop()
size = st.slider("People shown", 10, 150, 60, step=10, key="community_top")
core_members = community.central_members(mysql, chosen, size)
if not core_members:
    st.error(f"Community {chosen} has nobody in it (as of the graph jobs' last run).")
    st.stop()
drawn = community.picture(session.neo4j(), mysql, core_members)
nodes = pd.DataFrame(
    [
        {
            "user": m.username,
            "id": str(m.user_id),
            "community": str(m.community_id),
            "pagerank": m.pagerank,
            "friends": m.friends,
            "x": x,
            "y": y,
        }
        for m, x, y in drawn.nodes
    ]
)
place = {int(row.id): (row.x, row.y) for row in nodes.itertuples()}
edges = pd.DataFrame(
    [
        {"x": place[a][0], "y": place[a][1], "x2": place[b][0], "y2": place[b][1]}
        for a, b in drawn.edges
        if a in place and b in place
    ],
    columns=["x", "y", "x2", "y2"],
)
hidden = alt.Axis(labels=False, ticks=False, grid=False, domain=False, title=None)
st.altair_chart(
    alt.layer(
        alt.Chart(edges)
        .mark_rule(opacity=0.25, color="#888")
        .encode(x=alt.X("x:Q", axis=hidden), y=alt.Y("y:Q", axis=hidden), x2="x2:Q", y2="y2:Q"),
        alt.Chart(nodes)
        .mark_circle(opacity=0.9, stroke="white")
        .encode(
            x=alt.X("x:Q", axis=hidden),
            y=alt.Y("y:Q", axis=hidden),
            size=alt.Size("pagerank:Q", scale=alt.Scale(range=[30, 900]), legend=None),
            color=alt.Color("community:N", legend=alt.Legend(title="community")),
            tooltip=[
                "user:N",
                "id:N",
                "community:N",
                alt.Tooltip("pagerank:Q", format=".3g"),
                "friends:Q",
            ],
        ),
    ).properties(
        title=f"Community {chosen}: its {len(core_members)} most central people and their border",
        height=520,
    ),
    width="stretch",
)

st.subheader("Top influencers")
st.dataframe(
    pd.DataFrame(
        [
            {
                "user": m.username,
                "id": str(m.user_id),
                "community": str(m.community_id),
                "pagerank": round(m.pagerank, 4),
                "friends": m.friends,
            }
            for m in community.influencers(mysql, limit=20)
        ]
    ),
    hide_index=True,
    width="stretch",
)

st.subheader("Path between two people")
with st.form("path"):
    left, right = st.columns(2)
    start = left.text_input("From (username)", key="path_from")
    end = right.text_input("To (username)", key="path_to")
    asked = st.form_submit_button("Find the chain of friends")
if asked:
    ids = {name: community.user_id(mysql, name.strip()) for name in (start, end)}
    unknown = [name for name, found in ids.items() if found is None]
    if unknown:
        st.error(f"No such user: {widgets.plain(', '.join(unknown)) or '(empty)'}")
    else:
        try:
            with viewer.api() as api:
                found = api.get(f"/users/{ids[start]}/path/{ids[end]}")
        except ApiError as error:
            session.api_failed(error)
        else:
            chain = " → ".join(step["username"] for step in found["path"])
            st.success(f"{found['hops']} friendship(s): {chain}")
