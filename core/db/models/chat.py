from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Enum, Index, String, Table, Text
from sqlalchemy.orm import Mapped

from core.db.models.base import NOW, TABLE_OPTIONS, Base, Timestamp

CHAT_MESSAGE_PARTITIONS = 8


class ChatMessage(Base):
    """Chat history, on the room's shard, partitioned by HASH(room_id) within it.

    (room_id, seq) is the key: seq is the room's single order, assigned by the persistence job in
    Kafka partition order, and resume/history are range scans on it. Every unique key must carry
    room_id (the partitioning column), which suits us: ids are unique per room by construction,
    and the client's idempotency key only needs to be unique per room and sender.
    """

    __table__ = Table(
        "chat_messages",
        Base.metadata,
        Column("room_id", BigInteger, primary_key=True, autoincrement=False),
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("message_id", BigInteger, nullable=False),
        Column("sender_id", BigInteger, nullable=False),
        Column("client_msg_id", String(64), nullable=False),
        Column("body", Text, nullable=False),
        # The body as others see it when the room masks and the word filter hit; NULL: as sent.
        Column("masked_body", Text, nullable=True),
        Column(
            "status",
            Enum("visible", "hidden", "deleted", name="chat_message_status"),
            nullable=False,
            server_default="visible",
        ),
        Column("created_at", Timestamp, nullable=False),
        Column("stored_at", Timestamp, nullable=False, server_default=NOW),
        Index("uq_chat_messages_message", "room_id", "message_id", unique=True),
        Index("uq_chat_messages_client", "room_id", "sender_id", "client_msg_id", unique=True),
        Index("idx_chat_messages_sender", "sender_id", "created_at"),
        mysql_partition_by="HASH(room_id)",
        mysql_partitions=str(CHAT_MESSAGE_PARTITIONS),
        **TABLE_OPTIONS,
    )

    room_id: Mapped[int]
    seq: Mapped[int]
    message_id: Mapped[int]
    sender_id: Mapped[int]
    client_msg_id: Mapped[str]
    body: Mapped[str]
    masked_body: Mapped[str | None]
    status: Mapped[str]
    created_at: Mapped[datetime]
    stored_at: Mapped[datetime]
