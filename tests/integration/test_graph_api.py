"""What the graph jobs compute, served by the API: communities, influence, and study buddies
ranked with the graph. The jobs run for real (Dagster, Neo4j GDS) and write MySQL, which the
API reads."""

from __future__ import annotations

import uuid

import httpx
import pytest
from dagster import AssetSelection, materialize

from graph_jobs.community_assets import community_assets
from graph_jobs.definitions import resources
from graph_jobs.sync.assets import graph_weights, relation_assets
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ALL = [*relation_assets, graph_weights, *community_assets]
JOBS = AssetSelection.assets(
    "graph_users",
    "graph_friendships",
    "graph_weights",
    "graph_communities",
    "graph_influence",
    "graph_metrics_mysql",
)


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body: dict[str, object] = response.json()
    assert body["error"] == code, body
    return body


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


def _run_the_graph_jobs() -> None:
    assert materialize(ALL, resources=resources(), selection=JOBS).success


def test_a_users_community_and_its_influencers(people: People) -> None:
    # A star of five around a hub, closed into a clique on one side: the hub has the most
    # friends and the highest PageRank in its community.
    hub, *spokes = (people.register(prefix="cm") for _ in range(5))
    for spoke in spokes:
        _befriend(hub, spoke)
    _befriend(spokes[0], spokes[1])
    newcomer = people.register(prefix="cm")
    _run_the_graph_jobs()

    mine = hub.http.get(f"/users/{hub.id}/community")
    assert mine.status_code == 200, mine.text
    place = mine.json()
    assert place["user_id"] == hub.id
    assert place["friends"] == 4
    assert place["rank_in_community"] == 1
    assert place["community_size"] >= 5
    community = place["community_id"]
    for spoke in spokes:
        theirs = hub.http.get(f"/users/{spoke.id}/community").json()
        assert theirs["community_id"] == community
        assert theirs["rank_in_community"] > 1

    listed = spokes[2].http.get(f"/communities/{community}", params={"top": 3})
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert body["size"] == place["community_size"]
    top = body["top_influencers"]
    assert len(top) == 3
    assert top[0]["user_id"] == hub.id
    assert top[0]["username"] == hub.username
    ranks = [t["pagerank"] for t in top]
    assert ranks == sorted(ranks, reverse=True)

    # Whoever blocked you is not listed to you, and their place is not shown to you.
    assert hub.http.post(f"/blocks/{spokes[3].id}").status_code == 204
    seen_by_blocked = spokes[3].http.get(f"/communities/{community}", params={"top": 100})
    assert hub.id not in {t["user_id"] for t in seen_by_blocked.json()["top_influencers"]}
    _error(spokes[3].http.get(f"/users/{hub.id}/community"), 404, "not_found")

    # Someone who signed up after the run has no community yet, and is told why.
    late = people.register(prefix="cm")
    missing = _error(hub.http.get(f"/users/{late.id}/community"), 404, "not_found")
    assert "next run" in str(missing["message"])
    _error(hub.http.get("/users/1/community"), 404, "not_found")
    _error(hub.http.get("/communities/999999999999"), 404, "not_found")
    _error(hub.http.get("/communities/-1"), 422, "validation_error")
    _error(hub.http.get(f"/communities/{community}", params={"top": 0}), 422, "validation_error")
    assert newcomer.http.get(f"/users/{newcomer.id}/community").status_code == 200


def _profile(person: Person, subjects: list[str]) -> None:
    body = {
        "subjects": subjects,
        "timezone": "Europe/Berlin",
        "availability": [{"day": 2, "start": "18:00", "end": "21:00"}],
    }
    response = person.http.put("/users/me/study-profile", json=body)
    assert response.status_code == 200, response.text


def test_buddy_suggestions_blend_in_the_graph(people: People) -> None:
    subject = f"graphs{uuid.uuid4().hex[:6]}"
    me, stranger, known, friend, bridge = (people.register(prefix="bg") for _ in range(5))
    for person in (me, stranger, known, friend):
        _profile(person, [subject])
    # me, friend and bridge are a triangle; known is a friend of friend and of bridge (who has
    # no profile): two mutual friends, and too dense a knot for the communities to split.
    _befriend(me, friend)
    _befriend(me, bridge)
    _befriend(friend, bridge)
    _befriend(known, bridge)
    _befriend(known, friend)
    _run_the_graph_jobs()

    suggestions = me.http.get("/buddies/suggestions", params={"limit": 50})
    assert suggestions.status_code == 200, suggestions.text
    ours = {s["user_id"]: s for s in suggestions.json()}
    assert bridge.id not in ours  # no study profile: nothing to match on
    order = [u for u in (s["user_id"] for s in suggestions.json()) if u in ours]
    # Same subject and the same three hours for all three: the graph decides the order.
    assert order.index(friend.id) < order.index(known.id) < order.index(stranger.id)
    assert ours[friend.id]["friends"] is True
    assert ours[known.id]["mutual_friends"] == 2
    assert ours[friend.id]["mutual_friends"] == 1
    assert ours[stranger.id]["mutual_friends"] == 0
    assert ours[known.id]["reason"].startswith("1 shared subject, 3 h of common free time")
    assert "2 mutual friends" in ours[known.id]["reason"]
    assert "already friends" in ours[friend.id]["reason"]
    # The communities come from the same run: me, bridge, known and friend are one.
    assert ours[known.id]["same_community"] is True
    assert ours[stranger.id]["same_community"] is False
