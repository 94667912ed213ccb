"""The store-then-broadcast rules of the chat persistence job, against real MySQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest

from core.db.sharding import shard_for_room
from core.events import ChatMessageSent
from core.ids import IdGenerator
from core.settings import Settings
from pipelines.chat.store import DUPLICATE, store

pytestmark = pytest.mark.integration

ids = IdGenerator(903)


@pytest.fixture
def room(settings: Settings, mysql: object) -> Iterator[tuple[int, pymysql.cursors.Cursor]]:
    del mysql  # a shard that is down fails with its log in view
    room_id = ids.next_id()
    connection = pymysql.connect(
        host=settings.mysql_host,
        port=settings.mysql_port(shard_for_room(room_id, settings.mysql_shards)),
        user=settings.mysql_user,
        password=settings.mysql_password.get_secret_value(),
        database=settings.mysql_database,
        autocommit=True,
    )
    with connection.cursor() as cursor:
        yield room_id, cursor
        cursor.execute("DELETE FROM chat_messages WHERE room_id = %s", (room_id,))
    connection.close()


def _event(room_id: int, body: str, client_msg_id: str | None = None) -> ChatMessageSent:
    return ChatMessageSent(
        room_id=room_id,
        message_id=ids.next_id(),
        sender_id=42,
        client_msg_id=client_msg_id or str(uuid.uuid4()),
        body=body,
    )


def _rows(cursor: pymysql.cursors.Cursor, room_id: int) -> list[tuple[int, str]]:
    cursor.execute(
        "SELECT seq, body FROM chat_messages WHERE room_id = %s ORDER BY seq", (room_id,)
    )
    return [(int(seq), str(body)) for seq, body in cursor.fetchall()]


def test_sequence_starts_at_one_and_follows_the_state(room: tuple[int, Any]) -> None:
    room_id, cursor = room
    first = store(cursor, _event(room_id, "a"), None)
    second = store(cursor, _event(room_id, "b"), first.seq)
    assert (first.seq, second.seq) == (1, 2)
    assert second.frame is not None
    assert '"seq":2' in second.frame
    assert _rows(cursor, room_id) == [(1, "a"), (2, "b")]


def test_lost_state_continues_from_the_table(room: tuple[int, Any]) -> None:
    room_id, cursor = room
    store(cursor, _event(room_id, "a"), None)
    store(cursor, _event(room_id, "b"), 1)
    # A fresh deployment without state: no None-seq clash, the next one is 3.
    assert store(cursor, _event(room_id, "c"), None).seq == 3
    # State that is behind the table (restored from an old checkpoint) catches up too.
    assert store(cursor, _event(room_id, "d"), 1).seq == 4
    assert [seq for seq, _ in _rows(cursor, room_id)] == [1, 2, 3, 4]


def test_a_replay_after_restore_is_rebroadcast_not_restored(room: tuple[int, Any]) -> None:
    room_id, cursor = room
    first = _event(room_id, "one")
    second = _event(room_id, "two")
    store(cursor, first, None)
    stored = store(cursor, second, 1)
    # Restored from a checkpoint taken after "one": "two" is replayed with last_seq = 1.
    replay = store(cursor, second, 1)
    assert replay.seq == stored.seq == 2
    assert replay.frame == stored.frame  # broadcast again; clients drop a seq they have
    assert _rows(cursor, room_id) == [(1, "one"), (2, "two")]
    # With no state at all the replayed copy is recognised as stored and not sent again.
    assert store(cursor, second, None).seq == DUPLICATE


def test_a_resent_client_msg_id_is_not_a_second_message(room: tuple[int, Any]) -> None:
    room_id, cursor = room
    client_msg_id = str(uuid.uuid4())
    first = store(cursor, _event(room_id, "hello", client_msg_id), None)
    resend = store(cursor, _event(room_id, "hello", client_msg_id), first.seq)  # new message_id
    assert resend.seq == DUPLICATE
    assert resend.frame is None
    assert _rows(cursor, room_id) == [(1, "hello")]
