"""Study rooms through HTTP: MySQL record, Redis live state, room-events on Kafka."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest
import redis
from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.events import RoomClosed, RoomCreated, RoomJoined, RoomLeft, RoomTimerChanged
from core.wire import ACTIVE_ROOMS as ACTIVE
from core.wire import room_participants_key as participants_key
from core.wire import room_state_key as state_key
from tests.utils.api import EventTap, People, Person

pytestmark = pytest.mark.integration


def _error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"] == code, response.json()


def _room(owner: Person, **fields: object) -> dict[str, object]:
    body: dict[str, object] = {"name": "Calculus grind", "topic": f"math-{uuid.uuid4().hex[:6]}"}
    body.update(fields)
    response = owner.http.post("/rooms", json=body)
    assert response.status_code == 201, response.text
    room: dict[str, object] = response.json()
    return room


def test_create_join_leave_with_state_record_and_events(
    people: People, room_events: EventTap, redis_conn: redis.Redis, mysql: ShardRouter
) -> None:
    owner, guest = people.register(), people.register()
    room = _room(owner, capacity=3)
    room_id = int(str(room["id"]))
    assert room["participant_count"] == 1
    assert room["timer"] == {
        "phase": "idle",
        "status": "idle",
        "ends_at": None,
        "remaining_seconds": None,
    }
    created = room_events.wait_for(lambda e: isinstance(e, RoomCreated) and e.room_id == room_id)
    assert isinstance(created, RoomCreated)
    assert created.capacity == 3

    joined = guest.http.post(f"/rooms/{room_id}/join")
    assert joined.status_code == 200
    assert joined.json()["participant_count"] == 2
    again = guest.http.post(f"/rooms/{room_id}/join")  # idempotent: no second seat, no event
    assert again.json()["participant_count"] == 2
    room_events.wait_for(
        lambda e: isinstance(e, RoomJoined) and e.room_id == room_id and e.user_id == guest.id
    )

    # The seed's Redis keys, and the MySQL record on the room's shard.
    assert redis_conn.smembers(participants_key(room_id)) == {str(owner.id), str(guest.id)}
    assert redis_conn.hget(state_key(room_id), "capacity") == "3"
    assert redis_conn.zscore(ACTIVE, str(room_id)) == 2
    with mysql.engine_for_room(room_id).connect() as connection:
        rows = (
            connection.execute(
                text("SELECT user_id FROM room_participants WHERE room_id = :r ORDER BY user_id"),
                {"r": room_id},
            )
            .scalars()
            .all()
        )
    assert sorted(rows) == sorted([owner.id, guest.id])

    participants = owner.http.get(f"/rooms/{room_id}/participants").json()
    assert [p["user_id"] for p in participants["items"]] == sorted([owner.id, guest.id])

    left = guest.http.post(f"/rooms/{room_id}/leave")
    assert left.json()["participant_count"] == 1
    assert guest.http.post(f"/rooms/{room_id}/leave").json()["participant_count"] == 1
    room_events.wait_for(
        lambda e: isinstance(e, RoomLeft) and e.room_id == room_id and e.participant_count == 1
    )
    joins = [e for e in room_events.seen if isinstance(e, RoomJoined) and e.user_id == guest.id]
    assert len(joins) == 1


def test_room_validation(people: People) -> None:
    owner = people.register()
    _error(
        owner.http.post("/rooms", json={"name": "x", "topic": "t", "capacity": 501}),
        422,
        "validation_error",
    )
    _error(owner.http.post("/rooms", json={"name": "", "topic": "t"}), 422, "validation_error")
    _error(
        owner.http.post("/rooms", json={"name": "x", "topic": "t", "visibility": "secret"}),
        422,
        "validation_error",
    )
    _error(owner.http.get("/rooms/123456789"), 404, "not_found")
    _error(owner.http.post("/rooms/123456789/join"), 404, "not_found")


def test_capacity_holds_under_200_simultaneous_joins(people: People, api_url: str) -> None:
    owner = people.register()
    room_id = int(str(_room(owner, capacity=50)["id"]))
    # 200 distinct users, tokens minted directly (registering 200 people would test argon2).
    tokens = [people.token_for(10**15 + n) for n in range(200)]

    async def join_all() -> list[int]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=api_url, limits=limits, timeout=60) as client:
            responses = await asyncio.gather(
                *(
                    client.post(f"/rooms/{room_id}/join", headers={"Authorization": f"Bearer {t}"})
                    for t in tokens
                )
            )
        return [r.status_code for r in responses]

    codes = asyncio.run(join_all())
    assert codes.count(200) == 49  # the owner holds the 50th seat
    assert codes.count(409) == 151
    state = owner.http.get(f"/rooms/{room_id}").json()
    assert state["participant_count"] == 50
    full = httpx.post(
        f"{api_url}/rooms/{room_id}/join", headers={"Authorization": f"Bearer {tokens[-1]}"}
    )
    _error(full, 409, "room_full")


def test_private_rooms_are_for_owner_and_invitees(people: People) -> None:
    owner, invitee, stranger = people.register(), people.register(), people.register()
    room_id = int(str(_room(owner, visibility="private")["id"]))
    _error(stranger.http.get(f"/rooms/{room_id}"), 404, "not_found")
    _error(stranger.http.post(f"/rooms/{room_id}/join"), 404, "not_found")
    _error(
        stranger.http.post(f"/rooms/{room_id}/invites", json={"user_id": stranger.id}),
        404,
        "not_found",
    )

    invited = owner.http.post(f"/rooms/{room_id}/invites", json={"user_id": invitee.id})
    assert invited.status_code == 201
    assert invitee.http.get(f"/rooms/{room_id}").status_code == 200
    assert invitee.http.post(f"/rooms/{room_id}/join").status_code == 200
    _error(
        invitee.http.post(f"/rooms/{room_id}/invites", json={"user_id": stranger.id}),
        403,
        "not_owner",
    )
    _error(owner.http.post(f"/rooms/{room_id}/invites", json={"user_id": 1}), 404, "not_found")

    # Private rooms are not listed.
    listed = stranger.http.get("/rooms", params={"limit": 200}).json()["items"]
    assert room_id not in [r["id"] for r in listed]

    # Leaving or joining it, closed or open, is a 404 to a stranger: nothing about it leaks.
    _error(stranger.http.post(f"/rooms/{room_id}/leave"), 404, "not_found")
    assert owner.http.delete(f"/rooms/{room_id}").status_code == 204
    _error(stranger.http.post(f"/rooms/{room_id}/join"), 404, "not_found")
    _error(stranger.http.post(f"/rooms/{room_id}/leave"), 404, "not_found")
    _error(invitee.http.post(f"/rooms/{room_id}/join"), 409, "room_closed")


def test_a_blocked_user_cannot_join_the_blockers_private_room(people: People) -> None:
    owner, pest = people.register(), people.register()
    room_id = int(str(_room(owner, visibility="private")["id"]))
    assert (
        owner.http.post(f"/rooms/{room_id}/invites", json={"user_id": pest.id}).status_code == 201
    )
    assert owner.http.post(f"/blocks/{pest.id}").status_code == 204
    _error(pest.http.post(f"/rooms/{room_id}/join"), 403, "blocked")


def test_list_active_rooms_by_topic_most_active_first(people: People) -> None:
    owner, a, b = people.register(), people.register(), people.register()
    topic = f"bio-{uuid.uuid4().hex[:6]}"
    quiet = int(str(_room(owner, topic=topic)["id"]))
    busy = int(str(_room(owner, topic=topic)["id"]))
    for person in (a, b):
        assert person.http.post(f"/rooms/{busy}/join").status_code == 200
    page = a.http.get("/rooms", params={"topic": topic, "limit": 1}).json()
    assert [r["id"] for r in page["items"]] == [busy]
    assert page["items"][0]["participant_count"] == 3
    rest = a.http.get(
        "/rooms", params={"topic": topic, "limit": 1, "cursor": page["next_cursor"]}
    ).json()
    assert [r["id"] for r in rest["items"]] == [quiet]
    _error(a.http.get("/rooms", params={"active": "false"}), 422, "validation_error")


def test_only_the_owner_closes_and_closed_rooms_refuse_joins(
    people: People, room_events: EventTap, redis_conn: redis.Redis
) -> None:
    owner, guest = people.register(), people.register()
    room = _room(owner)
    room_id = int(str(room["id"]))
    _error(guest.http.delete(f"/rooms/{room_id}"), 403, "not_owner")
    assert owner.http.delete(f"/rooms/{room_id}").status_code == 204
    room_events.wait_for(lambda e: isinstance(e, RoomClosed) and e.room_id == room_id)
    assert owner.http.get(f"/rooms/{room_id}").json()["status"] == "closed"
    _error(guest.http.post(f"/rooms/{room_id}/join"), 409, "room_closed")
    assert redis_conn.zscore(ACTIVE, str(room_id)) is None
    assert owner.http.delete(f"/rooms/{room_id}").status_code == 204  # idempotent


def test_shared_pomodoro_timer(people: People, room_events: EventTap) -> None:
    owner, guest, outsider = people.register(), people.register(), people.register()
    room_id = int(str(_room(owner)["id"]))
    guest.http.post(f"/rooms/{room_id}/join")
    started = owner.http.post(
        f"/rooms/{room_id}/timer", json={"action": "start", "focus_minutes": 30}
    )
    assert started.status_code == 200
    timer = started.json()["timer"]
    assert timer["phase"] == "focus"
    assert timer["status"] == "running"
    assert 1795 <= timer["remaining_seconds"] <= 1800
    # Every participant sees the same clock.
    assert guest.http.get(f"/rooms/{room_id}").json()["timer"]["ends_at"] == timer["ends_at"]
    paused = guest.http.post(f"/rooms/{room_id}/timer", json={"action": "pause"}).json()["timer"]
    assert paused["status"] == "paused"
    assert paused["ends_at"] is None
    resumed = owner.http.post(f"/rooms/{room_id}/timer", json={"action": "start"}).json()["timer"]
    assert resumed["status"] == "running"
    assert resumed["phase"] == "focus"
    brk = owner.http.post(
        f"/rooms/{room_id}/timer", json={"action": "start", "phase": "break"}
    ).json()
    assert brk["timer"]["phase"] == "break"
    reset = owner.http.post(f"/rooms/{room_id}/timer", json={"action": "reset"}).json()["timer"]
    assert reset["status"] == "idle"
    _error(
        outsider.http.post(f"/rooms/{room_id}/timer", json={"action": "start"}),
        403,
        "not_participant",
    )
    _error(
        owner.http.post(f"/rooms/{room_id}/timer", json={"action": "explode"}),
        422,
        "validation_error",
    )
    actions = [
        e.action
        for e in room_events.seen
        if isinstance(e, RoomTimerChanged) and e.room_id == room_id
    ]
    room_events.wait_for(
        lambda e: isinstance(e, RoomTimerChanged) and e.room_id == room_id and e.action == "reset"
    )
    actions = [
        e.action
        for e in room_events.seen
        if isinstance(e, RoomTimerChanged) and e.room_id == room_id
    ]
    assert actions == ["start", "pause", "start", "start", "reset"]


def test_state_is_rebuilt_from_mysql_when_redis_lost_it(
    people: People, redis_conn: redis.Redis
) -> None:
    owner, guest = people.register(), people.register()
    room_id = int(str(_room(owner, capacity=2)["id"]))
    guest.http.post(f"/rooms/{room_id}/join")
    redis_conn.delete(state_key(room_id), participants_key(room_id))
    redis_conn.zrem(ACTIVE, str(room_id))
    state = owner.http.get(f"/rooms/{room_id}").json()
    assert state["participant_count"] == 2
    assert state["capacity"] == 2
    third = people.register()
    _error(third.http.post(f"/rooms/{room_id}/join"), 409, "room_full")
