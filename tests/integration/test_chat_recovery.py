"""Subscribe with recovery while the backlog is still being stored: one order, no gap, no
duplicate, whichever form the client uses.

The race from the field: a client reconnects and asks for everything after its last seq
while messages it missed are still on their way through Kafka and the persistence job. Live
frames must not overtake the backlog, and the backlog must not repeat them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import text
from websockets.sync.client import ClientConnection

from core.db.sharding import ShardRouter
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import Settings
from ingest.kafka import make_producer
from tests.integration.test_chat_gateway import chat_job, send, socket, until
from tests.utils.api import People, Person, live_api
from tests.utils.chat import stored_count

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("chat_job")]

ids = IdGenerator(905)
__all__ = ["chat_job"]  # the fixture, shared with the gateway tests
BACKLOG, LIVE = 300, 30


def _follow_with_after_seq(ws: ClientConnection, room_id: int) -> None:
    send(ws, type="subscribe", room_id=room_id, after_seq=0)


def _subscribe_then_resume(ws: ClientConnection, room_id: int) -> None:
    send(ws, type="subscribe", room_id=room_id)
    send(ws, type="resume", room_id=room_id, after_seq=0)


def _resume_alone(ws: ClientConnection, room_id: int) -> None:
    send(ws, type="resume", room_id=room_id, after_seq=0)


@pytest.mark.parametrize(
    "follow",
    [_follow_with_after_seq, _subscribe_then_resume, _resume_alone],
    ids=["subscribe-after-seq", "subscribe-then-resume", "resume"],
)
def test_recovery_while_the_backlog_is_being_stored_is_gapless_and_in_order(
    settings: Settings,
    api_url: str,
    people: People,
    mysql: ShardRouter,
    follow: Callable[[ClientConnection, int], None],
) -> None:
    alice, bob = people.register(), people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "r", "topic": "t"}).json()["id"])
    assert bob.http.post(f"/rooms/{room_id}/join").status_code == 200
    engine = mysql.engine_for_room(room_id)

    def stored() -> int:
        return stored_count(engine, room_id)

    producer = make_producer(settings)
    opened = threading.Event()
    go_live = threading.Event()

    def writer() -> None:
        # The backlog trickles in (about 500/s). Its second half waits for the socket to be
        # open, so the subscribe lands while it is being stored however slow the handshake.
        for n in range(BACKLOG + LIVE):
            if n == BACKLOG // 2:
                opened.wait(timeout=30)
            if n == BACKLOG:
                go_live.wait(timeout=30)
            producer.produce(
                "chat-messages",
                value=_event(alice, room_id, n).to_bytes(),
                key=str(room_id).encode(),
            )
            producer.poll(0)
            time.sleep(0.002)
        producer.flush(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while stored() < 10 and time.monotonic() < deadline:
            time.sleep(0.005)
        with socket(api_url, bob) as ws:
            until(ws, {"type": "welcome"})
            opened.set()
            at_subscribe = stored()
            follow(ws, room_id)
            seqs: list[int] = []
            frames: list[dict[str, Any]] = []
            while len(seqs) < BACKLOG + LIVE:
                frame = until(ws, {"room_id": room_id}, timeout=30)
                frames.append(frame)
                if frame["type"] == "message":
                    seqs.append(int(frame["seq"]))
                    if len(seqs) == BACKLOG // 2:
                        go_live.set()  # and more messages arrive live
        thread.join(timeout=30)
    finally:
        opened.set()
        go_live.set()
        thread.join(timeout=30)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM chat_messages WHERE room_id = :r"), {"r": room_id})
    assert 10 <= at_subscribe < BACKLOG, "the subscribe did not race the storing"
    assert seqs == list(range(1, BACKLOG + LIVE + 1))  # in order, each once, no gap
    kinds = [f["type"] for f in frames if f["type"] != "message"]
    if follow is _follow_with_after_seq:
        assert frames[0]["type"] == "subscribed"
        assert frames[0]["recovered"] is True
        assert frames[0]["missing"] is None
    elif follow is _subscribe_then_resume:
        assert kinds[:2] == ["subscribed", "resumed"]
    else:
        assert kinds[:1] == ["resumed"]


def _event(sender: Person, room_id: int, n: int) -> ChatMessageSent:
    return ChatMessageSent(
        room_id=room_id,
        message_id=ids.next_id(),
        sender_id=sender.id,
        client_msg_id=f"recovery-{n}",
        body=f"message {n}",
    )


def test_a_subscribe_too_far_behind_says_which_range_is_missing(
    api_url: str, people: People, api_settings: Settings
) -> None:
    """More than the recovery limit behind: the newest ``chat_recovery_limit`` messages are
    sent, and the subscribed frame names the older range exactly, for history to page."""
    alice = people.register()
    room_id = int(alice.http.post("/rooms", json={"name": "r", "topic": "t"}).json()["id"])
    with socket(api_url, alice) as ws:
        send(ws, type="subscribe", room_id=room_id)
        until(ws, {"type": "subscribed"})
        for n in range(8):
            send(ws, type="send", room_id=room_id, client_msg_id=f"far-{n}", body=f"f{n}")
            until(ws, {"type": "ack"})
        until(ws, {"type": "message", "seq": 8})
    small = api_settings.model_copy(update={"chat_recovery_limit": 3})
    with live_api(small) as small_url, socket(small_url, alice) as ws:
        send(ws, type="subscribe", room_id=room_id, after_seq=2)
        subscribed = until(ws, {"type": "subscribed"})
        frames = [until(ws, {"type": "message"}) for _ in range(3)]
        send(ws, type="history", room_id=room_id, before_seq=6, limit=10)
        page = until(ws, {"type": "history"})
    assert subscribed["last_seq"] == 8
    assert subscribed["recovered"] is False
    assert subscribed["missing"] == {"from_seq": 3, "to_seq": 5}
    assert [f["seq"] for f in frames] == [6, 7, 8]
    assert [m["seq"] for m in page["messages"]][-3:] == [3, 4, 5]  # the range, from history
