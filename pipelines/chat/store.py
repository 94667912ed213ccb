"""Store-then-broadcast of one chat message, with its per-room sequence number.

Plain Python over pymysql and redis-py, so the rules are tested without Flink; the Flink job
(pipelines/chat/persist.py) keeps ``last_seq`` in keyed state and calls ``store`` per record,
in Kafka partition order, one room at a time.

Why every case below exists:
- a new room, or state lost on a fresh deployment: the sequence continues from MySQL's max;
- a replay after a restore from checkpoint: the same message gets the same seq again (state
  was restored), the row is already there, and it is broadcast again (clients drop a seq they
  have);
- the same client_msg_id sent twice (a retry after a lost ack): the unique key
  (room_id, sender_id, client_msg_id) finds the first copy; nothing new is stored or sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from core.events import ChatMessageSent
from core.frames import Message, wire_time

DUPLICATE = -1


class Cursor(Protocol):
    rowcount: int

    def execute(self, query: str, args: object = ...) -> int: ...
    def fetchone(self) -> Any: ...


@dataclass(frozen=True)
class Stored:
    seq: int
    frame: str | None  # the broadcast frame, None for a duplicate send


def message_frame(event: ChatMessageSent, seq: int) -> str:
    return Message(
        room_id=event.room_id,
        seq=seq,
        message_id=event.message_id,
        user_id=event.sender_id,
        body=event.body,
        created_at=wire_time(event.occurred_at),
        client_msg_id=event.client_msg_id,
    ).to_json()


def _created_at(event: ChatMessageSent) -> datetime:
    return event.occurred_at.astimezone(UTC).replace(tzinfo=None)


def max_seq(cursor: Cursor, room_id: int) -> int:
    cursor.execute("SELECT COALESCE(MAX(seq), 0) FROM chat_messages WHERE room_id = %s", (room_id,))
    return int(cursor.fetchone()[0])


def store(cursor: Cursor, event: ChatMessageSent, last_seq: int | None) -> Stored:
    """Insert the message as seq last_seq + 1 (idempotently); says what to broadcast."""
    room_id = event.room_id
    if last_seq is None:
        last_seq = max_seq(cursor, room_id)
    for _ in range(3):
        seq = last_seq + 1
        cursor.execute(
            "INSERT IGNORE INTO chat_messages "
            "(room_id, seq, message_id, sender_id, client_msg_id, body, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (
                room_id,
                seq,
                event.message_id,
                event.sender_id,
                event.client_msg_id,
                event.body,
                _created_at(event),
            ),
        )
        if cursor.rowcount == 1:
            return Stored(seq, message_frame(event, seq))
        cursor.execute(
            "SELECT seq, message_id FROM chat_messages "
            "WHERE room_id = %s AND sender_id = %s AND client_msg_id = %s",
            (room_id, event.sender_id, event.client_msg_id),
        )
        existing = cursor.fetchone()
        if existing is not None:
            existing_seq, existing_id = int(existing[0]), int(existing[1])
            if existing_id == event.message_id and existing_seq == seq:
                return Stored(seq, message_frame(event, seq))  # replay after a restore
            return Stored(DUPLICATE, None)  # a resend of a message already stored
        # The seq is taken by another message: our state is behind the table. Catch up.
        last_seq = max_seq(cursor, room_id)
    raise RuntimeError(f"room {room_id}: could not find a free seq after {last_seq}")
