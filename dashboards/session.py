"""The signed-in session: sign-in through the API, the idle timeout, each page's gate, and the
store clients the pages share (one per server process, not one per page run).

Streamlit keeps ``st.session_state`` per browser tab, on the server; nothing of it reaches
the browser but what a page draws. A reload starts a new session (sign in again).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NoReturn

import streamlit as st
from influxdb_client.client.influxdb_client import InfluxDBClient
from neo4j import Driver

from core.clients import influx_client, neo4j_driver
from core.db.sharding import ShardRouter
from core.settings import Settings, get_settings
from dashboards.api import Api, ApiError, sign_in
from dashboards.data.access import Page, Scope, scope_of

VIEWER = "viewer"
SEEN_AT = "seen_at"
NOTICE = "signed_out_because"


@dataclass(frozen=True)
class Viewer:
    scope: Scope
    token: str
    expires_at: float  # the token's own end (epoch seconds)

    def api(self) -> Api:
        return Api(settings().dashboard_api, self.token)


def settings() -> Settings:
    return get_settings()  # cached by core.settings: the environment is read once


@st.cache_resource
def mysql() -> ShardRouter:
    return ShardRouter(settings(), pool_size=4)


@st.cache_resource
def influx() -> InfluxDBClient:
    return influx_client(settings())


@st.cache_resource
def neo4j() -> Driver:
    return neo4j_driver(settings())


def sign_in_as(username: str, password: str) -> str | None:
    """Signs in; None on success, else why not (shown under the form)."""
    try:
        token, lifetime = sign_in(settings().dashboard_api, username, password)
        with Api(settings().dashboard_api, token) as api:
            me = api.get("/users/me")
    except ApiError as error:
        if error.status == 401:
            return "Wrong username or password."
        return f"Could not sign in: {error.message}"
    scope = scope_of(mysql(), int(me["id"]))
    if scope is None or not scope.admitted:
        return (
            "The dashboards are for moderators, admins and the owners of rooms and groups; "
            f"{username} is none of these. An admin grants the role with "
            "`studyhub moderation set-role`."
        )
    st.session_state[VIEWER] = Viewer(scope, token, time.time() + lifetime)
    st.session_state[SEEN_AT] = time.time()
    st.session_state.pop(NOTICE, None)
    return None


def sign_out(because: str | None = None) -> None:
    for key in (VIEWER, SEEN_AT):
        st.session_state.pop(key, None)
    if because:
        st.session_state[NOTICE] = because


def current() -> Viewer | None:
    """The signed-in viewer, after the timeouts: idle longer than the setting, or a token past
    its end, signs the session out. Each call counts as activity."""
    viewer: Viewer | None = st.session_state.get(VIEWER)
    if viewer is None:
        return None
    now = time.time()
    idle_limit = settings().dashboard_idle_minutes * 60
    if now - float(st.session_state.get(SEEN_AT, 0.0)) > idle_limit:
        sign_out(f"Signed out after {settings().dashboard_idle_minutes} minutes without activity.")
        return None
    if now >= viewer.expires_at:
        sign_out("Your sign-in expired; sign in again.")
        return None
    st.session_state[SEEN_AT] = now
    return viewer


def gate(page: Page, title: str) -> Viewer:
    """The page's own check (the menu offers only allowed pages; a link or a stale tab may
    still land here): the viewer, or the page stops with why not."""
    viewer = current()
    if viewer is None:
        _refuse("Sign in first.")
    if not viewer.scope.may_open(page):
        _refuse(
            f"{title} is for moderators and admins. You are signed in as "
            f"{viewer.scope.username} ({viewer.scope.describe()})."
        )
    return viewer


def _refuse(message: str) -> NoReturn:
    st.error(message, icon=":material/block:")
    st.stop()


def api_failed(error: ApiError) -> None:
    """An API refusal shown as it came (a 403 names the missing role); a 401 ends the session."""
    if error.status == 401:
        sign_out("Your sign-in is no longer valid; sign in again.")
        st.rerun()
    st.error(f"{error.message} (HTTP {error.status}, {error.code})")
