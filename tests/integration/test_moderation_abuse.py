"""Abuse caught in the stream, end to end: the moderation Flink job sees a flood (or
duplicate spam, mention spam, a burst of blocked messages) on Kafka, mutes the user in Redis,
the gateway refuses their sends until the mute ends, and the queue gets an item."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import redis
from websockets.sync.client import ClientConnection

from core import wire
from core.settings import Settings
from tests.conftest import require
from tests.integration.test_chat_gateway import chat_job, send, socket
from tests.integration.test_moderation_queue import _moderator, _queued, _wait_for
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("chat_job", "abuse_jobs")]
__all__ = ["chat_job"]


@pytest.fixture(scope="module")
def abuse_jobs(settings: Settings) -> None:
    require(settings, "moderation")


def _rooms(people: People, author: Person, count: int, moderation: str = "block") -> list[int]:
    owner = people.register()
    rooms = []
    for _ in range(count):
        created = owner.http.post(
            "/rooms", json={"name": "abuse", "topic": "chat", "moderation": moderation}
        )
        room_id = int(created.json()["id"])
        assert author.http.post(f"/rooms/{room_id}/join").status_code == 200
        rooms.append(room_id)
    return rooms


def _send(ws: ClientConnection, room_id: int, body: str) -> dict[str, Any]:
    """Send until acked or refused for a reason other than the rate limit: that frame."""
    client_msg_id = str(uuid.uuid4())
    while True:
        send(ws, type="send", room_id=room_id, client_msg_id=client_msg_id, body=body)
        frame = _reply(ws, client_msg_id)
        if frame.get("code") != "rate_limited":
            return frame
        time.sleep(0.15)


def _reply(ws: ClientConnection, client_msg_id: str) -> dict[str, Any]:
    """The ack or the error frame for this send; other frames are not needed here."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        frame: dict[str, Any] = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if frame.get("type") == "ack" and frame.get("client_msg_id") == client_msg_id:
            return frame
        if frame.get("type") == "error" and frame.get("ref") == client_msg_id:
            return frame
    raise AssertionError(f"no reply to {client_msg_id}")


def _muted_soon(ws: ClientConnection, room_id: int, timeout: float = 30.0) -> dict[str, Any]:
    """Keep sending now and then until the gateway says muted; that error frame."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = _send(ws, room_id, "still here")
        if frame.get("code") == "muted":
            return frame
        time.sleep(0.5)
    raise AssertionError(f"not muted within {timeout} s")


def _check_mute_then_lift(
    redis_conn: redis.Redis, ws: ClientConnection, author: Person, room_id: int, started: float
) -> None:
    muted = _muted_soon(ws, room_id)
    assert "muted for sending too much, too fast" in muted["message"]
    assert time.monotonic() - started < 30  # within seconds of the abuse
    key = wire.mute_key(author.id)
    assert redis_conn.get(key) == "stream"
    assert 0 < int(redis_conn.pttl(key)) <= 120_000
    redis_conn.pexpire(key, 1)  # the mute's time is over
    time.sleep(0.05)
    assert _send(ws, room_id, "back again")["type"] == "ack"


def test_a_flood_mutes_the_user_until_the_mute_ends_and_reaches_the_queue(
    settings: Settings, people: People, redis_conn: redis.Redis
) -> None:
    """A flood is more than one gateway process lets a user send (260 in 20 s): two sockets
    on the stack's two API workers, each at its process's limit."""
    require(settings, "api")
    stack_url = f"http://{settings.api_host}:{settings.api_port}"
    author = people.register()
    moderator = _moderator(people)
    rooms = _rooms(people, author, 2)
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        sockets: dict[str, ClientConnection] = {}
        for _ in range(40):
            ws = stack.enter_context(socket(stack_url, author))
            gateway = json.loads(ws.recv(timeout=10))["gateway"]  # the welcome
            sockets.setdefault(gateway, ws)
            if len(sockets) == 2:
                break
        assert len(sockets) == 2, "could not reach two gateway processes"
        first, second = sockets.values()

        acked = [0, 0]

        def flood(ws: ClientConnection, room_id: int, tag: str) -> None:
            for n in range(135):  # just under the process's limit (10/s), so never refused
                reply = _send(ws, room_id, f"{tag} message {n}")
                if reply["type"] != "ack":
                    # The flood's mute may land before the last few of the 270 are sent, once
                    # the job has seen 260 of them; nothing else may refuse a send here.
                    assert reply.get("code") == "muted", reply
                    assert sum(acked) >= 260, (acked, reply)
                    return
                acked[0 if tag == "one" else 1] += 1
                time.sleep(0.095)

        with ThreadPoolExecutor(2) as pool:
            for done in [
                pool.submit(flood, first, rooms[0], "one"),
                pool.submit(flood, second, rooms[1], "two"),
            ]:
                done.result()
        _check_mute_then_lift(redis_conn, first, author, rooms[0], started)
    items = _wait_for(
        "the flood in the queue", _queued(moderator, user_id=author.id, rule="stream:flood")
    )
    item = items[0]
    assert (item["kind"], item["action"]) == ("user", "muted")
    assert item["evidence"][0]["kind"] == "flood"
    assert item["evidence"][0]["count"] >= 260
    assert len(items) == 1  # the overlapping windows mute and report once


def test_the_same_text_in_three_rooms_is_duplicate_spam(
    api_url: str, people: People, redis_conn: redis.Redis
) -> None:
    author = people.register()
    moderator = _moderator(people)
    rooms = _rooms(people, author, 3)
    started = time.monotonic()
    with socket(api_url, author) as ws:
        for room_id in rooms:
            reply = _send(ws, room_id, "Cheap essays written for you! Visit essays dot example")
            assert reply["type"] == "ack"
        _check_mute_then_lift(redis_conn, ws, author, rooms[0], started)
    _wait_for(
        "the spam in the queue", _queued(moderator, user_id=author.id, rule="stream:duplicate")
    )


def test_a_burst_of_blocked_messages_mutes(
    api_url: str, people: People, redis_conn: redis.Redis
) -> None:
    author = people.register()
    rooms = _rooms(people, author, 1)
    started = time.monotonic()
    with socket(api_url, author) as ws:
        for insult in ("you idiot", "stfu", "what a wanker"):
            assert _send(ws, rooms[0], insult)["code"] == "message_blocked"
        _check_mute_then_lift(redis_conn, ws, author, rooms[0], started)


def test_mention_spam_mutes(api_url: str, people: People, redis_conn: redis.Redis) -> None:
    author = people.register()
    rooms = _rooms(people, author, 1)
    started = time.monotonic()
    with socket(api_url, author) as ws:
        mentions = " ".join(f"@user{n}" for n in range(16))
        assert _send(ws, rooms[0], f"look here {mentions}")["type"] == "ack"
        _check_mute_then_lift(redis_conn, ws, author, rooms[0], started)
