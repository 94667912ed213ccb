"""People you may know end to end: API -> MySQL -> Neo4j -> the Dagster asset -> the API."""

from __future__ import annotations

import uuid

import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from graph_jobs.community_assets import community_assets
from graph_jobs.definitions import resources
from graph_jobs.resources import KafkaResource
from graph_jobs.suggestion_assets import suggestion_assets, suggestion_checks
from graph_jobs.sync.assets import graph_event_sync, graph_weights, relation_assets
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ALL = [*relation_assets, graph_weights, *community_assets, *suggestion_assets, *suggestion_checks]
SELECTION = AssetSelection.assets(
    "graph_users",
    "graph_friendships",
    "graph_blocks",
    "graph_groups",
    "graph_group_members",
    "graph_weights",
    "graph_communities",
    "graph_friend_suggestions",
) | AssetSelection.checks_for_assets("graph_friend_suggestions")


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


def test_the_job_ranks_explains_and_the_api_serves_fresh(people: People) -> None:
    alice, bob, carol, dave, erin = (people.register(prefix=f"sg{i}") for i in range(5))
    for other in (alice, carol, dave, erin):
        _befriend(bob, other)
    assert alice.http.post(f"/blocks/{dave.id}").status_code == 204
    group = alice.http.post("/groups", json={"name": f"sg {alice.id}", "subject": "Biology"})
    assert group.status_code == 201, group.text
    assert carol.http.post(f"/groups/{group.json()['id']}/join").status_code == 200

    with DagsterInstance.ephemeral() as instance:
        # Every candidate kept (the suite's graph is small), so what is asserted below does not
        # hang on the weights the fit finds on whatever the other tests left in the graph.
        result = materialize(
            ALL,
            resources=resources(),
            selection=SELECTION,
            instance=instance,
            run_config={"ops": {"graph_friend_suggestions": {"config": {"per_user": 100}}}},
        )
        assert result.success
        checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
        assert checks == {"suggestions_exclude_friends_and_blocks": True}
        [materialised] = list(result.asset_materializations_for_node("graph_friend_suggestions"))
        assert isinstance(rows := materialised.metadata["rows"].value, int)
        assert rows > 0

        served = alice.http.get("/friends/suggestions", params={"limit": 100})
        assert served.status_code == 200, served.text
        suggestions = served.json()
        assert suggestions, "alice was scored: her suggestions come from the job"
        assert {s["source"] for s in suggestions} == {"graph"}
        by_id = {s["user_id"]: s for s in suggestions}
        # Carol and Erin are both friends of Bob; Carol also shares Alice's group.
        assert by_id[carol.id]["reasons"]["mutual_friend_ids"] == [bob.id]
        assert by_id[carol.id]["reasons"]["shared_groups"] == 1
        assert by_id[carol.id]["mutual_friends"] == 1
        assert erin.id in by_id
        assert dave.id not in by_id  # blocked
        assert bob.id not in by_id  # a friend already

        # Fresh at once for what the API knows: a pending request hides Carol before any re-run,
        # and a new friendship hides Erin.
        assert (
            alice.http.post("/friends/requests", json={"to_user_id": carol.id}).status_code == 201
        )
        _befriend(alice, erin)
        again = alice.http.get("/friends/suggestions", params={"limit": 100}).json()
        after = {s["user_id"] for s in again}
        assert carol.id not in after
        assert erin.id not in after

        # Someone the job has not scored yet gets the friends-of-friends fallback.
        newcomer = people.register(prefix="sgnew")
        _befriend(newcomer, bob)
        fallback = newcomer.http.get("/friends/suggestions").json()
        assert fallback
        assert {s["source"] for s in fallback} == {"friends_of_friends"}
        assert fallback[0]["reasons"]["shared_rooms"] is None  # not known on that path

        # A friendship made now reaches the suggestions through the event sync, with the weights
        # of the full run: Frank befriends Erin, who is Alice's friend since above.
        frank = people.register(prefix="sgf")
        _befriend(erin, frank)
        assert frank.id not in {
            s["user_id"]
            for s in alice.http.get("/friends/suggestions", params={"limit": 100}).json()
        }
        group_id = f"studyhub-graph-sync-test-{uuid.uuid4().hex[:8]}"  # the daemon keeps its own
        synced = graph_event_sync.execute_in_process(
            resources={**resources(), "kafka": KafkaResource(group_id=group_id)}, instance=instance
        )
        assert synced.success
        fresh = alice.http.get("/friends/suggestions", params={"limit": 100}).json()
        by_id = {s["user_id"]: s for s in fresh}
        assert frank.id in by_id
        assert by_id[frank.id]["source"] == "graph"
        assert by_id[frank.id]["reasons"]["mutual_friend_ids"] == [erin.id]
