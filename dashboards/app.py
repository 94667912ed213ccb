"""The community managers' dashboards: `streamlit run dashboards/app.py` (`make up` starts it).

The entry script signs people in and offers each person only the pages their role allows;
every page checks again for itself (session.gate). Pages live in views/, one purpose each:
not pages/, which Streamlit also treats as its older file-per-page mode, where a page script
can run without this entry script (and so without its sign-in); AppTest does exactly that.
"""

from __future__ import annotations

import time

import streamlit as st

from dashboards import session
from dashboards.data import community  # noqa: F401 (see below)
from dashboards.data.access import Page

# The heaviest import of any page (networkx, for the community map: 0.4 s) is paid here, on
# the sign-in page of a process's first session, not on the first visit of that page: after a
# fresh start its first load measured 2.6 s with it (bench/dashboards.py), over the 2 s budget.

st.set_page_config(page_title="studyhub · community", page_icon=":material/school:", layout="wide")

# (page, file, title, icon): the menu's order.
PAGES: list[tuple[Page, str, str, str]] = [
    ("overview", "views/overview.py", "Overview", ":material/monitoring:"),
    ("rooms", "views/rooms.py", "Rooms", ":material/meeting_room:"),
    ("engagement", "views/engagement.py", "Engagement", ":material/groups:"),
    ("moderation", "views/moderation.py", "Moderation queue", ":material/gavel:"),
    ("alerts", "views/alerts.py", "Alerts", ":material/notifications:"),
    ("community", "views/community.py", "Community map", ":material/hub:"),
    ("health", "views/health.py", "Pipeline health", ":material/lan:"),
]


def sign_in_page() -> None:
    st.title("studyhub · community dashboards")
    notice = st.session_state.get(session.NOTICE)
    if notice:
        st.info(notice)
    st.caption("For moderators, admins and the owners of rooms and groups: your studyhub account.")
    with st.form("sign-in"):
        username = st.text_input("Username", key="username")
        password = st.text_input("Password", type="password", key="password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        if not username or not password:
            st.error("Enter your username and password.")
            return
        problem = session.sign_in_as(username.strip(), password)
        if problem:
            st.error(problem)
        else:
            st.rerun()


viewer = session.current()
if viewer is None:
    st.navigation([st.Page(sign_in_page, title="Sign in", icon=":material/login:")]).run()
else:
    allowed = [
        st.Page(path, title=title, icon=icon, url_path=page)
        for page, path, title, icon in PAGES
        if viewer.scope.may_open(page)
    ]
    with st.sidebar:
        st.markdown(f"**{viewer.scope.username}** · {viewer.scope.describe()}")
        if st.button("Sign out", icon=":material/logout:"):
            session.sign_out("Signed out.")
            st.rerun()
    page = st.navigation(allowed)
    started = time.perf_counter()
    try:
        page.run()
    finally:
        # Also when a page stops early (st.stop): the browser test waits for this mark, and
        # the time is the server's part of a page load (bench/dashboards.py reads it).
        with st.container(key="page-drawn"):
            st.caption(f"{page.title} · drawn in {time.perf_counter() - started:.2f} s")
