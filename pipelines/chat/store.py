"""Store-then-broadcast of a batch of chat messages, with each room's sequence numbers.

Plain Python over pymysql and redis-py, so the rules are tested without Flink. The Flink job
(pipelines/chat/persist.py) hands ``ChatStore.persist`` one batch per Python bundle, in Kafka
order; a bundle also ends before every checkpoint barrier, so what a checkpoint covers is in
MySQL before its Kafka offsets are committed.

Per batch, and per shard, one transaction:
- the fast path (every message new, the room's last seq known): one multi-row ``INSERT
  IGNORE`` and one ``COMMIT``. Its row count says whether every row went in;
- otherwise (a replay, a resend, a room not seen yet, another writer): roll back, look the
  batch up by its idempotency key and the rooms' ``MAX(seq)`` (one query each), number only the
  new messages, plain ``INSERT``, ``COMMIT``.

Then one Redis pipeline sets each room's last seq and publishes the batch in order on each
room's channel. Stored first, then broadcast: a client never sees a message history lacks.

Why every case exists:
- a room not in the cache (first message, a restart, an evicted room): its seq continues from
  MySQL's max. MySQL is the only truth; the cache saves the lookup;
- a replay after a restore (Kafka offsets roll back to the checkpoint): the row is there with
  the same message_id; nothing is stored, and it is broadcast again under its stored seq, in
  case the crash came between commit and publish (clients drop a seq they have);
- the same client_msg_id sent twice, with a new message_id (a resend the gateway's marker did
  not catch), in one batch or across batches: the unique key (room_id, sender_id,
  client_msg_id) finds the first copy; the resend spends no seq and is not broadcast;
- a seq already taken (a second writer for the room, e.g. while Kafka partitions are being
  added): the plain INSERT fails on the primary key, the cache entries are dropped and the
  batch is numbered again from MySQL.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, Protocol, TypeVar

import pymysql
import redis

from core import wire
from core.db.sharding import shard_for_room
from core.events import CHAT_MESSAGES, ChatMessageSent, parse_event
from core.frames import Message, wire_time
from core.settings import Settings

log = logging.getLogger(__name__)

DUPLICATE = -1
_T = TypeVar("_T")
_COLUMNS = "room_id, seq, message_id, sender_id, client_msg_id, body, masked_body, created_at"
_ROW = "(%s, %s, %s, %s, %s, %s, %s, %s)"


class Cursor(Protocol):
    rowcount: int

    def execute(self, query: str, args: object = ...) -> int: ...
    def fetchall(self) -> Any: ...
    def __enter__(self) -> Cursor: ...
    def __exit__(self, *exc: object) -> None: ...


class Connection(Protocol):
    def cursor(self) -> Cursor: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class Pipeline(Protocol):
    def publish(self, channel: str, message: str) -> Any: ...
    def set(self, name: str, value: int) -> Any: ...
    def execute(self) -> Any: ...


@dataclass(frozen=True)
class Stored:
    event: ChatMessageSent
    seq: int
    replay: bool  # stored by an earlier run; broadcast again, not stored again

    @property
    def frame(self) -> str:
        return message_frame(self.event, self.seq)


class SeqCache:
    """Each room's last stored seq, least recently used rooms evicted (MySQL has them all)."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._last: OrderedDict[int, int] = OrderedDict()

    def get(self, room_id: int) -> int | None:
        seq = self._last.get(room_id)
        if seq is not None:
            self._last.move_to_end(room_id)
        return seq

    def update(self, last: dict[int, int]) -> None:
        for room_id, seq in last.items():
            self._last[room_id] = seq
            self._last.move_to_end(room_id)
        while len(self._last) > self.capacity:
            self._last.popitem(last=False)

    def forget(self, rooms: Iterable[int]) -> None:
        for room_id in rooms:
            self._last.pop(room_id, None)

    def __len__(self) -> int:
        return len(self._last)


def message_frame(event: ChatMessageSent, seq: int) -> str:
    """The frame every follower gets: the masked body if the room masked it. The author's
    gateway reads the author's own copy from MySQL instead (realtime.hub)."""
    masked = event.masked_body is not None
    return Message(
        room_id=event.room_id,
        seq=seq,
        message_id=event.message_id,
        user_id=event.sender_id,
        body=event.masked_body if event.masked_body is not None else event.body,
        created_at=wire_time(event.occurred_at),
        client_msg_id=event.client_msg_id,
        masked=masked,
    ).to_json()


def _created_at(event: ChatMessageSent) -> datetime:
    return event.occurred_at.astimezone(UTC).replace(tzinfo=None)


def _row(event: ChatMessageSent, seq: int) -> tuple[object, ...]:
    return (
        event.room_id,
        seq,
        event.message_id,
        event.sender_id,
        event.client_msg_id,
        event.body,
        event.masked_body,
        _created_at(event),
    )


def _insert(cursor: Cursor, rows: Sequence[tuple[object, ...]], *, ignore: bool) -> int:
    verb = "INSERT IGNORE" if ignore else "INSERT"
    values = ", ".join([_ROW] * len(rows))
    args = [value for row in rows for value in row]
    cursor.execute(f"{verb} INTO chat_messages ({_COLUMNS}) VALUES {values}", args)
    return cursor.rowcount


def _max_seqs(cursor: Cursor, rooms: Sequence[int]) -> dict[int, int]:
    marks = ", ".join(["%s"] * len(rooms))
    cursor.execute(
        f"SELECT room_id, MAX(seq) FROM chat_messages WHERE room_id IN ({marks}) "  # noqa: S608
        "GROUP BY room_id",
        list(rooms),
    )
    found = {int(room): int(seq) for room, seq in cursor.fetchall()}
    return {room: found.get(room, 0) for room in rooms}


Key = tuple[int, int, str]


def _key(event: ChatMessageSent) -> Key:
    return (event.room_id, event.sender_id, event.client_msg_id)


def _existing(cursor: Cursor, keys: Sequence[Key]) -> dict[Key, tuple[int, int]]:
    """(seq, message_id) of the stored messages with these idempotency keys.

    An OR of equalities, one range each on uq_chat_messages_client; forced, because on a small
    or fresh table the optimiser picks the primary key and reads every row of the rooms.
    """
    where = " OR ".join(["(room_id = %s AND sender_id = %s AND client_msg_id = %s)"] * len(keys))
    cursor.execute(
        "SELECT room_id, sender_id, client_msg_id, seq, message_id "  # noqa: S608 - placeholders
        f"FROM chat_messages FORCE INDEX (uq_chat_messages_client) WHERE {where}",
        [part for key in keys for part in key],
    )
    return {
        (int(room), int(sender), str(client)): (int(seq), int(message))
        for room, sender, client, seq, message in cursor.fetchall()
    }


def _number(
    events: Sequence[ChatMessageSent],
    last: dict[int, int],
    existing: dict[Key, tuple[int, int]],
) -> list[Stored | None]:
    """Seqs for the new messages; replays keep theirs; resends (in or out of batch) get None."""
    seen: set[Key] = set()
    result: list[Stored | None] = []
    for event in events:
        key = _key(event)
        if key in seen:
            result.append(None)  # the second copy inside this batch
            continue
        seen.add(key)
        stored = existing.get(key)
        if stored is None:
            last[event.room_id] += 1
            result.append(Stored(event, last[event.room_id], replay=False))
        elif stored[1] == event.message_id:
            result.append(Stored(event, stored[0], replay=True))
        else:
            result.append(None)
    return result


def store_batch(
    connection: Connection, events: Sequence[ChatMessageSent], seqs: SeqCache
) -> list[Stored | None]:
    """Store one shard's part of a batch in one transaction; one result per event, in order.

    ``seqs`` moves only after the commit, so a batch that fails leaves it as it was.
    """
    if not events:
        return []
    rooms = list(dict.fromkeys(event.room_id for event in events))
    cached = {room: seqs.get(room) for room in rooms}
    known = {room: seq for room, seq in cached.items() if seq is not None}
    if len(known) == len(rooms) and len({_key(e) for e in events}) == len(events):
        last = dict(known)
        fast = _number(events, last, {})
        with connection.cursor() as cursor:
            inserted = _insert(cursor, [_row(s.event, s.seq) for s in fast if s], ignore=True)
        if inserted == len(events):
            connection.commit()
            seqs.update(last)
            return fast
        connection.rollback()  # a replay, a resend or a taken seq: the careful path below
    for attempt in range(3):
        try:
            with connection.cursor() as cursor:
                last = _max_seqs(cursor, rooms)
                result = _number(events, last, _existing(cursor, [_key(e) for e in events]))
                new = [s for s in result if s is not None and not s.replay]
                if new:
                    _insert(cursor, [_row(s.event, s.seq) for s in new], ignore=False)
            connection.commit()
        except Exception as error:
            connection.rollback()
            if not _is_duplicate_key(error) or attempt == 2:
                raise
            log.warning("a seq was taken by another writer; numbering the batch again")
            continue
        seqs.update(last)
        return result
    raise AssertionError("unreachable")


def _is_duplicate_key(error: Exception) -> bool:
    return isinstance(error, pymysql.err.IntegrityError) and error.args[0] == 1062  # ER_DUP_ENTRY


def publish(pipeline: Pipeline, stored: Iterable[Stored], last: dict[int, int]) -> None:
    """Each room's last seq, then the batch's frames in order, in one round trip.

    The last seq goes first: a gateway that subscribes to a room and then reads its last seq
    as L either receives every frame after L live or finds it in MySQL, never neither (a frame
    published before the subscription took effect had its SET, and its commit, before it).
    """
    for room_id, seq in last.items():
        pipeline.set(wire.room_last_seq_key(room_id), seq)
    for item in stored:
        pipeline.publish(wire.room_channel(item.event.room_id), item.frame)
    pipeline.execute()


def parse(payload: str | bytes) -> ChatMessageSent:
    event = parse_event(CHAT_MESSAGES, payload)
    if not isinstance(event, ChatMessageSent):
        raise TypeError(f"{CHAT_MESSAGES} carries {type(event).__name__}, not a message")
    return event


_CONNECTION_ERRORS = (
    OSError,
    pymysql.err.OperationalError,
    pymysql.err.InterfaceError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def retrying(what: str, attempt: Callable[[], _T], reconnect: Callable[[], None]) -> _T:
    """Run ``attempt``; on a connection error reconnect and try again (about 10 s in all).

    No ping before each use: the first error is the signal, and a batch that failed was rolled
    back (or, if only its COMMIT's answer was lost, is found by its keys when tried again).
    """
    delay = 0.05
    for _ in range(8):
        try:
            return attempt()
        except _CONNECTION_ERRORS as error:
            log.warning("%s failed (%s); reconnecting in %.2f s", what, error, delay)
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        reconnect()
    return attempt()


REJECTED = -2  # a record that is not a valid chat message: logged and skipped, never retried


class ChatStore:
    """The shards and Redis of one job worker, and the batch flush over them."""

    def __init__(
        self,
        connect_shard: Callable[[int], Connection],
        shards: int,
        connect_redis: Callable[[], Any],
        seqs: SeqCache | None = None,
    ) -> None:
        self._connect_shard = connect_shard
        self._connect_redis = connect_redis
        self.shard_count = shards
        self.shards: list[Connection] = [connect_shard(n) for n in range(shards)]
        self.redis = connect_redis()
        self.seqs = seqs or SeqCache()

    def close(self) -> None:
        for connection in self.shards:
            _close_quietly(connection)
        _close_quietly(self.redis)

    def _reconnect_shard(self, shard: int) -> None:
        _close_quietly(self.shards[shard])
        self.shards[shard] = self._connect_shard(shard)

    def _reconnect_redis(self) -> None:
        _close_quietly(self.redis)
        self.redis = self._connect_redis()

    def _store_on(self, shard: int, batch: list[ChatMessageSent]) -> list[Stored | None]:
        return store_batch(self.shards[shard], batch, self.seqs)

    def persist(self, payloads: Sequence[str | bytes]) -> list[int]:
        """Store and broadcast one batch; per record its seq, DUPLICATE or REJECTED."""
        events: list[ChatMessageSent | None] = []
        for payload in payloads:
            try:
                events.append(parse(payload))
            except (ValueError, TypeError) as error:
                log.error("skipping a record that is not a chat message: %s", error)
                events.append(None)
        by_shard: dict[int, list[int]] = {}
        for index, event in enumerate(events):
            if event is not None:
                shard = shard_for_room(event.room_id, self.shard_count)
                by_shard.setdefault(shard, []).append(index)
        outcome: list[Stored | None] = [None] * len(events)
        last: dict[int, int] = {}
        for shard, indexes in by_shard.items():
            part = [events[i] for i in indexes]
            batch = [e for e in part if e is not None]
            results = retrying(
                f"storing {len(batch)} messages on shard {shard}",
                partial(self._store_on, shard, batch),
                partial(self._reconnect_shard, shard),
            )
            for index, result in zip(indexes, results, strict=True):
                outcome[index] = result
                if result is not None:
                    room = result.event.room_id
                    last[room] = max(last.get(room, 0), result.seq)
        stored = [item for item in outcome if item is not None]
        if stored:
            retrying(
                f"broadcasting {len(stored)} messages",
                lambda: publish(self.redis.pipeline(transaction=False), stored, last),
                self._reconnect_redis,
            )
        return [
            REJECTED if event is None else DUPLICATE if item is None else item.seq
            for event, item in zip(events, outcome, strict=True)
        ]


def connection_config(settings: Settings) -> dict[str, Any]:
    """What a worker needs to connect (plain data: it is pickled into the Flink job)."""
    return {
        "mysql": [
            {
                "host": settings.mysql_host,
                "port": settings.mysql_port(shard),
                "user": settings.mysql_user,
                "password": settings.mysql_password.get_secret_value(),
                "database": settings.mysql_database,
            }
            for shard in range(settings.mysql_shards)
        ],
        "redis_url": settings.redis_url,
    }


def open_store(connections: dict[str, Any]) -> ChatStore:
    def connect_shard(shard: int) -> Connection:
        connection: Connection = pymysql.connect(
            **connections["mysql"][shard], autocommit=False, charset="utf8mb4"
        )
        return connection

    return ChatStore(
        connect_shard,
        len(connections["mysql"]),
        lambda: redis.Redis.from_url(connections["redis_url"]),
    )


def _close_quietly(resource: Any) -> None:
    try:
        resource.close()
    except Exception:  # closing a connection that already broke
        log.debug("closing %r failed", resource, exc_info=True)
