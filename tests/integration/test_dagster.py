"""Dagster as `make up` runs it: the webserver serves the code location, the daemon ticks, and
both stop with their children on SIGTERM (DESIGN.md's pitfall)."""

from __future__ import annotations

import json
import time
import urllib.request
from typing import Any

import psutil
import pytest

from core.settings import Settings
from graph_jobs.sync.relations import RELATIONS
from stack.services.dagster import DagsterCodeServer, DagsterDaemon, DagsterWebserver
from tests.conftest import require

pytestmark = pytest.mark.integration


def _graphql(settings: Settings, query: str) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://{settings.bind_host}:{settings.dagster_port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        body: dict[str, Any] = json.load(response)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def test_the_ui_serves_every_asset_check_job_and_sensor(settings: Settings) -> None:
    require(settings, "dagster-webserver", "dagster-daemon")
    data = _graphql(
        settings,
        "{ assetNodes { assetKey { path } assetChecksOrError { ... on AssetChecks"
        " { checks { name } } } } }",
    )
    assets = {node["assetKey"]["path"][-1]: node for node in data["assetNodes"]}
    expected = {relation.asset_name for relation in RELATIONS} | {
        "graph_weights",
        "graph_communities",
        "graph_influence",
        "graph_metrics_mysql",
        "graph_friend_suggestions",
        "engagement_daily",
        "engagement_retention",
    }
    assert expected <= set(assets)

    def checks_of(asset: str) -> set[str]:
        return {c["name"] for c in assets[asset]["assetChecksOrError"]["checks"]}

    for relation in RELATIONS:
        if relation.asset_name != "graph_friendships":
            assert checks_of(relation.asset_name) == {"matches_mysql"}
    assert checks_of("graph_friendships") == {
        "matches_mysql",
        "friendships_symmetric",
        "no_self_friendship",
    }
    assert checks_of("graph_communities") == {
        "every_active_user_has_a_community",
        "modularity_holds",
    }
    assert checks_of("graph_friend_suggestions") == {"suggestions_exclude_friends_and_blocks"}
    assert checks_of("graph_influence") == {"top_k_churn_bounded"}

    data = _graphql(
        settings,
        "{ repositoriesOrError { ... on RepositoryConnection { nodes {"
        " jobs { name } sensors { name sensorState { status } }"
        " schedules { name scheduleState { status } } } } } }",
    )
    (repository,) = data["repositoriesOrError"]["nodes"]
    assert {
        "graph_full_sync",
        "graph_event_sync",
        "engagement_daily_job",
        "engagement_retention_job",
    } <= {j["name"] for j in repository["jobs"]}
    sensors = {s["name"]: s["sensorState"]["status"] for s in repository["sensors"]}
    assert sensors == {"graph_events_sensor": "RUNNING"}
    schedules = {s["name"]: s["scheduleState"]["status"] for s in repository["schedules"]}
    assert schedules == {
        "graph_nightly_resync": "RUNNING",
        "engagement_hourly": "RUNNING",
        "engagement_nightly_retention": "RUNNING",
    }


def test_the_daemon_stops_with_its_children_and_comes_back(settings: Settings) -> None:
    require(settings, "dagster-code-server", "dagster-webserver", "dagster-daemon")
    daemon = DagsterDaemon(settings)
    pid = daemon.process.pid()
    assert pid is not None
    family = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    # The daemon reads the code location from the code server: it starts no code server of
    # its own (one, replaced every minute, was its whole idle cost).
    assert not any("grpc" in " ".join(p.cmdline()) for p in family[1:])
    assert daemon.stop()
    assert not [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    daemon.start()
    assert daemon.healthy()
    assert DagsterWebserver(settings).healthy()


def test_a_restarted_code_server_is_served_again(settings: Settings) -> None:
    """The webserver and the daemon read the code location over gRPC: when the code server
    restarts (a deploy), the UI serves the location again without restarting either."""
    require(settings, "dagster-code-server", "dagster-webserver", "dagster-daemon")
    code_server = DagsterCodeServer(settings)
    assert code_server.stop()
    code_server.start()
    assert code_server.healthy()
    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries { name"
        " locationOrLoadError { __typename } } } } }"
    )
    deadline = time.monotonic() + 60
    while True:
        entries = _graphql(settings, query)["workspaceOrError"]["locationEntries"]
        loaded = {e["name"]: e["locationOrLoadError"]["__typename"] for e in entries}
        if loaded == {"graph_jobs.definitions": "RepositoryLocation"}:
            break
        assert time.monotonic() < deadline, f"the location did not come back: {loaded}"
        time.sleep(2)
    assert DagsterDaemon(settings).healthy()
