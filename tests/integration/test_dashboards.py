"""The community dashboards (dashboards/) in Streamlit's AppTest, against the real stores and
a real API: sign-in with the platform's accounts, each page rendered with data for the role
that may see it and refused to the role that may not, and every moderation action taken on a
page going through the API into the audit log."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from dagster import materialize
from influxdb_client.client.influxdb_client import InfluxDBClient
from streamlit.testing.v1 import AppTest
from typer.testing import CliRunner

from core import metrics
from core.settings import REPO_ROOT, Settings, get_settings
from dashboards.data import rooms as rooms_data
from domain.resources import open_resources
from graph_jobs.definitions import resources as graph_resources
from graph_jobs.engagement_assets import engagement_daily, engagement_retention
from server.monitor import run_once
from stack.main import app as cli
from tests.conftest import require
from tests.integration.test_graph_api import _befriend, _run_the_graph_jobs
from tests.integration.test_moderation_queue import _room_with_a_message, _wait_for
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration]

APP = str(REPO_ROOT / "dashboards" / "app.py")
PASSWORD = "correct horse"  # what tests.utils.api.People registers everyone with


@pytest.fixture(autouse=True)
def dashboards_call_the_test_api(
    api_url: str, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """The pages call the API under test (its rate limits are the suite's)."""
    require(settings, "mariadb-0", "mariadb-1", "redis", "kafka", "influxdb", "monitor")
    monkeypatch.setenv("STUDYHUB_DASHBOARD_API_URL", api_url)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _chart(at: AppTest, title: str) -> Any:
    """The one chart whose spec carries ``title``."""
    (chart,) = [c for c in at.get("vega_lite_chart") if title in c.proto.spec]
    return chart


def _role(person: Person, role: str) -> Person:
    result = CliRunner().invoke(cli, ["moderation", "set-role", person.username, role])
    assert result.exit_code == 0, result.output
    return person


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error] + [str(e.value) for e in at.exception]


def _signed_in(username: str, password: str = PASSWORD) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.text_input(key="username").input(username)
    at.text_input(key="password").input(password)
    at.button[0].click().run()
    return at


def _open(at: AppTest, page: str) -> AppTest:
    at.switch_page(f"views/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _choose(at: AppTest, key: str, containing: str) -> None:
    """Select the option whose label contains ``containing`` (labels are what AppTest sees)."""
    options = at.selectbox(key=key).options
    (index,) = [i for i, option in enumerate(options) if containing in option]
    at.selectbox(key=key).select_index(index).run()


def _chosen(at: AppTest, key: str) -> dict[str, Any]:
    value = at.selectbox(key=key).value
    assert isinstance(value, dict), value
    return value


def _titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


# -- sign-in ---------------------------------------------------------------------------------


def test_only_moderators_admins_and_owners_get_in_and_an_idle_session_ends(
    people: People,
) -> None:
    outsider = people.register()
    at = _signed_in(outsider.username, "not the password")
    assert "Wrong username or password." in _errors(at)

    at = _signed_in(outsider.username)
    (refusal,) = _errors(at)
    assert outsider.username in refusal
    assert "moderators, admins and the owners" in refusal
    assert "Sign in" in [b.label for b in at.button]

    moderator = _role(people.register(prefix="mod"), "moderator")
    at = _signed_in(moderator.username)
    assert _titles(at) == ["Overview"]
    assert f"**{moderator.username}** · moderator" in [m.value for m in at.sidebar.markdown]
    # Thirty-one minutes without a page run: the next run signs the session out.
    at.session_state["seen_at"] = time.time() - 31 * 60
    at.run()
    assert "Signed out after 30 minutes without activity." in [i.value for i in at.info]
    assert "Overview" not in _titles(at)


def test_a_room_owner_sees_their_rooms_queue_and_nothing_of_the_staffs(
    api_url: str, people: People
) -> None:
    owner, author, reporter = (people.register() for _ in range(3))
    room_id, message_id = _room_with_a_message(api_url, owner, author, "buy cheap essays here")
    assert reporter.http.post(f"/rooms/{room_id}/join").status_code == 200
    filed = _wait_for(
        "the report accepted (the message stored)",
        lambda: (
            r
            if (
                r := reporter.http.post(
                    "/reports",
                    json={"room_id": room_id, "message_id": message_id, "reason": "ads"},
                )
            ).status_code
            == 202
            else None
        ),
    )
    item_id = filed.json()["id"]
    at = _signed_in(owner.username)
    # The owner's pages: their rooms, and the queue scoped to their rooms; the staff's pages
    # are not registered in their navigation at all.
    assert _titles(at) == ["Rooms"]
    assert at.selectbox(key="room_pick").options == [f"queue ({room_id})"]
    assert "queue" in [s.value for s in at.subheader]
    _open(at, "moderation")
    assert _titles(at) == ["Moderation queue"]
    assert at.selectbox(key="mq_place").value == ("room", room_id)

    def listed() -> bool:
        at.run()
        return item_id in list(at.dataframe[0].value["id"])

    _wait_for("the report on the owner's page", listed)
    for staff_page in ("overview", "engagement", "alerts", "community", "health"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"views/{staff_page}.py")  # not in this person's navigation
    # A stale link straight to a staff page: the page refuses by itself.
    direct = AppTest.from_file(str(REPO_ROOT / "dashboards/views/alerts.py"), default_timeout=60)
    direct.session_state["viewer"] = at.session_state["viewer"]
    direct.session_state["seen_at"] = time.time()
    direct.run()
    (refusal,) = _errors(direct)
    assert refusal.startswith("The alerts inbox is for moderators and admins.")
    assert owner.username in refusal


# -- the staff's pages -----------------------------------------------------------------------


def test_the_overview_shows_the_live_kpis_rooms_and_volume(people: People) -> None:
    moderator = _role(people.register(prefix="mod"), "moderator")
    other = people.register()
    room_id = int(moderator.http.post("/rooms", json={"name": "kpi", "topic": "t"}).json()["id"])
    assert other.http.post(f"/rooms/{room_id}/join").status_code == 200
    at = _signed_in(moderator.username)
    assert _titles(at) == ["Overview"]
    kpis = {m.label: m.value for m in at.metric}
    assert set(kpis) >= {
        "room join p95",
        "send p95",
        "delivery p95",
        "delivered",
        "queue depth",
        "Redis memory",
        "people in rooms now",
        "rooms occupied / open",
        "active last minute",
    }
    # The monitor writes every round: Redis memory and the queue depth always have a value,
    # and a join just made is in the join p95 of the next round.
    assert kpis["Redis memory"].endswith("%")
    assert kpis["queue depth"] != "—"

    def joined_counted() -> bool:
        at.run()
        return {m.label: m.value for m in at.metric}["room join p95"] != "—"

    _wait_for("the join in the monitor's window", joined_counted, timeout=30)
    people_now = int({m.label: m.value for m in at.metric}["people in rooms now"].replace(",", ""))
    assert people_now >= 2
    (volume,) = at.get("vega_lite_chart")
    assert "Messages per minute" in volume.proto.spec
    assert not _errors(at)


def _round(settings: Settings, scope: str) -> None:
    async def go() -> None:
        async with open_resources(settings) as res:
            await run_once(res, scope, publish=False)

    asyncio.run(go())


def test_alerts_are_acknowledged_and_snoozed_from_the_inbox_through_the_api(
    people: People, settings: Settings
) -> None:
    require(settings, "flink-jobmanager")
    moderator = _role(people.register(prefix="mod"), "moderator")
    scope = f"test-{uuid.uuid4().hex[:8]}"
    missing, sleepy = f"no-such-job-{scope}", f"sleepy-job-{scope}"
    _round(settings.model_copy(update={"monitor_flink_jobs": [missing, sleepy]}), scope)
    at = _open(_signed_in(moderator.username), "alerts")
    assert _titles(at) == ["Alerts"]
    at.selectbox(key="alert_rule").select("flink_job").run()
    _choose(at, "alert_chosen", missing)
    assert at.subheader[0].value == f"flink_job on {missing}"
    (ack,) = [b for b in at.button if b.label == "Acknowledge"]
    ack.click().run()
    assert not _errors(at)
    reply = moderator.http.get(
        "/admin/alerts", params={"state": "acknowledged", "rule": "flink_job"}
    )
    (mine,) = [a for a in reply.json()["items"] if a["subject"] == missing]
    assert str(mine["acknowledged_by"]) == str(moderator.id)
    # The other one, snoozed for an hour from its popover.
    at.selectbox(key="alert_rule").select("flink_job").run()
    _choose(at, "alert_chosen", sleepy)
    sleepy_id = next(
        o.split("(")[-1].rstrip(")")
        for o in at.selectbox(key="alert_chosen").options
        if sleepy in o
    )
    at.radio(key=f"snooze-for-{sleepy_id}").set_value("1 hour")
    (snooze,) = [b for b in at.button if b.label == "Snooze it"]
    snooze.click().run()
    assert not _errors(at)
    snoozed = moderator.http.get(f"/admin/alerts/{sleepy_id}").json()
    assert snoozed["state"] == "acknowledged"
    left = datetime.fromisoformat(snoozed["snoozed_until"]) - datetime.now(UTC)
    assert 59 * 60 < left.total_seconds() <= 3600
    assert [e["state"] for e in snoozed["history"]] == ["firing", "snoozed"]
    # Lifted: the monitor resolves it; the inbox lists it under resolved.
    _round(settings.model_copy(update={"monitor_flink_jobs": []}), scope)
    at.segmented_control(key="alert_state").set_value("resolved").run()
    assert any(missing in o for o in at.selectbox(key="alert_chosen").options)


def test_pipeline_health_shows_the_lag_jobs_services_and_dagster(
    people: People, settings: Settings
) -> None:
    require(settings, "flink-jobmanager", "dagster-webserver")
    moderator = _role(people.register(prefix="mod"), "admin")
    at = _open(_signed_in(moderator.username), "health")
    assert _titles(at) == ["Pipeline health"]
    jobs, services, runs, checks = (frame.value for frame in at.dataframe)
    assert set(jobs["job"]) >= {"chat-persist", "moderation", "metrics"}
    assert all(jobs["running"])
    assert set(services["service"]) == {
        "mariadb-0", "mariadb-1", "redis", "influxdb", "neo4j", "flink", "api", "dagster",
    }  # fmt: skip
    assert all(services["up"]), services
    assert list(runs.columns) == ["job", "status", "started (UTC)", "ended (UTC)", "run"]
    assert {"matches_mysql", "modularity_holds"} <= set(checks["check"])
    assert not _errors(at)


# -- the queue: every decision through the API, audited -------------------------------------


def test_each_decision_on_the_queue_page_goes_through_the_api_and_is_audited(
    api_url: str, people: People, settings: Settings
) -> None:
    require(settings, "moderation", "chat-persist")
    moderator = _role(people.register(prefix="mod"), "moderator")
    owner, reporter = people.register(), people.register()
    decisions = ("dismiss", "remove", "mute", "ban")
    authors = {decision: people.register() for decision in decisions}
    items: dict[str, str] = {}
    for decision, author in authors.items():
        room_id, message_id = _room_with_a_message(
            api_url, owner, author, f"{decision} me, {uuid.uuid4().hex[:6]}"
        )
        assert reporter.http.post(f"/rooms/{room_id}/join").status_code == 200

        def report(room_id: int = room_id, message_id: str = message_id) -> Any:
            r = reporter.http.post(
                "/reports",
                json={"room_id": room_id, "message_id": message_id, "reason": "test report"},
            )
            return r if r.status_code == 202 else None

        items[decision] = _wait_for("the report accepted", report).json()["id"]

    at = _open(_signed_in(moderator.username), "moderation")
    assert _titles(at) == ["Moderation queue"]
    for decision, author in authors.items():
        at.text_input(key="mq_user").input(str(author.id)).run()

        def queued(decision: str = decision) -> bool:
            at.run()
            options = at.selectbox(key="mq_item").options if at.selectbox else []
            return any(items[decision] in option for option in options)

        _wait_for(f"the {decision} item on the page", queued)
        _choose(at, "mq_item", items[decision])
        assert _chosen(at, "mq_item")["id"] == items[decision]
        # The evidence: the message as it was sent.
        assert any(f"{decision} me" in m.value for m in at.markdown)
        at.radio(key="mq_decision").set_value(decision)
        at.number_input(key="mq_minutes").set_value(5)
        at.text_input(key="mq_reason").input(f"dashboard test: {decision}")
        (decide,) = [b for b in at.button if b.label == "Decide"]
        decide.click().run()
        assert not _errors(at), (decision, _errors(at))
        audit = moderator.http.get("/moderation/audit", params={"user_id": author.id}).json()
        entries = [e for e in audit["items"] if e["reason"] == f"dashboard test: {decision}"]
        assert len(entries) == 1, (decision, audit)
        assert str(entries[0]["actor_id"]) == str(moderator.id)
    # Decided items leave the pending list and show under resolved, with their decision.
    at.text_input(key="mq_user").input(str(authors["dismiss"].id)).run()
    assert items["dismiss"] not in list(at.dataframe[0].value["id"])
    at.selectbox(key="mq_status").select("resolved").run()
    _choose(at, "mq_item", items["dismiss"])
    assert _chosen(at, "mq_item")["decision"] == "dismiss"


# -- rooms, engagement, the community map ---------------------------------------------------


def test_the_rooms_page_shows_a_rooms_activity_focus_and_moderation(
    api_url: str,
    people: People,
    settings: Settings,
    influx: InfluxDBClient,
) -> None:
    require(settings, "metrics", "chat-persist")
    moderator = _role(people.register(prefix="mod"), "moderator")
    author, reporter = people.register(), people.register()
    tag = uuid.uuid4().hex[:8]
    room_id, message_id = _room_with_a_message(api_url, moderator, author, f"first {tag}")
    assert reporter.http.post(f"/rooms/{room_id}/join").status_code == 200
    policy = moderator.http.put(f"/rooms/{room_id}/moderation", json={"moderation": "flag"})
    assert policy.status_code == 200
    _wait_for(
        "the report accepted",
        lambda: (
            reporter.http.post(
                "/reports", json={"room_id": room_id, "message_id": message_id, "reason": "test"}
            ).status_code
            == 202
        ),
    )

    # The metrics job counts the room's message into its minute (within about 10 s).
    def counted() -> dict[str, float]:
        return metrics.sum_by_tag(
            influx,
            settings.influx_bucket,
            metrics.ROOM_ACTIVITY,
            "1m",
            "messages",
            "room_id",
            start="-10m",
        )

    assert _wait_for("the room's message counted", lambda: counted().get(str(room_id))) == 1

    # The helper's rooms are on the topic "chat": the minute is counted per topic too.
    def chat_topic() -> rooms_data.Ranked | None:
        ranked = {t.key: t for t in rooms_data.trending_topics(influx, settings)}
        return ranked.get("chat")

    assert _wait_for("the topic's minute", chat_topic).now >= 1

    at = _open(_signed_in(moderator.username), "rooms")
    assert _titles(at) == ["Rooms"]
    options = at.selectbox(key="room_pick").options
    at.selectbox(key="room_pick").select_index(len(options) - 1).run()  # another room, by id
    at.text_input(key="room_id").input(str(room_id)).run()
    assert not _errors(at)
    assert "queue" in [s.value for s in at.subheader]
    stays = {m.label: m.value for m in at.metric}
    assert set(stays) == {"stays, last 7 days", "people", "hours in the room", "hours of focus"}
    (chart,) = [
        c for c in at.get("vega_lite_chart") if "Messages and active people" in c.proto.spec
    ]
    assert chart.proto.datasets or chart.proto.data  # the room's windows reached the chart
    # The policy change is marked on the room's chart.
    assert "Dotted lines: the room's word-filter policy changed (hover for how)." in [
        c.value for c in at.caption
    ]
    queue = at.dataframe[-1].value
    assert list(queue["status"]) == ["pending"]
    assert not _errors(at)


def test_engagement_shows_the_rollups_retention_hours_and_leaderboard(
    people: People, settings: Settings
) -> None:
    require(settings, "mariadb-0", "influxdb")
    moderator = _role(people.register(prefix="mod"), "admin")
    # The rollups for today, as the hourly schedule writes them (the suite's own people were
    # active today), and the retention cohorts.
    today = datetime.now(UTC).date()
    assert materialize(
        [engagement_daily], resources=graph_resources(), partition_key=today.isoformat()
    ).success
    assert materialize([engagement_retention], resources=graph_resources()).success
    at = _open(_signed_in(moderator.username), "engagement")
    assert _titles(at) == ["Engagement"]
    assert {m.label for m in at.metric} == {
        "daily active users (mean)",
        "messages",
        "room joins",
        "group posts",
    }
    (summary,) = [c.value for c in at.caption if c.value.startswith(f"{today}:")]
    assert int(summary.split(": ")[1].split(" active")[0].replace(",", "")) >= 1
    specs = [c.proto.spec for c in at.get("vega_lite_chart")]
    assert any("Daily, weekly and monthly active users" in spec for spec in specs)
    assert len(specs) >= 2  # the retention heatmap too (and the busiest hours, once any)
    assert list(at.dataframe[-1].value.columns) == [
        "rank",
        "user",
        "hours in rooms",
        "hours of focus",
    ]
    assert not _errors(at)


def test_the_community_map_draws_a_community_its_influencers_and_a_path(
    people: People, settings: Settings
) -> None:
    require(settings, "neo4j", "mariadb-0", "kafka")
    moderator = _role(people.register(prefix="mod"), "moderator")
    hub, *spokes = (people.register(prefix="cm") for _ in range(5))
    for spoke in spokes:
        _befriend(hub, spoke)
    _run_the_graph_jobs()
    community_id = int(hub.http.get(f"/users/{hub.id}/community").json()["community_id"])

    at = _open(_signed_in(moderator.username), "community")
    assert _titles(at) == ["Community map"]
    options = at.selectbox(key="community_pick").options
    at.selectbox(key="community_pick").select_index(len(options) - 1).run()
    at.text_input(key="community_id").input(str(community_id)).run()
    assert not _errors(at)
    (drawn,) = [
        c for c in at.get("vega_lite_chart") if f"Community {community_id}:" in c.proto.spec
    ]
    assert drawn.proto.datasets or drawn.proto.data
    assert "user" in list(at.dataframe[0].value.columns)
    at.text_input(key="path_from").input(spokes[0].username)
    at.text_input(key="path_to").input(spokes[3].username)
    (find,) = [b for b in at.button if b.label == "Find the chain of friends"]
    find.click().run()
    assert [s.value for s in at.success] == [
        f"2 friendship(s): {spokes[0].username} → {hub.username} → {spokes[3].username}"
    ]


def test_a_mistyped_id_is_named_and_filters_nothing(people: People) -> None:
    moderator = _role(people.register(prefix="mod"), "moderator")
    at = _open(_signed_in(moderator.username), "moderation")
    at.text_input(key="mq_user").input("12ab").run()
    assert "User id: '12ab' is not an id (a positive whole number)." in _errors(at)
    assert not at.exception
