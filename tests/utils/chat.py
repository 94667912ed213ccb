"""Helpers the chat tests share."""

from __future__ import annotations

from sqlalchemy import Engine, text


def stored_count(engine: Engine, room_id: int) -> int:
    """How many messages of the room are in MySQL (on the room's shard's engine)."""
    with engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT COUNT(*) FROM chat_messages WHERE room_id = :r"), {"r": room_id}
            ).scalar_one()
        )
