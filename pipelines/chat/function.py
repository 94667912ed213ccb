"""The keyed PyFlink function of the chat persistence job (runs in the TaskManager's Python)."""

from __future__ import annotations

import logging
from typing import Any

import pymysql
import redis
from pyflink.common import Types
from pyflink.datastream import KeyedProcessFunction, RuntimeContext
from pyflink.datastream.state import ValueStateDescriptor

from core import wire
from core.db.sharding import shard_for_room
from core.events import CHAT_MESSAGES, ChatMessageSent, parse_event
from pipelines.chat.store import DUPLICATE, store

log = logging.getLogger(__name__)


class PersistAndBroadcast(KeyedProcessFunction):  # type: ignore[misc]
    def __init__(self, connections: dict[str, Any]) -> None:
        self.connections = connections

    def open(self, runtime_context: RuntimeContext) -> None:
        self.last_seq = runtime_context.get_state(ValueStateDescriptor("last_seq", Types.LONG()))
        self.shards = [
            pymysql.connect(**params, autocommit=True, charset="utf8mb4")
            for params in self.connections["mysql"]
        ]
        self.redis = redis.Redis.from_url(self.connections["redis_url"])

    def close(self) -> None:
        for connection in self.shards:
            connection.close()
        self.redis.close()

    def process_element(self, value: str, ctx: KeyedProcessFunction.Context) -> Any:
        del ctx  # no timers or side outputs
        event = parse_event(CHAT_MESSAGES, value)
        if not isinstance(event, ChatMessageSent):
            raise TypeError(f"{CHAT_MESSAGES} carries {type(event).__name__}, not a message")
        room_id = event.room_id
        connection = self.shards[shard_for_room(room_id, len(self.shards))]
        connection.ping(reconnect=True)
        with connection.cursor() as cursor:
            stored = store(cursor, event, self.last_seq.value())
        if stored.seq == DUPLICATE or stored.frame is None:
            return
        self.last_seq.update(stored.seq)
        # Stored first, then broadcast: a client never sees a message history would not have.
        pipe = self.redis.pipeline(transaction=False)
        pipe.publish(wire.room_channel(room_id), stored.frame)
        pipe.set(wire.room_last_seq_key(room_id), stored.seq)
        pipe.execute()
        yield from ()
