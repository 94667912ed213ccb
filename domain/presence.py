"""Presence: ``wire.presence_key`` with a 300 s TTL, refreshed by heartbeats.

A user is online while at least one socket of theirs is open anywhere: every gateway counts
sockets in ``wire.sockets_key`` (INCR on open, DECR on close, the same TTL as presence, so a
crashed gateway's count ages out with the presence it kept alive). The transitions 0 -> 1 and
1 -> 0 are announced as ``{"type":"presence","user_id","status"}`` to the user's friends (on
their ``wire.user_channel``) and to the rooms the user is in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

import redis.asyncio as aioredis
from sqlalchemy import select

from core import wire
from core.db.models import Friendship, RoomParticipant
from core.db.sharding import AsyncShardRouter
from core.frames import PresenceChanged
from core.wire import presence_key, sockets_key

DEFAULT_TTL_S = 300
MAX_FRIENDS_NOTIFIED = 5000

Status = Literal["online", "offline"]


async def statuses(redis: aioredis.Redis, user_ids: Iterable[int]) -> dict[int, Status]:
    ids = list(user_ids)
    if not ids:
        return {}
    values = await redis.mget([presence_key(u) for u in ids])
    return {u: ("online" if v else "offline") for u, v in zip(ids, values, strict=True)}


async def refresh(redis: aioredis.Redis, user_id: int, ttl_s: int = DEFAULT_TTL_S) -> None:
    async with redis.pipeline(transaction=False) as pipe:
        pipe.set(presence_key(user_id), "online", ex=ttl_s)
        pipe.expire(sockets_key(user_id), ttl_s)
        await pipe.execute()


async def socket_opened(redis: aioredis.Redis, user_id: int, ttl_s: int = DEFAULT_TTL_S) -> bool:
    """Count a socket; True if the user just came online."""
    async with redis.pipeline(transaction=True) as pipe:
        pipe.incr(sockets_key(user_id))
        pipe.expire(sockets_key(user_id), ttl_s)
        pipe.set(presence_key(user_id), "online", ex=ttl_s)
        count, _, _ = await pipe.execute()
    return int(count) == 1


async def socket_closed(redis: aioredis.Redis, user_id: int) -> bool:
    """Uncount a socket; True if it was the user's last one (they went offline)."""
    count = int(await redis.decr(sockets_key(user_id)))
    if count > 0:
        return False
    async with redis.pipeline(transaction=True) as pipe:
        pipe.delete(sockets_key(user_id))
        pipe.delete(presence_key(user_id))
        await pipe.execute()
    return True


async def announce(
    redis: aioredis.Redis, db: AsyncShardRouter, user_id: int, status: Status
) -> int:
    """Tell friends and co-participants; returns how many channels were told."""
    return await announce_many(redis, db, {user_id: status})


async def announce_many(
    redis: aioredis.Redis, db: AsyncShardRouter, changes: dict[int, Status]
) -> int:
    """Announce many users' changes at once: one query per database, one Redis pipeline.

    A reconnect storm is thousands of "online" changes within seconds; announced one by one
    they cost three queries each and starve the handshakes.
    """
    if not changes:
        return 0
    users = list(changes)
    audience: dict[int, list[str]] = {user: [] for user in users}
    async with db.directory()() as session:
        rows = await session.execute(
            select(Friendship.user1_id, Friendship.user2_id).where(Friendship.user1_id.in_(users))
        )
        for user, friend in rows:
            if len(audience[user]) < MAX_FRIENDS_NOTIFIED:
                audience[user].append(wire.user_channel(friend))
    for shard in range(db.shard_count):
        async with db.sessions(shard)() as session:
            rows = await session.execute(
                select(RoomParticipant.user_id, RoomParticipant.room_id).where(
                    RoomParticipant.user_id.in_(users)
                )
            )
            for user, room in rows:
                audience[user].append(wire.room_channel(room))
    told = 0
    async with redis.pipeline(transaction=False) as pipe:
        for user, channels in audience.items():
            frame = PresenceChanged(user_id=user, status=changes[user]).to_json()
            for channel in channels:
                pipe.publish(channel, frame)
            told += len(channels)
        await pipe.execute()
    return told
