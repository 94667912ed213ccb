"""Friends and blocks through HTTP; events on social-events; the rules users rely on."""

from __future__ import annotations

import httpx
import pytest
import redis
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.events import FriendAccepted, FriendRemoved, FriendRequested, UserBlocked
from tests.utils.api import EventTap, People, Person

pytestmark = pytest.mark.integration


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.json()


def _befriend(a: Person, b: Person) -> None:
    request = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert request.status_code == 201, request.text
    accepted = b.http.post(f"/friends/requests/{request.json()['id']}/accept")
    assert accepted.status_code == 200, accepted.text


def test_request_accept_and_both_directions_stored(
    people: People, social_events: EventTap, mysql: ShardRouter
) -> None:
    alice, bob = people.register(), people.register()
    sent = alice.http.post("/friends/requests", json={"to_user_id": bob.id})
    assert sent.status_code == 201
    request = sent.json()
    assert (request["from_user_id"], request["to_user_id"], request["status"]) == (
        alice.id,
        bob.id,
        "pending",
    )
    social_events.wait_for(
        lambda e: isinstance(e, FriendRequested) and e.request_id == request["id"]
    )

    incoming = bob.http.get("/friends/requests", params={"direction": "incoming"}).json()["items"]
    assert [r["id"] for r in incoming] == [request["id"]]
    outgoing = alice.http.get("/friends/requests", params={"direction": "outgoing"}).json()["items"]
    assert [r["id"] for r in outgoing] == [request["id"]]
    assert alice.http.get("/friends/requests").json()["items"] == []  # not hers to answer

    _error(alice.http.post(f"/friends/requests/{request['id']}/accept"), 403, "not_recipient")
    accepted = bob.http.post(f"/friends/requests/{request['id']}/accept")
    assert accepted.json()["status"] == "accepted"
    social_events.wait_for(
        lambda e: isinstance(e, FriendAccepted) and e.request_id == request["id"]
    )
    _error(bob.http.post(f"/friends/requests/{request['id']}/accept"), 409, "answered")

    with mysql.directory_engine().connect() as connection:
        rows = connection.execute(
            text(
                "SELECT user1_id, user2_id FROM friendships WHERE "
                "(user1_id = :a AND user2_id = :b) OR (user1_id = :b AND user2_id = :a)"
            ),
            {"a": alice.id, "b": bob.id},
        ).all()
    assert sorted(tuple(r) for r in rows) == sorted([(alice.id, bob.id), (bob.id, alice.id)])

    assert [f["user_id"] for f in alice.http.get(f"/users/{alice.id}/friends").json()["items"]] == [
        bob.id
    ]
    assert bob.http.get(f"/users/{bob.id}/friends/count").json() == {"count": 1}


def test_request_errors(people: People) -> None:
    alice, bob, carol = people.register(), people.register(), people.register()
    _error(
        alice.http.post("/friends/requests", json={"to_user_id": alice.id}), 422, "validation_error"
    )
    _error(alice.http.post("/friends/requests", json={"to_user_id": 1}), 404, "not_found")
    _error(
        alice.http.post("/friends/requests", json={"to_user_id": "bob"}), 422, "validation_error"
    )
    _error(alice.http.post("/friends/requests", json={}), 422, "validation_error")
    first = alice.http.post("/friends/requests", json={"to_user_id": bob.id}).json()
    _error(
        alice.http.post("/friends/requests", json={"to_user_id": bob.id}), 409, "duplicate_request"
    )
    _error(
        bob.http.post("/friends/requests", json={"to_user_id": alice.id}),
        409,
        "reverse_request_pending",
    )
    _error(carol.http.post(f"/friends/requests/{first['id']}/accept"), 404, "not_found")
    _error(carol.http.post("/friends/requests/999/decline"), 404, "not_found")
    bob.http.post(f"/friends/requests/{first['id']}/accept")
    _error(
        alice.http.post("/friends/requests", json={"to_user_id": bob.id}), 409, "already_friends"
    )


def test_decline_then_ask_again(people: People) -> None:
    alice, bob = people.register(), people.register()
    first = alice.http.post("/friends/requests", json={"to_user_id": bob.id}).json()
    declined = bob.http.post(f"/friends/requests/{first['id']}/decline")
    assert declined.json()["status"] == "declined"
    assert alice.http.post("/friends/requests", json={"to_user_id": bob.id}).status_code == 201


def test_remove_friend(people: People, social_events: EventTap) -> None:
    alice, bob = people.register(), people.register()
    _befriend(alice, bob)
    assert alice.http.delete(f"/friends/{bob.id}").status_code == 204
    social_events.wait_for(
        lambda e: (
            isinstance(e, FriendRemoved) and e.from_user_id == alice.id and e.to_user_id == bob.id
        )
    )
    assert bob.http.get(f"/users/{bob.id}/friends/count").json() == {"count": 0}
    _error(alice.http.delete(f"/friends/{bob.id}"), 404, "not_found")


def test_friend_list_pagination_and_mutual_friends(people: People) -> None:
    alice, bob = people.register(), people.register()
    shared = [people.register() for _ in range(3)]
    only_alice = people.register()
    for person in shared:
        _befriend(alice, person)
        _befriend(person, bob)
    _befriend(alice, only_alice)

    first = alice.http.get(f"/users/{alice.id}/friends", params={"limit": 2}).json()
    second = alice.http.get(
        f"/users/{alice.id}/friends", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()
    listed = [f["user_id"] for f in first["items"] + second["items"]]
    assert listed == sorted([p.id for p in [*shared, only_alice]])
    assert second["next_cursor"] is None
    mutual = bob.http.get(f"/users/{alice.id}/friends/mutual/{bob.id}").json()["items"]
    assert [m["user_id"] for m in mutual] == sorted(p.id for p in shared)
    assert {m["username"] for m in mutual} == {p.username for p in shared}
    _error(bob.http.get("/users/1/friends"), 404, "not_found")
    _error(bob.http.get("/users/1/friends/count"), 404, "not_found")
    # Whether the users exist is asked only when the page is empty: both ways round.
    _error(bob.http.get(f"/users/{alice.id}/friends/mutual/1"), 404, "not_found")
    _error(bob.http.get(f"/users/1/friends/mutual/{bob.id}"), 404, "not_found")
    loner = people.register()
    assert bob.http.get(f"/users/{loner.id}/friends").json() == {"items": [], "next_cursor": None}
    nothing = bob.http.get(f"/users/{alice.id}/friends/mutual/{loner.id}").json()
    assert nothing == {"items": [], "next_cursor": None}


def test_blocking_rules(people: People, social_events: EventTap) -> None:
    alice, bob = people.register(prefix="blk"), people.register()
    _befriend(alice, bob)
    pending = bob.http.get(f"/users/{bob.id}/friends/count").json()
    assert pending == {"count": 1}
    assert alice.http.post(f"/blocks/{bob.id}").status_code == 204
    assert alice.http.post(f"/blocks/{bob.id}").status_code == 204  # idempotent
    social_events.wait_for(
        lambda e: (
            isinstance(e, UserBlocked) and e.from_user_id == alice.id and e.to_user_id == bob.id
        )
    )
    # Blocking ends the friendship...
    assert bob.http.get(f"/users/{bob.id}/friends/count").json() == {"count": 0}
    # ...the blocked user cannot ask again, and the blocker cannot either until she unblocks...
    _error(bob.http.post("/friends/requests", json={"to_user_id": alice.id}), 403, "blocked")
    _error(alice.http.post("/friends/requests", json={"to_user_id": bob.id}), 403, "blocked")
    # ...and the blocked user no longer finds the blocker in search.
    found = bob.http.get("/users/search", params={"q": alice.username}).json()["items"]
    assert found == []
    assert alice.http.get("/users/search", params={"q": alice.username}).json()["items"] != []
    _error(alice.http.post(f"/blocks/{alice.id}"), 422, "validation_error")

    assert alice.http.delete(f"/blocks/{bob.id}").status_code == 204
    _error(alice.http.delete(f"/blocks/{bob.id}"), 404, "not_found")
    assert bob.http.post("/friends/requests", json={"to_user_id": alice.id}).status_code == 201


def test_blocking_cancels_pending_requests(people: People) -> None:
    alice, bob = people.register(), people.register()
    request = bob.http.post("/friends/requests", json={"to_user_id": alice.id}).json()
    alice.http.post(f"/blocks/{bob.id}")
    assert alice.http.get("/friends/requests").json()["items"] == []
    _error(alice.http.post(f"/friends/requests/{request['id']}/accept"), 409, "answered")


def test_friends_of_friends_ranked_by_mutual_friends(people: People) -> None:
    me, a, b = people.register(), people.register(), people.register()
    two_mutual, one_mutual, blocked_fof = people.register(), people.register(), people.register()
    for friend in (a, b):
        _befriend(me, friend)
        _befriend(friend, two_mutual)
        _befriend(friend, blocked_fof)
    _befriend(a, one_mutual)
    assert blocked_fof.http.post(f"/blocks/{me.id}").status_code == 204  # and never suggested
    suggestions = me.http.get("/friends/suggestions").json()
    assert [(s["user_id"], s["mutual_friends"]) for s in suggestions] == [
        (two_mutual.id, 2),
        (one_mutual.id, 1),
    ]
    assert suggestions[0]["username"] == two_mutual.username
    # Friends are never suggested.
    _befriend(me, two_mutual)
    assert two_mutual.id not in [s["user_id"] for s in me.http.get("/friends/suggestions").json()]


def test_friends_of_friends_skip_friends_ranked_above_the_page(people: People) -> None:
    """The ranking counts first and leaves out friends after: friends that outrank every
    candidate must not push the one real candidate off a one-row page."""
    me, a, b, c, stranger = (people.register() for _ in range(5))
    for friend in (a, b, c):
        _befriend(me, friend)
    _befriend(a, b)
    _befriend(b, c)
    _befriend(a, c)
    _befriend(a, stranger)
    # Reached: a, b and c twice each (and me three times), the stranger once.
    page = me.http.get("/friends/suggestions", params={"limit": 1}).json()
    assert [(s["user_id"], s["mutual_friends"], s["source"]) for s in page] == [
        (stranger.id, 1, "friends_of_friends")
    ]


def test_remembered_friends_of_friends_are_checked_again_on_every_read(
    people: People, redis_conn: redis.Redis
) -> None:
    me, a, b = people.register(), people.register(), people.register()
    x, y = people.register(), people.register()
    for friend in (a, b):
        _befriend(me, friend)
        _befriend(friend, x)
    _befriend(a, y)
    first = me.http.get("/friends/suggestions").json()
    assert [(s["user_id"], s["mutual_friends"]) for s in first] == [(x.id, 2), (y.id, 1)]
    assert redis_conn.hexists(f"user:{me.id}:fof", "20")  # remembered, per page size

    # Whoever becomes a friend or blocks either way leaves the remembered page at once.
    _befriend(me, x)
    assert [s["user_id"] for s in me.http.get("/friends/suggestions").json()] == [y.id]
    assert y.http.post(f"/blocks/{me.id}").status_code == 204
    assert me.http.get("/friends/suggestions").json() == []
    assert y.http.delete(f"/blocks/{me.id}").status_code == 204
    assert [s["user_id"] for s in me.http.get("/friends/suggestions").json()] == [y.id]

    # What is remembered is the ranking: a new friend of a friend shows within five minutes
    # (the key's time to live), or at once for a page size not asked for yet.
    z = people.register()
    _befriend(b, z)
    assert 0 < redis_conn.ttl(f"user:{me.id}:fof") <= 300
    assert z.id in [s["user_id"] for s in me.http.get("/friends/suggestions?limit=5").json()]
