"""The batch flush of the chat persistence job, against real MySQL shards and real Redis.

``ChatStore.persist`` is what the Flink job calls once per Python bundle; here it is called
directly, so each rule is shown without a job in the way: numbering per room, duplicates
inside a batch and across batches, a replay after a restore, a second writer, a bad record,
a connection that broke, and broadcast strictly after the commit and in order.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
import redis

from core import wire
from core.db.sharding import shard_for_room
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import Settings
from pipelines.chat.store import (
    DUPLICATE,
    REJECTED,
    ChatStore,
    connection_config,
    open_store,
)

pytestmark = pytest.mark.integration

ids = IdGenerator(903)


@pytest.fixture
def rooms(settings: Settings, mysql: object) -> Iterator[list[int]]:
    """Fresh room ids, at least one on each shard; their rows are deleted afterwards."""
    del mysql  # a shard that is down fails with its log in view
    picked: list[int] = []
    while {shard_for_room(r, settings.mysql_shards) for r in picked} != set(
        range(settings.mysql_shards)
    ) or len(picked) < 2:
        picked.append(ids.next_id())
    yield picked
    for room_id in picked:
        with _connect(settings, room_id) as connection, connection.cursor() as cursor:
            cursor.execute("DELETE FROM chat_messages WHERE room_id = %s", (room_id,))
            connection.commit()


@pytest.fixture
def open_stores() -> Iterator[list[ChatStore]]:
    """Stores opened by a test (each is one job worker); all closed afterwards."""
    opened: list[ChatStore] = []
    yield opened
    for store in opened:
        store.close()


def _store(settings: Settings, opened: list[ChatStore]) -> ChatStore:
    store = open_store(connection_config(settings))
    opened.append(store)
    return store


def _connect(settings: Settings, room_id: int) -> pymysql.Connection[Any]:
    return pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port(shard_for_room(room_id, settings.mysql_shards)),
        user=settings.mysql_user,
        password=settings.mysql_password.get_secret_value(),
        database=settings.mysql_database,
    )


def _event(room_id: int, body: str, client_msg_id: str | None = None) -> ChatMessageSent:
    return ChatMessageSent(
        room_id=room_id,
        message_id=ids.next_id(),
        sender_id=42,
        client_msg_id=client_msg_id or str(uuid.uuid4()),
        body=body,
    )


def _payloads(*events: ChatMessageSent) -> list[str]:
    return [event.model_dump_json() for event in events]


def _rows(settings: Settings, room_id: int) -> list[tuple[int, str]]:
    with _connect(settings, room_id) as connection, connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, body FROM chat_messages WHERE room_id = %s ORDER BY seq", (room_id,)
        )
        return [(int(seq), str(body)) for seq, body in cursor.fetchall()]


class Listener:
    """A subscriber on rooms' channels; each frame is checked against MySQL when it arrives."""

    def __init__(self, settings: Settings, rooms: list[int]) -> None:
        self.settings = settings
        self.client = redis.Redis.from_url(settings.redis_url)
        self.pubsub = self.client.pubsub()
        self.pubsub.subscribe(*[wire.room_channel(room) for room in rooms])
        for _ in rooms:  # every subscription confirmed before anything is published
            confirmation = self.pubsub.get_message(timeout=5.0)
            assert confirmation is not None, "Redis did not confirm a subscription"
            assert confirmation["type"] == "subscribe", confirmation

    def frames(self, count: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while len(got) < count:
            message = self.pubsub.get_message(timeout=5.0)
            if message is None:
                raise AssertionError(f"only {len(got)} of {count} frames arrived: {got}")
            if message["type"] == "message":
                got.append(json.loads(message["data"]))
        return got

    def nothing_more(self) -> bool:
        return self.pubsub.get_message(timeout=0.3) is None  # the pipeline published all at once

    def close(self) -> None:
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def listen(settings: Settings) -> Iterator[Any]:
    listeners: list[Listener] = []

    def start(rooms: list[int]) -> Listener:
        listener = Listener(settings, rooms)
        listeners.append(listener)
        return listener

    yield start
    for listener in listeners:
        listener.close()


def test_a_batch_is_numbered_per_room_stored_then_broadcast_in_order(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore], listen: Any
) -> None:
    store = _store(settings, open_stores)
    listener = listen(rooms)
    events = [_event(rooms[n % len(rooms)], f"m{n}") for n in range(3 * len(rooms))]
    seqs = store.persist(_payloads(*events))
    assert seqs == [1 + n // len(rooms) for n in range(len(events))]
    frames = listener.frames(len(events))
    # One pipeline after the commits: in batch order, and each frame's row already stored.
    assert [(f["room_id"], f["seq"], f["body"]) for f in frames] == [
        (e.room_id, s, e.body) for e, s in zip(events, seqs, strict=True)
    ]
    for room_id in rooms:
        assert _rows(settings, room_id) == [
            (s, e.body) for e, s in zip(events, seqs, strict=True) if e.room_id == room_id
        ]
        assert listener.client.get(wire.room_last_seq_key(room_id)) == b"3"
    # The next batch takes the fast path (every room cached) and goes on from 3.
    assert store.persist(_payloads(_event(rooms[0], "next"))) == [4]


def test_a_room_not_in_the_cache_continues_from_mysql(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore]
) -> None:
    room_id = rooms[0]
    first = _store(settings, open_stores)
    assert first.persist(_payloads(_event(room_id, "a"), _event(room_id, "b"))) == [1, 2]
    restarted = _store(settings, open_stores)  # a new worker: an empty cache
    assert restarted.persist(_payloads(_event(room_id, "c"))) == [3]
    restarted.seqs.forget([room_id])  # evicted
    assert restarted.persist(_payloads(_event(room_id, "d"))) == [4]
    assert [seq for seq, _ in _rows(settings, room_id)] == [1, 2, 3, 4]


def test_a_resend_inside_one_batch_spends_no_seq(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore], listen: Any
) -> None:
    room_id = rooms[0]
    store = _store(settings, open_stores)
    store.persist(_payloads(_event(room_id, "warm")))  # cached: the fast path is tried first
    listener = listen([room_id])
    client_msg_id = str(uuid.uuid4())
    batch = _payloads(
        _event(room_id, "hello", client_msg_id),
        _event(room_id, "hello", client_msg_id),  # a resend: same key, new message_id
        _event(room_id, "after"),
    )
    assert store.persist(batch) == [2, DUPLICATE, 3]
    assert [f["seq"] for f in listener.frames(2)] == [2, 3]
    assert listener.nothing_more()
    assert _rows(settings, room_id) == [(1, "warm"), (2, "hello"), (3, "after")]


def test_a_resend_in_a_later_batch_spends_no_seq(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore], listen: Any
) -> None:
    room_id = rooms[0]
    store = _store(settings, open_stores)
    client_msg_id = str(uuid.uuid4())
    assert store.persist(_payloads(_event(room_id, "hello", client_msg_id))) == [1]
    listener = listen([room_id])
    resend = _event(room_id, "hello", client_msg_id)
    assert store.persist(_payloads(resend, _event(room_id, "after"))) == [DUPLICATE, 2]
    assert [f["body"] for f in listener.frames(1)] == ["after"]
    assert listener.nothing_more()
    assert _rows(settings, room_id) == [(1, "hello"), (2, "after")]


def test_a_replay_after_a_restore_is_broadcast_again_not_stored_again(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore], listen: Any
) -> None:
    room_id = rooms[0]
    one, two, three = _event(room_id, "one"), _event(room_id, "two"), _event(room_id, "three")
    assert _store(settings, open_stores).persist(_payloads(one, two)) == [1, 2]
    # Restored from a checkpoint taken after "one": the job replays "two", then goes on.
    listener = listen([room_id])
    restored = _store(settings, open_stores)
    assert restored.persist(_payloads(two, three)) == [2, 3]
    frames = listener.frames(2)
    assert [(f["seq"], f["message_id"]) for f in frames] == [
        (2, two.message_id),
        (3, three.message_id),
    ]
    assert _rows(settings, room_id) == [(1, "one"), (2, "two"), (3, "three")]


def test_a_seq_taken_by_another_writer_is_renumbered_from_mysql(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore]
) -> None:
    room_id = rooms[0]
    mine, other = _store(settings, open_stores), _store(settings, open_stores)
    assert mine.persist(_payloads(_event(room_id, "a"))) == [1]
    assert other.persist(_payloads(_event(room_id, "b"))) == [2]  # reads MAX, takes 2
    # Mine still believes the last seq is 1: its fast path collides and it renumbers.
    assert mine.persist(_payloads(_event(room_id, "c"), _event(room_id, "d"))) == [3, 4]
    assert _rows(settings, room_id) == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]


def test_a_record_that_is_not_a_chat_message_is_skipped_not_retried(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore]
) -> None:
    room_id = rooms[0]
    store = _store(settings, open_stores)
    batch = ["not json", '{"type": "chat.message_sent"}', *_payloads(_event(room_id, "ok"))]
    assert store.persist(batch) == [REJECTED, REJECTED, 1]
    assert _rows(settings, room_id) == [(1, "ok")]


def test_a_broken_connection_is_reconnected_and_the_batch_stored_once(
    settings: Settings, rooms: list[int], open_stores: list[ChatStore]
) -> None:
    room_id = rooms[0]
    store = _store(settings, open_stores)
    assert store.persist(_payloads(_event(room_id, "a"))) == [1]
    shard = shard_for_room(room_id, settings.mysql_shards)
    # Kill the worker's session from the server side, as a MariaDB restart would.
    broken = store.shards[shard]
    with _connect(settings, room_id) as admin, admin.cursor() as cursor:
        cursor.execute("KILL CONNECTION %s", (broken.thread_id(),))  # type: ignore[attr-defined]
    store.redis.connection_pool.disconnect()
    assert store.persist(_payloads(_event(room_id, "b"), _event(room_id, "c"))) == [2, 3]
    assert store.shards[shard] is not broken
    assert _rows(settings, room_id) == [(1, "a"), (2, "b"), (3, "c")]
