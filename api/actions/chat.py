"""Chat history reads: resume (everything after a seq) and pages back in time.

Rows live on the room's shard, primary key (room_id, seq): both reads are one range scan.
Sending is the gateway's (realtime/gateway.py): it goes to Kafka, never straight to MySQL.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy import select

from api.deps import Resources
from api.errors import Forbidden
from core.db.models import ChatMessage


def frame_of(message: ChatMessage) -> dict[str, Any]:
    return {
        "type": "message",
        "room_id": message.room_id,
        "seq": message.seq,
        "message_id": message.message_id,
        "user_id": message.sender_id,
        "body": message.body,
        "created_at": message.created_at.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z"),
        "client_msg_id": message.client_msg_id,
    }


async def require_participant(res: Resources, room_id: int, user_id: int) -> None:
    if not await res.rooms.is_participant(room_id, user_id):
        raise Forbidden(f"join room {room_id} to read or send its messages", code="not_participant")


async def messages_after(
    res: Resources, room_id: int, after_seq: int, *, limit: int
) -> list[dict[str, Any]]:
    async with res.db.for_room(room_id)() as session:
        rows = await session.scalars(
            select(ChatMessage)
            .where(ChatMessage.room_id == room_id, ChatMessage.seq > after_seq)
            .order_by(ChatMessage.seq)
            .limit(limit)
        )
        return [frame_of(m) for m in rows]


async def messages_before(
    res: Resources, room_id: int, before_seq: int | None, *, limit: int
) -> list[dict[str, Any]]:
    """Up to ``limit`` messages before ``before_seq`` (newest page if None), oldest first."""
    statement = select(ChatMessage).where(ChatMessage.room_id == room_id)
    if before_seq is not None:
        statement = statement.where(ChatMessage.seq < before_seq)
    async with res.db.for_room(room_id)() as session:
        rows = await session.scalars(statement.order_by(ChatMessage.seq.desc()).limit(limit))
        return [frame_of(m) for m in reversed(list(rows))]


async def last_seq(res: Resources, room_id: int) -> int:
    cached = await res.redis.get(f"room:{{{room_id}}}:last_seq")
    if cached is not None:
        return int(cached)
    page = await messages_before(res, room_id, None, limit=1)
    return int(page[-1]["seq"]) if page else 0
