"""The chat path end to end through the real stack: WebSocket -> Kafka -> Flink -> MySQL -> Redis
-> WebSocket. Needs the chat-persist job that `make up` submits."""

from __future__ import annotations

import json
import socket as stdlib_socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from core import wire
from core.settings import Settings
from server.serve import WS_PROTOCOL
from tests.conftest import require
from tests.utils.api import People, Person, live_api

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def chat_job(settings: Settings) -> None:
    require(settings, "flink-jobmanager", "flink-taskmanager", "chat-persist")


@contextmanager
def socket(api_url: str, person: Person) -> Iterator[ClientConnection]:
    token = str(person.http.headers["Authorization"]).removeprefix("Bearer ")
    url = api_url.replace("http://", "ws://") + f"/ws?token={token}"
    with connect(url, open_timeout=10) as ws:
        try:
            yield ws
        finally:
            _pending.pop(id(ws), None)


def send(ws: ClientConnection, **frame: Any) -> None:
    ws.send(json.dumps(frame))


_pending: dict[int, list[dict[str, Any]]] = {}


def until(ws: ClientConnection, match: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """The first frame (buffered or new) whose fields include ``match``; others stay buffered."""
    buffered = _pending.setdefault(id(ws), [])
    for index, seen in enumerate(buffered):
        if all(seen.get(k) == v for k, v in match.items()):
            return buffered.pop(index)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if all(frame.get(k) == v for k, v in match.items()):
            return frame
        buffered.append(frame)
    raise AssertionError(f"no frame matching {match} within {timeout}s; got {buffered[-5:]}")


def _room(owner: Person, *members: Person) -> int:
    room_id = int(owner.http.post("/rooms", json={"name": "chat", "topic": "chat"}).json()["id"])
    for member in members:
        assert member.http.post(f"/rooms/{room_id}/join").status_code == 200
    return room_id


def test_a_bad_token_closes_with_1008(api_url: str) -> None:
    with (
        connect(api_url.replace("http://", "ws://") + "/ws?token=nope") as ws,
        pytest.raises(ConnectionClosed) as closed,
    ):
        ws.recv(timeout=5)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


@pytest.mark.usefixtures("chat_job")
def test_send_ack_store_and_deliver_in_one_order(api_url: str, people: People) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        for ws in (a, b):
            send(ws, type="subscribe", room_id=room_id)
            assert until(ws, {"type": "subscribed"})["last_seq"] == 0
        sent = []
        for n in range(10):
            sender = a if n % 2 == 0 else b
            client_msg_id = str(uuid.uuid4())
            send(sender, type="send", room_id=room_id, client_msg_id=client_msg_id, body=f"m{n}")
            ack = until(sender, {"type": "ack", "client_msg_id": client_msg_id})
            assert ack["room_id"] == room_id
            sent.append((client_msg_id, ack["message_id"]))
        received = {
            name: [until(ws, {"type": "message", "room_id": room_id}) for _ in range(10)]
            for name, ws in (("alice", a), ("bob", b))
        }
    # Every recipient sees the same order, seq 1..10, and it is the history's order too.
    for frames in received.values():
        assert [f["seq"] for f in frames] == list(range(1, 11))
    assert [f["message_id"] for f in received["alice"]] == [
        f["message_id"] for f in received["bob"]
    ]
    assert {f["message_id"] for f in received["alice"]} == {m for _, m in sent}
    history = alice.http.get(f"/rooms/{room_id}/messages", params={"limit": 100}).json()
    assert [m["message_id"] for m in history["items"]] == [f["message_id"] for f in received["bob"]]
    assert history["next_before_seq"] is None


@pytest.mark.usefixtures("chat_job")
def test_a_resend_is_acked_again_but_stored_once(api_url: str, people: People) -> None:
    alice = people.register()
    room_id = _room(alice)
    client_msg_id = str(uuid.uuid4())
    with socket(api_url, alice) as ws:
        send(ws, type="subscribe", room_id=room_id)
        until(ws, {"type": "subscribed"})
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body="once")
        first = until(ws, {"type": "ack"})
        until(ws, {"type": "message", "seq": 1})
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body="once")
        again = until(ws, {"type": "ack"})
        assert again["message_id"] == first["message_id"]
        send(ws, type="send", room_id=room_id, client_msg_id=str(uuid.uuid4()), body="twice")
        assert until(ws, {"type": "message"})["seq"] == 2  # no seq went to the resend
    bodies = [m["body"] for m in alice.http.get(f"/rooms/{room_id}/messages").json()["items"]]
    assert bodies == ["once", "twice"]


@pytest.mark.usefixtures("chat_job")
def test_a_resend_after_a_lost_ack_is_acked_from_the_store(
    api_url: str, people: People, redis_conn: redis.Redis
) -> None:
    """Issue 15, fault 2: the sender's ack was lost with Redis (its append-only file kept the
    marker at "pending"). The message is stored; a resend must be acked from MySQL at once,
    not refused as in flight until the marker's TTL runs out."""
    alice = people.register()
    room_id = _room(alice)
    client_msg_id = str(uuid.uuid4())
    key = wire.chat_ack_key(room_id, alice.id, client_msg_id)
    with socket(api_url, alice) as ws:
        send(ws, type="subscribe", room_id=room_id)
        until(ws, {"type": "subscribed"})
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body="stored")
        first = until(ws, {"type": "ack"})
        until(ws, {"type": "message", "seq": 1})  # stored, and delivered
        redis_conn.set(key, "pending", ex=30)  # the ack that never made it
        began = time.monotonic()
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body="stored")
        again = until(ws, {"type": "ack"}, timeout=5)
        assert again["message_id"] == first["message_id"]
        assert time.monotonic() - began < 2
        # The marker holds the message id again, so the next resend needs no lookup.
        deadline = time.monotonic() + 5
        while redis_conn.get(key) in (b"pending", "pending") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert redis_conn.get(key) == str(first["message_id"])  # the suite's client decodes

        # A marker pending for a message that is not stored is a send still on its way.
        unsent = str(uuid.uuid4())
        redis_conn.set(wire.chat_ack_key(room_id, alice.id, unsent), "pending", ex=30)
        send(ws, type="send", room_id=room_id, client_msg_id=unsent, body="on its way")
        refused = until(ws, {"type": "error", "ref": unsent}, timeout=5)
        assert refused["code"] == "in_flight"
    bodies = [m["body"] for m in alice.http.get(f"/rooms/{room_id}/messages").json()["items"]]
    assert bodies == ["stored"]


@pytest.mark.usefixtures("chat_job")
def test_resume_returns_everything_after_a_seq(api_url: str, people: People) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)
    with socket(api_url, alice) as a:
        send(a, type="subscribe", room_id=room_id)
        until(a, {"type": "subscribed"})
        for n in range(6):
            send(a, type="send", room_id=room_id, client_msg_id=str(uuid.uuid4()), body=f"r{n}")
            until(a, {"type": "ack"})
        until(a, {"type": "message", "seq": 6})
    # Bob was away and saw up to seq 2.
    with socket(api_url, bob) as b:
        send(b, type="resume", room_id=room_id, after_seq=2)
        frames = [until(b, {"type": "message"}) for _ in range(4)]
        done = until(b, {"type": "resumed"})
        assert [f["seq"] for f in frames] == [3, 4, 5, 6]
        assert [f["body"] for f in frames] == ["r2", "r3", "r4", "r5"]
        assert done["up_to_seq"] == 6
        send(b, type="history", room_id=room_id, before_seq=3, limit=10)
        history = until(b, {"type": "history"})
        assert [m["seq"] for m in history["messages"]] == [1, 2]
        assert history["has_more"] is False


@pytest.mark.usefixtures("chat_job")
def test_typing_reaches_the_others(api_url: str, people: People) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)
    with socket(api_url, alice) as a, socket(api_url, bob) as b:
        for ws in (a, b):
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
        send(a, type="typing", room_id=room_id)
        assert until(b, {"type": "typing"}) == {
            "type": "typing",
            "room_id": room_id,
            "user_id": alice.id,
        }
        send(a, type="heartbeat")
        until(a, {"type": "heartbeat_ack"})  # and alice got no typing frame of her own before it


def test_non_participants_cannot_subscribe_send_or_read(api_url: str, people: People) -> None:
    alice, mallory = people.register(), people.register()
    room_id = _room(alice)
    with socket(api_url, mallory) as ws:
        for frame in (
            {"type": "subscribe", "room_id": room_id},
            {"type": "send", "room_id": room_id, "client_msg_id": "x", "body": "hi"},
            {"type": "resume", "room_id": room_id, "after_seq": 0},
            {"type": "history", "room_id": room_id},
        ):
            send(ws, **frame)
            assert until(ws, {"type": "error"})["code"] == "not_participant"
    assert mallory.http.get(f"/rooms/{room_id}/messages").json()["error"] == "not_participant"


def test_malformed_frames_get_errors_and_the_socket_stays_usable(
    api_url: str, people: People
) -> None:
    alice = people.register()
    room_id = _room(alice)
    with socket(api_url, alice) as ws:
        ws.send("{not json")
        assert until(ws, {"type": "error"})["code"] == "invalid_json"
        send(ws, type="dance")
        assert until(ws, {"type": "error"})["code"] == "unknown_type"
        send(ws, type="subscribe", room_id="abc")
        error = until(ws, {"type": "error"})
        assert error["code"] == "invalid_frame"
        assert "room_id" in error["message"]
        send(ws, type="send", room_id=room_id, body="no id")
        assert "client_msg_id" in until(ws, {"type": "error"})["message"]
        send(ws, type="send", room_id=room_id, client_msg_id="e", body="   ")
        assert until(ws, {"type": "error", "ref": "e"})["code"] == "invalid_frame"
        send(ws, type="send", room_id=room_id, client_msg_id="l", body="x" * 4001)
        assert until(ws, {"type": "error", "ref": "l"})["code"] == "invalid_frame"
        send(ws, type="subscribe", room_id=room_id)
        assert until(ws, {"type": "subscribed"})["room_id"] == room_id


def test_sending_is_rate_limited(api_url: str, people: People, api_settings: Settings) -> None:
    alice = people.register()
    room_id = _room(alice)
    with socket(api_url, alice) as ws:
        codes: list[str | None] = []
        started = time.monotonic()
        for n in range(40):
            send(ws, type="send", room_id=room_id, client_msg_id=f"burst-{n}", body="spam")
        while len(codes) < 40:
            frame = until(ws, {})
            if frame["type"] in ("ack", "error"):
                codes.append(frame.get("code") if frame["type"] == "error" else frame["type"])
        elapsed = time.monotonic() - started
    # The burst passes, then tokens come back at the steady rate while the burst is handled.
    refilled = int(elapsed * api_settings.chat_rate_per_s) + 1
    assert api_settings.chat_burst <= codes.count("ack") <= api_settings.chat_burst + refilled
    assert codes.count("rate_limited") == 40 - codes.count("ack")
    assert codes.count("rate_limited") >= 40 - api_settings.chat_burst - refilled


def test_abuse_closes_the_connection(api_url: str, people: People) -> None:
    alice = people.register()
    with socket(api_url, alice) as ws:
        received = 0
        # The server may close while junk is still being sent: both are inside the block.
        with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - send, then read until closed
            for _ in range(60):
                ws.send("junk")
            while received < 100:
                ws.recv(timeout=20)
                received += 1
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


@pytest.mark.usefixtures("chat_job")
def test_a_message_crosses_between_gateway_processes(settings: Settings, people: People) -> None:
    """The API that `make up` runs has two worker processes behind one address."""
    require(settings, "api")
    stack_url = f"http://{settings.api_host}:{settings.api_port}"
    alice, bob = people.register(), people.register()
    room_id = _room(alice, bob)

    def open_on_new_gateway(person: Person, avoid: str | None) -> tuple[Any, ClientConnection, str]:
        # The kernel spreads connections over the workers; open until one lands where wanted.
        for _ in range(40):
            manager = socket(stack_url, person)
            ws = manager.__enter__()
            gateway = until(ws, {"type": "welcome"})["gateway"]
            if gateway != avoid:
                return manager, ws, gateway
            manager.__exit__(None, None, None)
        raise AssertionError("every connection landed on one gateway process")

    first_manager, a, first = open_on_new_gateway(alice, None)
    second_manager, b, second = open_on_new_gateway(bob, first)
    try:
        assert first != second
        for ws in (a, b):
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
        send(a, type="send", room_id=room_id, client_msg_id=str(uuid.uuid4()), body="across")
        assert until(b, {"type": "message"})["body"] == "across"
        send(b, type="send", room_id=room_id, client_msg_id=str(uuid.uuid4()), body="and back")
        assert until(a, {"type": "message", "seq": 2})["body"] == "and back"
    finally:
        second_manager.__exit__(None, None, None)
        first_manager.__exit__(None, None, None)


def _befriend(a: Person, b: Person) -> None:
    request = a.http.post("/friends/requests", json={"to_user_id": b.id}).json()
    assert b.http.post(f"/friends/requests/{request['id']}/accept").status_code == 200


def test_presence_changes_reach_friends_and_rest(api_url: str, people: People) -> None:
    alice, bob, stranger = people.register(), people.register(), people.register()
    _befriend(alice, bob)

    def statuses() -> dict[int, str]:
        found = stranger.http.get("/presence", params={"ids": f"{alice.id},{bob.id}"}).json()
        return {p["user_id"]: p["status"] for p in found}

    assert statuses() == {alice.id: "offline", bob.id: "offline"}
    with socket(api_url, bob) as b:
        until(b, {"type": "welcome"})
        with socket(api_url, alice) as a:
            until(a, {"type": "welcome"})
            assert until(b, {"type": "presence", "user_id": alice.id})["status"] == "online"
            assert statuses() == {alice.id: "online", bob.id: "online"}
            assert stranger.http.get(f"/users/{alice.id}/presence").json() == {
                "user_id": alice.id,
                "status": "online",
            }
            # A second socket of alice's is no new transition.
            with socket(api_url, alice) as again:
                until(again, {"type": "welcome"})
            assert statuses()[alice.id] == "online"
        assert until(b, {"type": "presence", "user_id": alice.id})["status"] == "offline"
        assert statuses()[alice.id] == "offline"
    presences = [f for f in _pending.get(id(b), []) if f.get("type") == "presence"]
    assert presences == []  # exactly one online and one offline were sent


def test_presence_bulk_validation(people: People) -> None:
    alice = people.register()
    for bad in ("", "a,b", "0", ",".join(str(n) for n in range(1, 300))):
        response = alice.http.get("/presence", params={"ids": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"] == "validation_error"


def test_room_changes_reach_subscribers(api_url: str, people: People) -> None:
    alice, bob = people.register(), people.register()
    room_id = _room(alice)
    with socket(api_url, alice) as a:
        send(a, type="subscribe", room_id=room_id)
        until(a, {"type": "subscribed"})
        assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
        joined = until(a, {"type": "room", "event": "joined"})
        assert joined["user_id"] == bob.id
        assert joined["room"]["participant_count"] == 2
        alice.http.post(f"/rooms/{room_id}/timer", json={"action": "start"})
        timer = until(a, {"type": "room", "event": "timer"})
        assert timer["room"]["timer"]["status"] == "running"
        bob.http.post(f"/rooms/{room_id}/leave")
        assert until(a, {"type": "room", "event": "left"})["room"]["participant_count"] == 1


def test_a_frame_over_64_kib_closes_with_1009(api_url: str, people: People) -> None:
    alice = people.register()
    with socket(api_url, alice) as ws:
        until(ws, {"type": "welcome"})
        with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - send, then read the close
            ws.send(json.dumps({"type": "heartbeat", "pad": "x" * 65_536}))
            for _ in range(10):
                ws.recv(timeout=20)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


def test_a_flood_past_the_rate_limit_closes_with_1008(api_url: str, people: People) -> None:
    alice = people.register()
    room_id = _room(alice)
    with socket(api_url, alice) as ws:
        until(ws, {"type": "welcome"})
        with pytest.raises(ConnectionClosed) as closed:  # noqa: PT012 - send, then read the close
            for n in range(150):
                send(ws, type="send", room_id=room_id, client_msg_id=f"flood-{n}", body="x")
            for _ in range(300):
                ws.recv(timeout=20)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


def test_presence_turns_offline_after_the_ttl_without_heartbeats(
    api_settings: Settings, people: People
) -> None:
    quick = api_settings.model_copy(update={"presence_ttl_s": 2})
    alice, bob = people.register(), people.register()
    _befriend(alice, bob)

    def status() -> str:
        return str(bob.http.get(f"/users/{alice.id}/presence").json()["status"])

    with live_api(quick) as url, socket(url, bob) as b, socket(url, alice) as a:
        until(a, {"type": "welcome"})
        assert until(b, {"type": "presence", "user_id": alice.id})["status"] == "online"
        # Bob keeps his presence alive; Alice sends no heartbeat although her socket is open.
        for _ in range(4):
            time.sleep(1)
            send(b, type="heartbeat")
        assert status() == "offline"
        assert until(b, {"type": "presence", "user_id": alice.id})["status"] == "offline"
        send(a, type="heartbeat")
        until(a, {"type": "heartbeat_ack"})
        assert status() == "online"
        assert until(b, {"type": "presence", "user_id": alice.id})["status"] == "online"


@pytest.mark.parametrize(
    "ws_protocol", [WS_PROTOCOL, "websockets-sansio"], ids=["frame-writer", "asgi-fallback"]
)
def test_a_socket_that_stops_reading_is_closed_as_too_slow(
    api_settings: Settings, people: People, redis_conn: redis.Redis, ws_protocol: str
) -> None:
    """A follower that reads nothing while its room is busy is closed with 1013, not buffered
    without bound: through the frame writer (bytes buffered) and the ASGI path (frames queued)."""
    alice = people.register()
    room_id = _room(alice)
    token = str(alice.http.headers["Authorization"]).removeprefix("Bearer ")
    with live_api(api_settings, ws=ws_protocol) as url:
        host, port = url.removeprefix("http://").split(":")
        sock = stdlib_socket.socket()
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        with connect(f"ws://{host}:{port}/ws?token={token}", sock=sock, max_size=None) as ws:
            send(ws, type="subscribe", room_id=room_id)
            until(ws, {"type": "subscribed"})
            # 15 MB of room frames while the client reads nothing: more than the kernel's
            # buffers, the 1 MiB write bound and the 1,000-frame queue.
            pad = "x" * 10_000
            with redis_conn.pipeline(transaction=False) as pipe:
                for n in range(1_500):
                    frame = {"type": "room", "room_id": room_id, "event": "timer", "n": n, "p": pad}
                    pipe.publish(wire.room_channel(room_id), json.dumps(frame))
                pipe.execute()
            time.sleep(2)
            received = 0
            closed: ConnectionClosed | None = None
            while closed is None and received <= 1_500:
                try:
                    ws.recv(timeout=30)
                    received += 1
                except ConnectionClosed as error:
                    closed = error
    assert closed is not None, f"{received} frames and never closed"
    assert closed.rcvd is not None
    assert closed.rcvd.code == 1013
    assert closed.rcvd.reason.startswith("too slow")
    assert received < 1_500  # it was cut off, not handed everything
