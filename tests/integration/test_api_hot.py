"""The hot routes (api/hot.py) answer exactly as FastAPI does: the same requests to an API with
them and to one without get the same status, headers and bytes, errors included."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import text

from api import hot
from core.db.sharding import ShardRouter
from core.settings import Settings
from tests.utils.api import People, Person, live_api

pytestmark = pytest.mark.integration

HEADERS = ("content-type", "content-length", "retry-after", "www-authenticate")


@pytest.fixture(scope="module")
def plain_url(api_settings: Settings) -> Iterator[str]:
    """The same application with the hot routes off: FastAPI answers everything."""
    with live_api(api_settings.model_copy(update={"api_hot_routes": False})) as url:
        yield url


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the hot routes answered themselves (the API runs in this process)."""
    seen: list[str] = []

    def spy(route: hot.HotRoute) -> hot.HotRoute:
        async def handler(*args: object) -> bytes:
            seen.append(route.path.pattern)
            return await route.handler(*args)  # type: ignore[arg-type]

        return hot.HotRoute(route.method, route.path, route.params, handler)

    monkeypatch.setattr(hot, "ROUTES", tuple(spy(route) for route in hot.ROUTES))
    return seen


def _same(
    person: Person, plain_url: str, method: str, path: str, **kwargs: object
) -> httpx.Response:
    """Send the request to both APIs; assert the answers match and return the hot one's."""
    fast = person.http.request(method, path, **kwargs)  # type: ignore[arg-type]
    plain = httpx.request(
        method,
        f"{plain_url}{path}",
        headers=person.http.headers,
        **kwargs,  # type: ignore[arg-type]
    )
    assert (fast.status_code, fast.content) == (plain.status_code, plain.content), path
    for name in HEADERS:
        assert fast.headers.get(name) == plain.headers.get(name), (path, name)
    return fast


def _befriend(a: Person, b: Person) -> None:
    request = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert request.status_code == 201, request.text
    assert b.http.post(f"/friends/requests/{request.json()['id']}/accept").status_code == 200


def _seed_history(mysql: ShardRouter, room_id: int, author: int, count: int) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    with mysql.engine_for_room(room_id).begin() as conn:
        conn.execute(
            text(
                "INSERT INTO chat_messages (room_id, seq, message_id, sender_id, client_msg_id,"
                " body, created_at) VALUES (:room, :seq, :id, :author, :client, :body, :at)"
            ),
            [
                {
                    "room": room_id,
                    "seq": seq,
                    "id": room_id + seq,  # unique per room is all it needs
                    "author": author,
                    "client": f"hot-{seq}",
                    "body": f'message {seq}: é ✓ \u2028 "quoted" </script>',
                    "at": now,
                }
                for seq in range(1, count + 1)
            ],
        )


def test_social_reads_match_fastapi(people: People, plain_url: str, answered: list[str]) -> None:
    alice, bob, carol, dave = (people.register(prefix="hot") for _ in range(4))
    for a, b in ((alice, bob), (alice, carol), (bob, carol), (carol, dave)):
        _befriend(a, b)

    first = _same(alice, plain_url, "GET", f"/users/{alice.id}/friends?limit=1")
    cursor = first.json()["next_cursor"]
    assert cursor
    assert len(first.json()["items"]) == 1
    _same(alice, plain_url, "GET", f"/users/{alice.id}/friends?limit=1&cursor={cursor}")
    _same(alice, plain_url, "GET", f"/users/{alice.id}/friends")
    _same(alice, plain_url, "GET", f"/users/{bob.id}/friends?limit=50&unknown=1")
    mutual = _same(alice, plain_url, "GET", f"/users/{alice.id}/friends/mutual/{bob.id}")
    assert [f["user_id"] for f in mutual.json()["items"]] == [carol.id]
    suggested = _same(alice, plain_url, "GET", "/friends/suggestions?limit=5")
    assert [s["user_id"] for s in suggested.json()] == [dave.id]
    _same(alice, plain_url, "GET", "/friends/suggestions")
    hot_answers = len(answered)
    assert hot_answers == 7, answered

    # Errors raised on the hot path: rendered by the app's own handlers.
    _same(alice, plain_url, "GET", "/users/999999999999999/friends")  # 404 unknown_user
    _same(alice, plain_url, "GET", f"/users/{alice.id}/friends?cursor=bm90LWEtY3Vyc29y")  # 422
    assert len(answered) == hot_answers + 2

    # Not the plain form: passed on to FastAPI, whose answers these are.
    for path in (
        f"/users/{alice.id}/friends?limit=0",
        f"/users/{alice.id}/friends?limit=201",
        f"/users/{alice.id}/friends?limit=abc",
        f"/users/{alice.id}/friends?limit=07",
        f"/users/{alice.id}/friends?limit=5&limit=6",
        f"/users/{alice.id}/friends?cursor=",
        f"/users/{alice.id}/friends?cursor={'x' * 201}",
        "/users/0/friends",
        f"/users/{2**63}/friends",
        f"/users/{alice.id}/friends/",
        "/friends/suggestions?limit=101",
    ):
        _same(alice, plain_url, "GET", path)
    assert len(answered) == hot_answers + 2


def test_room_join_history_and_leave_match_fastapi(
    people: People, plain_url: str, mysql: ShardRouter, answered: list[str]
) -> None:
    owner, guest = people.register(prefix="hot"), people.register(prefix="hot")
    created = owner.http.post(
        "/rooms", json={"name": f"hot {uuid.uuid4().hex[:6]}", "topic": "maths", "capacity": 5}
    )
    assert created.status_code == 201, created.text
    room = created.json()["id"]
    _seed_history(mysql, room, owner.id, 30)

    _same(guest, plain_url, "GET", f"/rooms/{room}/messages")  # 403: not a participant
    # The same join and leave through each API in turn, and the same state each time.
    fast_join = guest.http.post(f"/rooms/{room}/join")
    fast_again = _same(guest, plain_url, "POST", f"/rooms/{room}/join")  # already in: no change
    assert fast_join.content == fast_again.content
    assert fast_join.json()["participant_count"] == 2
    latest = _same(guest, plain_url, "GET", f"/rooms/{room}/messages?limit=10")
    assert [m["seq"] for m in latest.json()["items"]] == list(range(21, 31))
    assert latest.json()["next_before_seq"] == 21
    older = _same(guest, plain_url, "GET", f"/rooms/{room}/messages?before_seq=21&limit=100")
    assert [m["seq"] for m in older.json()["items"]] == list(range(1, 21))
    assert older.json()["next_before_seq"] is None
    left = guest.http.post(f"/rooms/{room}/leave")
    assert left.json()["participant_count"] == 1
    plain_join = httpx.post(f"{plain_url}/rooms/{room}/join", headers=guest.http.headers)
    assert plain_join.content == fast_join.content
    plain_left = httpx.post(f"{plain_url}/rooms/{room}/leave", headers=guest.http.headers)
    assert plain_left.content == left.content
    _same(guest, plain_url, "POST", f"/rooms/{room}/leave")  # not in: no change
    _same(guest, plain_url, "POST", "/rooms/999999999999999/join")  # 404
    assert len(answered) == 8, answered

    # Passed on: no token, a token that does not verify, a history limit out of range.
    anonymous = httpx.post(f"{guest.http.base_url}/rooms/{room}/join")
    plain_anonymous = httpx.post(f"{plain_url}/rooms/{room}/join")
    assert (anonymous.status_code, anonymous.content) == (401, plain_anonymous.content)
    forged = {"Authorization": "Bearer not.a.token"}
    assert (
        httpx.post(f"{guest.http.base_url}/rooms/{room}/join", headers=forged).content
        == httpx.post(f"{plain_url}/rooms/{room}/join", headers=forged).content
    )
    _same(guest, plain_url, "GET", f"/rooms/{room}/messages?limit=101")
    assert len(answered) == 8


def test_hot_routes_keep_the_per_user_limit(api_settings: Settings, people: People) -> None:
    alice = people.register(prefix="hot")
    strict = api_settings.model_copy(
        update={"rate_limit_user_per_minute": 3, "rate_limit_namespace": f"rl-{uuid.uuid4().hex}"}
    )
    with live_api(strict) as url:
        while time.time() % 60 > 55:  # five requests inside one fixed window
            time.sleep(0.5)
        answers = [
            httpx.get(f"{url}/users/{alice.id}/friends", headers=alice.http.headers)
            for _ in range(5)
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].json()["error"] == "rate_limited"
    assert 1 <= int(answers[3].headers["Retry-After"]) <= 61
