"""Chat: sending (to Kafka, never straight to MySQL) and reading the room's history.

A send is acknowledged once Kafka holds it (acks=all). A resend with the same client_msg_id
gets the first ack back and is not produced again (``wire.chat_ack_key`` in Redis; the
persistence job's unique key catches the rest). A resend that finds the marker still pending
is acked from MySQL if the message is stored there (its first ack was lost), and is
``in_flight`` only while it is truly on its way. History rows live on the room's shard, primary
key (room_id, seq): resume and history are each one range scan.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from core import wire
from core.events import ChatMessageSent
from core.frames import Message, TypingStarted, wire_time
from domain.errors import DomainError, InFlight, Invalid, Unavailable
from domain.moderation import policy as moderation
from domain.moderation.filter import Hit
from domain.monitoring import timings
from domain.resources import Resources
from domain.rooms import not_participant, require_participant, room_topic

log = logging.getLogger(__name__)

PENDING_TTL_S = 30


# Membership, a mute, the idempotency marker and the room's moderation policy in one round
# trip. Returns {1, policy} when the send may go ahead (marker set to pending; policy false
# for a room state stored before policies), {0, marker} when the client_msg_id is known
# (pending, or the message id of its first ack), {-1} when the user is not a participant,
# {-2, ms, by} when they are muted (in the room or everywhere) for ms more (by: "stream" for
# the moderation job's automatic mutes, else the moderator's id), {-3} when they are banned
# from the platform.
_SEND_GATE = """
if redis.call('EXISTS', KEYS[6]) == 1 then return {-3} end
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 0 then return {-1} end
local muted = math.max(redis.call('PTTL', KEYS[4]), redis.call('PTTL', KEYS[5]))
if muted > 0 then
  return {-2, muted, redis.call('GET', KEYS[5]) or redis.call('GET', KEYS[4])}
end
if redis.call('SET', KEYS[2], 'pending', 'NX', 'EX', ARGV[2]) then
  return {1, redis.call('HGET', KEYS[3], 'moderation')}
end
return {0, redis.call('GET', KEYS[2])}
"""
# Keyed by the client itself, not its id(): an id can be reused by a later client.
_gates: weakref.WeakKeyDictionary[Redis, AsyncScript] = weakref.WeakKeyDictionary()


def _gate(res: Resources) -> AsyncScript:
    """The registered script (EVALSHA, loaded once) for this Redis client."""
    gate = _gates.get(res.redis)
    if gate is None:
        gate = _gates[res.redis] = res.redis.register_script(_SEND_GATE)
    return gate


def admit(res: Resources, sender_id: int, body: str) -> None:
    """The checks a send passes the moment it arrives, before it waits for anything: a body,
    and the sender's rate (the process's own token bucket). A gateway that queues sends admits
    each on arrival, so that a wait on Kafka is never counted against the client's rate."""
    if not body.strip():
        raise Invalid("body: a message cannot be empty")
    res.sends.take(sender_id)


async def send(res: Resources, sender_id: int, room_id: int, client_msg_id: str, body: str) -> int:
    """Hand one message, ``admit``ted on its arrival, to Kafka; returns its message id once
    Kafka holds it durably.

    One Redis round trip before the produce (membership, the marker and the room's moderation
    policy, a Lua script), then the word filter (domain.moderation.policy); the marker's final
    value is written after the ack, off the sender's path.
    """
    started = time.perf_counter()
    key = wire.chat_ack_key(room_id, sender_id, client_msg_id)
    verdict = await _gate(res)(
        keys=[
            wire.room_participants_key(room_id),
            key,
            wire.room_state_key(room_id),
            wire.mute_key(sender_id, room_id),
            wire.mute_key(sender_id),
            wire.ban_key(sender_id),
        ],
        args=[sender_id, PENDING_TTL_S],
    )
    if int(verdict[0]) == -3:
        raise DomainError("a moderator banned you from studyhub", code="banned")
    if int(verdict[0]) == -1:
        raise not_participant(room_id, to="send to it")
    if int(verdict[0]) == -2:
        seconds = -(-int(verdict[1]) // 1000)
        by = verdict[2].decode() if isinstance(verdict[2], bytes) else verdict[2]
        why = "for sending too much, too fast" if by == "stream" else "by a moderator"
        raise DomainError(
            f"you are muted {why} for {seconds} s more; messages sent meanwhile are not delivered",
            code="muted",
        )
    if int(verdict[0]) == 0:
        existing = verdict[1]
        if existing is not None and existing not in ("pending", b"pending"):
            return int(existing)
        # Still pending: either the first send is on its way, or its ack was lost (the
        # gateway or Redis died between the produce and the ack) and the marker outlived it.
        # If the message is stored, it was sent: ack it from the store, now.
        stored = await stored_message_id(res, room_id, sender_id, client_msg_id)
        if stored is not None:
            res.acks.remember(key, stored)
            return stored
        raise InFlight("this client_msg_id is being sent; wait for its ack")
    policy = moderation.policy_of(verdict[1])
    hits = moderation.screen(res.word_filter, policy, body)
    if hits and policy == "block":
        await res.redis.delete(key)  # nothing was sent: the id is free for an edited message
        await _record_block(res, sender_id, room_id, body, hits)
        raise moderation.MessageBlocked(hits)
    message_id = res.ids.next_id()
    # The room's topic, for the metrics per topic: this process's memory after its first
    # look at the room (a topic never changes), one Redis read before that.
    topic = await room_topic(res, room_id)
    event = ChatMessageSent(
        room_id=room_id,
        message_id=message_id,
        sender_id=sender_id,
        client_msg_id=client_msg_id,
        body=body,
        masked_body=res.word_filter.mask(body, hits) if hits and policy == "mask" else None,
        topic=topic,
    )
    try:
        await res.publisher.publish_and_wait(event)
    except Exception as error:
        await res.redis.delete(key)
        raise Unavailable("the message was not sent; send it again") from error
    res.acks.remember(key, message_id)
    res.timings.observe(timings.SEND, (time.perf_counter() - started) * 1000)
    if hits:
        res.publisher.publish(
            moderation.flagged(
                policy, hits, user_id=sender_id, room_id=room_id, message_id=message_id, body=body
            )
        )
    return message_id


async def _record_block(
    res: Resources, sender_id: int, room_id: int, body: str, hits: list[Hit]
) -> None:
    """The blocked message's only copy, on moderation-events for review. Waited for (a block
    is rare), but a Kafka that is away does not turn the block into an ``unavailable``."""
    event = moderation.flagged(
        "block", hits, user_id=sender_id, room_id=room_id, message_id=None, body=body
    )
    try:
        await res.publisher.publish_and_wait(event)
    except Exception:
        log.warning(
            "could not record a blocked message of user %s in room %s",
            sender_id,
            room_id,
            exc_info=True,
        )


# History, recovery and the lost-ack lookup are one statement each through the driver
# (AsyncShardRouter.fetch): range scans of the primary key (room_id, seq), and one seek of
# uq_chat_messages_client.
_STORED_ID_SQL = (
    "SELECT message_id FROM chat_messages"
    " WHERE room_id = %s AND sender_id = %s AND client_msg_id = %s"
)
_AFTER_SQL = (
    "SELECT seq, message_id, sender_id, body, masked_body, created_at, client_msg_id"
    " FROM chat_messages"
    " WHERE room_id = %s AND seq > %s AND status = 'visible' ORDER BY seq LIMIT %s"
)
_NEWEST_SQL = (
    "SELECT seq, message_id, sender_id, body, masked_body, created_at, client_msg_id"
    " FROM chat_messages"
    " WHERE room_id = %s AND status = 'visible' ORDER BY seq DESC LIMIT %s"
)
_BEFORE_SQL = (
    "SELECT seq, message_id, sender_id, body, masked_body, created_at, client_msg_id"
    " FROM chat_messages"
    " WHERE room_id = %s AND seq < %s AND status = 'visible' ORDER BY seq DESC LIMIT %s"
)


def _frames(room_id: int, rows: list[tuple[Any, ...]], viewer: int | None) -> list[Message]:
    """Stored rows as frames for ``viewer``: a masked message's author reads what they wrote,
    everyone else the masked body. Typed columns: the frames need no validation pass."""
    return [
        Message.model_construct(
            room_id=room_id,
            seq=seq,
            message_id=message_id,
            user_id=sender_id,
            body=body if masked_body is None or sender_id == viewer else masked_body,
            created_at=wire_time(created_at),
            client_msg_id=client_msg_id,
            masked=masked_body is not None,
        )
        for seq, message_id, sender_id, body, masked_body, created_at, client_msg_id in rows
    ]


async def stored_message_id(
    res: Resources, room_id: int, sender_id: int, client_msg_id: str
) -> int | None:
    """The message id stored for this send, if the persistence job has stored it: one seek of
    ``uq_chat_messages_client`` (room_id, sender_id, client_msg_id)."""
    rows = await res.db.fetch(
        res.db.shard_for_room(room_id), _STORED_ID_SQL, (room_id, sender_id, client_msg_id)
    )
    return int(rows[0][0]) if rows else None


async def messages_after(
    res: Resources, room_id: int, after_seq: int, *, limit: int, viewer: int | None = None
) -> list[Message]:
    """Up to ``limit`` messages after ``after_seq``, as ``viewer`` sees them (see _frames)."""
    rows = await res.db.fetch(
        res.db.shard_for_room(room_id), _AFTER_SQL, (room_id, after_seq, limit)
    )
    return _frames(room_id, rows, viewer)


async def messages_before(
    res: Resources, room_id: int, before_seq: int | None, *, limit: int, viewer: int | None = None
) -> list[Message]:
    """Up to ``limit`` messages before ``before_seq`` (newest page if None), oldest first, as
    ``viewer`` sees them."""
    shard = res.db.shard_for_room(room_id)
    if before_seq is None:
        rows = await res.db.fetch(shard, _NEWEST_SQL, (room_id, limit))
    else:
        rows = await res.db.fetch(shard, _BEFORE_SQL, (room_id, before_seq, limit))
    rows.reverse()
    return _frames(room_id, rows, viewer)


async def history(
    res: Resources, user_id: int, room_id: int, before_seq: int | None, *, limit: int
) -> tuple[list[Message], bool]:
    """A participant's page of history and whether older messages exist."""
    await require_participant(res, room_id, user_id, to="read its messages")
    page = await messages_before(res, room_id, before_seq, limit=limit, viewer=user_id)
    return page, bool(page) and page[0].seq > 1


async def last_seq(res: Resources, room_id: int) -> int:
    """The room's last stored seq: Redis (the job sets it), else MySQL, cached with SET NX.

    NX keeps the cache right: the job sets the key after its commit, so a value read from
    MySQL is only written where the job has not written a newer one.
    """
    key = wire.room_last_seq_key(room_id)
    cached = await res.redis.get(key)
    if cached is not None:
        return int(cached)
    page = await messages_before(res, room_id, None, limit=1)
    seq = page[-1].seq if page else 0
    await res.redis.set(key, seq, nx=True)
    return seq


async def typing(res: Resources, user_id: int, room_id: int) -> None:
    """Tell the room (every gateway) that the user is typing; clients expire it (~5 s)."""
    await require_participant(res, room_id, user_id, to="type in it")
    frame = TypingStarted(room_id=room_id, user_id=user_id)
    await res.redis.publish(wire.room_channel(room_id), frame.to_json())
