"""GET /users/{id}/path/{other}: the shortest chain of friends, through the real Neo4j."""

from __future__ import annotations

import pytest
from dagster import AssetSelection, materialize

from graph_jobs.definitions import resources
from graph_jobs.sync.assets import graph_weights, relation_assets
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


def _sync() -> None:
    selection = AssetSelection.assets("graph_users", "graph_friendships")
    assert materialize(
        [*relation_assets, graph_weights], resources=resources(), selection=selection
    ).success


def test_shortest_chain_of_friends_around_blocks(people: People) -> None:
    alice, bob, carol, dave = (people.register(prefix=f"pa{i}") for i in range(4))
    frank, george, hank = (people.register(prefix=f"pb{i}") for i in range(3))
    for a, b in ((alice, bob), (bob, carol), (carol, dave)):  # the short way: 3 hops
        _befriend(a, b)
    for a, b in ((alice, frank), (frank, george), (george, hank), (hank, dave)):  # 4 hops
        _befriend(a, b)
    _sync()

    found = alice.http.get(f"/users/{alice.id}/path/{dave.id}")
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["hops"] == 3
    assert [s["user_id"] for s in body["path"]] == [alice.id, bob.id, carol.id, dave.id]
    assert body["path"][1]["username"] == bob.username

    short = alice.http.get(f"/users/{alice.id}/path/{dave.id}", params={"max_hops": 2})
    assert short.status_code == 404
    assert short.json()["error"] == "not_found"
    assert "within 2 hops" in short.json()["message"]

    # Alice blocks Carol: the chain goes the long way round, at once (blocks come from MySQL).
    assert alice.http.post(f"/blocks/{carol.id}").status_code == 204
    around = alice.http.get(f"/users/{alice.id}/path/{dave.id}").json()
    assert [s["user_id"] for s in around["path"]] == [
        alice.id,
        frank.id,
        george.id,
        hank.id,
        dave.id,
    ]
    # A block between the caller and an end reads as no path, without saying why.
    assert dave.http.post(f"/blocks/{alice.id}").status_code == 204
    hidden = alice.http.get(f"/users/{alice.id}/path/{dave.id}")
    assert hidden.status_code == 404
    assert "block" not in hidden.json()["message"]

    assert alice.http.get(f"/users/{alice.id}/path/{alice.id}").json()["hops"] == 0
    missing = alice.http.get(f"/users/{alice.id}/path/{2**62}")
    assert missing.status_code == 404
    assert alice.http.get(f"/users/{alice.id}/path/0").status_code == 422
    assert (
        alice.http.get(f"/users/{alice.id}/path/{bob.id}", params={"max_hops": 7}).status_code
        == 422
    )
