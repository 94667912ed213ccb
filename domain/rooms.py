"""Study rooms: MySQL is the record, Redis the live state (domain.room_state), events after.

Join and leave are atomic and idempotent in Redis (capacity is checked and taken in one Lua
script), then recorded in MySQL; if the record cannot be written the seat is given back.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.mysql import insert

from core import wire
from core.db.models import RoomInvite, RoomParticipant, StudyRoom, User, UserBlock
from core.db.sharding import DIRECTORY_SHARD
from core.events import RoomClosed, RoomCreated, RoomJoined, RoomLeft, RoomTimerChanged
from core.frames import RoomChanged
from domain.errors import Conflict, Forbidden, NotFound, Unavailable
from domain.moderation.policy import Policy, policy_of
from domain.monitoring import timings
from domain.resources import Resources
from domain.room_state import JoinOutcome, LeaveOutcome, RoomState, next_timer
from domain.schemas.rooms import ParticipantOut, RoomCreateIn, RoomOut, TimerIn, TimerOut


def _state_of(room: StudyRoom) -> RoomState:
    return RoomState(
        id=room.id,
        name=room.name,
        topic=room.topic,
        capacity=room.capacity,
        visibility="private" if room.visibility == "private" else "public",
        owner_id=room.owner_id,
        status="closed" if room.status == "closed" else "open",
        created_at_us=int(room.created_at.replace(tzinfo=UTC).timestamp() * 1_000_000),
        moderation=policy_of(room.moderation),
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


async def _live_state(res: Resources, room_id: int) -> RoomState:
    """The state Redis holds right after a write of ours; 404 if the room vanished meanwhile."""
    state = await res.rooms.state(room_id)
    if state is None:
        raise NotFound(f"room {room_id} does not exist")
    return state


async def ensure_cached(res: Resources, room_id: int) -> RoomState:
    """The room's live state, loaded from MySQL into Redis if Redis does not have it."""
    state = await res.rooms.state(room_id)
    if state is not None:
        return state
    async with res.db.for_room(room_id)() as session:
        room = await session.get(StudyRoom, room_id)
        if room is None:
            raise NotFound(f"room {room_id} does not exist")
        participants = list(
            (
                await session.scalars(
                    select(RoomParticipant.user_id).where(RoomParticipant.room_id == room_id)
                )
            ).all()
        )
    if await res.rooms.load(_state_of(room), participants if room.status == "open" else []):
        await res.rooms.ban(room_id, await _banned(res, room_id))
    return await _live_state(res, room_id)


async def _banned(res: Resources, room_id: int) -> list[int]:
    rows = await res.db.fetch(
        res.db.shard_for_room(room_id),
        "SELECT user_id FROM room_bans WHERE room_id = %s",
        (room_id,),
    )
    return [int(row[0]) for row in rows]


async def ban_from_room(
    res: Resources, room_id: int, user_id: int, *, banned_by: int, reason: str
) -> None:
    """A moderator's ban: recorded, then the live set, then the user leaves the room."""
    await res.db.execute(
        res.db.shard_for_room(room_id),
        "INSERT IGNORE INTO room_bans (room_id, user_id, banned_by, reason)"
        " VALUES (%s, %s, %s, %s)",
        (room_id, user_id, banned_by, reason[:255]),
    )
    await res.rooms.ban(room_id, [user_id])
    await leave_room(res, room_id, user_id)


async def _is_invited(res: Resources, room_id: int, user_id: int) -> bool:
    async with res.db.for_room(room_id)() as session:
        return await session.get(RoomInvite, (room_id, user_id)) is not None


async def _blocked_by(res: Resources, blocker_id: int, user_id: int) -> bool:
    async with res.db.directory()() as session:
        return await session.get(UserBlock, (blocker_id, user_id)) is not None


async def _can_see(res: Resources, state: RoomState, user_id: int) -> bool:
    if state.visibility == "public" or state.owner_id == user_id:
        return True
    if await res.rooms.is_participant(state.id, user_id):
        return True
    return await _is_invited(res, state.id, user_id) and not await _blocked_by(
        res, state.owner_id, user_id
    )


# -- access: every check of who may do what to a room is one of these ---------------------


async def access_room(res: Resources, room_id: int, user_id: int) -> RoomState:
    """The state of a room the user may see; a private room is 404 to everyone else."""
    state = await ensure_cached(res, room_id)
    if not await _can_see(res, state, user_id):
        raise NotFound(f"room {room_id} does not exist")
    return state


async def access_room_as_owner(res: Resources, room_id: int, user_id: int, *, to: str) -> RoomState:
    state = await access_room(res, room_id, user_id)
    if state.owner_id != user_id:
        raise Forbidden(f"only the owner can {to}", code="not_owner")
    return state


async def require_participant(res: Resources, room_id: int, user_id: int, *, to: str) -> None:
    """The room's chat and timer are for its participants (one Redis SISMEMBER)."""
    if not await res.rooms.is_participant(room_id, user_id):
        raise not_participant(room_id, to=to)


def not_participant(room_id: int, *, to: str) -> Forbidden:
    return Forbidden(
        f"join room {room_id} (POST /rooms/{room_id}/join) to {to}", code="not_participant"
    )


# -- reads and writes ---------------------------------------------------------------------


def room_out(state: RoomState, participant_count: int) -> RoomOut:
    timer = state.timer_at()
    return RoomOut(
        id=state.id,
        name=state.name,
        topic=state.topic,
        capacity=state.capacity,
        visibility=state.visibility,
        owner_id=state.owner_id,
        status=state.status,
        moderation=state.moderation,
        participant_count=participant_count,
        created_at=datetime.fromtimestamp(state.created_at_us / 1e6, UTC),
        timer=TimerOut(
            phase=timer.phase,
            status=timer.status,
            ends_at=datetime.fromtimestamp(timer.ends_at_ms / 1000, UTC)
            if timer.ends_at_ms is not None and timer.status == "running"
            else None,
            remaining_seconds=None if timer.remaining_ms is None else timer.remaining_ms // 1000,
        ),
    )


async def get_room(res: Resources, room_id: int, user_id: int) -> RoomOut:
    state = await access_room(res, room_id, user_id)
    return room_out(state, await res.rooms.participant_count(room_id))


async def participants(
    res: Resources, room_id: int, user_id: int, *, after: int, limit: int
) -> list[ParticipantOut]:
    """Up to ``limit`` participants with ids above ``after``, ascending."""
    await access_room(res, room_id, user_id)
    members = [m for m in await res.rooms.participants(room_id) if m > after][:limit]
    return [ParticipantOut(user_id=m) for m in members]


async def broadcast_room(
    res: Resources, event: Literal["joined", "left", "timer"], user_id: int, room: RoomOut
) -> RoomOut:
    """Tell the room's subscribers (all gateways) about joins, leaves and the timer."""
    frame = RoomChanged(
        room_id=room.id, event=event, user_id=user_id, room=room.model_dump(mode="json")
    )
    await res.redis.publish(wire.room_channel(room.id), frame.to_json())
    return room


async def create_room(res: Resources, owner_id: int, data: RoomCreateIn) -> RoomOut:
    room = StudyRoom(
        id=res.ids.next_id(),
        owner_id=owner_id,
        name=data.name,
        topic=data.topic,
        capacity=data.capacity,
        visibility=data.visibility,
        status="open",
        moderation=data.moderation,
        created_at=datetime.now(UTC).replace(tzinfo=None),
    )
    async with res.db.for_room(room.id).begin() as session:
        session.add(room)
        session.add(RoomParticipant(room_id=room.id, user_id=owner_id, role="owner"))
    await res.rooms.load(_state_of(room), [owner_id])
    res.publisher.publish(
        RoomCreated(
            room_id=room.id,
            user_id=owner_id,
            name=room.name,
            topic=room.topic,
            capacity=room.capacity,
            visibility=data.visibility,
        )
    )
    res.publisher.publish(
        RoomJoined(room_id=room.id, user_id=owner_id, participant_count=1, topic=room.topic)
    )
    return room_out(await _live_state(res, room.id), 1)


async def set_moderation(res: Resources, room_id: int, user_id: int, policy: Policy) -> RoomOut:
    """The owner changes what the word filter does to the room's messages: MySQL, then the
    live state, so the next send meets the new policy. A change is kept in the moderation
    audit log (kind ``policy_changed``): the dashboards mark it on their charts."""
    await access_room_as_owner(res, room_id, user_id, to="change the room's moderation")
    async with res.db.for_room(room_id).begin() as session:
        before = await session.scalar(
            select(StudyRoom.moderation).where(StudyRoom.id == room_id).with_for_update()
        )
        await session.execute(
            update(StudyRoom).where(StudyRoom.id == room_id).values(moderation=policy)
        )
    await res.rooms.set_moderation(room_id, policy)
    if before != policy:
        await res.db.execute(
            DIRECTORY_SHARD,
            "INSERT INTO moderation_events (id, kind, user_id, room_id, actor_id, reason, details)"
            " VALUES (%s, 'policy_changed', %s, %s, %s, %s, %s)",
            (
                res.ids.next_id(),
                user_id,
                room_id,
                user_id,
                f"the room's word-filter policy: {policy_of(before)} -> {policy}",
                json.dumps({"from": policy_of(before), "to": policy}),
            ),
        )
    state = await ensure_cached(res, room_id)
    return room_out(state, await res.rooms.participant_count(room_id))


async def room_topic(res: Resources, room_id: int) -> str:
    """The room's topic (its index key), from the process's memory or the live state."""
    topic = res.rooms.topic_of(room_id)
    if topic is None:
        topic = (await ensure_cached(res, room_id)).topic
    return topic


_ADD_PARTICIPANT = (
    "INSERT IGNORE INTO room_participants (room_id, user_id, role) VALUES (%s, %s, 'member')"
)
# MariaDB's DELETE ... RETURNING: the seat's joined_at comes back with its removal, one round
# trip, for the session's length.
_REMOVE_PARTICIPANT = (
    "DELETE FROM room_participants WHERE room_id = %s AND user_id = %s RETURNING joined_at"
)


def _seconds_since(joined_at: datetime | None) -> int | None:
    """Whole seconds from a seat's joined_at (naive UTC, as MySQL keeps it) to now."""
    if joined_at is None:
        return None
    return max(0, int((datetime.now(UTC).replace(tzinfo=None) - joined_at).total_seconds()))


async def join_room(
    res: Resources, room_id: int, user_id: int, *, invited: bool = False
) -> RoomOut:
    """Join (idempotent): one Redis script (capacity checked and the seat taken atomically, the
    room's state read in the same call), one MySQL statement, then the announcements. Its
    time, refused or not, goes to the monitor's join latency (domain.monitoring.timings)."""
    started = time.perf_counter()
    try:
        return await _join_room(res, room_id, user_id, invited=invited)
    finally:
        res.timings.observe(timings.JOIN, (time.perf_counter() - started) * 1000)


async def _join_room(res: Resources, room_id: int, user_id: int, *, invited: bool) -> RoomOut:
    topic = await room_topic(res, room_id)
    outcome, count, state = await res.rooms.join(room_id, topic, user_id, invited=invited)
    if outcome is JoinOutcome.NOT_CACHED or state is None:  # evicted: load it, try again
        await ensure_cached(res, room_id)
        return await _join_room(res, room_id, user_id, invited=invited)
    if outcome is JoinOutcome.PRIVATE:
        if not await _is_invited(res, room_id, user_id):
            raise NotFound(f"room {room_id} does not exist")
        if await _blocked_by(res, state.owner_id, user_id):
            raise Forbidden("the owner of this private room has blocked you", code="blocked")
        return await _join_room(res, room_id, user_id, invited=True)
    if outcome is JoinOutcome.BANNED:
        raise Forbidden(f"a moderator banned you from room {room_id}", code="banned_from_room")
    if outcome is JoinOutcome.FULL:
        raise Conflict(f"room {room_id} is full ({count}/{state.capacity})", code="room_full")
    if outcome is JoinOutcome.CLOSED:
        raise Conflict(f"room {room_id} is closed", code="room_closed")
    room = room_out(state, count)
    if outcome is JoinOutcome.JOINED:
        try:
            await res.db.execute(
                res.db.shard_for_room(room_id), _ADD_PARTICIPANT, (room_id, user_id)
            )
        except Exception as error:
            await res.rooms.leave(room_id, state.topic, user_id)  # give the seat back
            raise Unavailable("could not record the join; try again") from error
        res.publisher.publish(
            RoomJoined(
                room_id=room_id,
                user_id=user_id,
                participant_count=count,
                room_focus_ms=state.focus_clock(_now_ms()),
                topic=state.topic,
            )
        )
        return await broadcast_room(res, "joined", user_id, room)
    return room


async def leave_room(res: Resources, room_id: int, user_id: int) -> RoomOut:
    """Leave (idempotent): one Redis script, one MySQL statement, then the announcements. A
    private room stays a 404 to whoever may not see it."""
    topic = await room_topic(res, room_id)
    outcome, count, state = await res.rooms.leave(room_id, topic, user_id)
    if outcome is LeaveOutcome.NOT_CACHED or state is None:
        await ensure_cached(res, room_id)
        return await leave_room(res, room_id, user_id)
    if outcome is LeaveOutcome.PRIVATE and not (
        await _is_invited(res, room_id, user_id)
        and not await _blocked_by(res, state.owner_id, user_id)
    ):
        raise NotFound(f"room {room_id} does not exist")
    room = room_out(state, count)
    if outcome is LeaveOutcome.LEFT:
        seat = await res.db.fetch(
            res.db.shard_for_room(room_id), _REMOVE_PARTICIPANT, (room_id, user_id)
        )
        res.publisher.publish(
            RoomLeft(
                room_id=room_id,
                user_id=user_id,
                participant_count=count,
                room_focus_ms=state.focus_clock(_now_ms()),
                topic=state.topic,
                session_s=_seconds_since(seat[0][0]) if seat else None,
            )
        )
        return await broadcast_room(res, "left", user_id, room)
    return room


async def close_room(res: Resources, room_id: int, user_id: int) -> None:
    state = await access_room_as_owner(res, room_id, user_id, to="close a room")
    if state.status == "closed":
        return
    present = await res.rooms.participants(room_id)
    async with res.db.for_room(room_id).begin() as session:
        await session.execute(
            update(StudyRoom)
            .where(StudyRoom.id == room_id)
            .values(status="closed", closed_at=datetime.now(UTC).replace(tzinfo=None))
        )
        rows = await session.execute(
            select(RoomParticipant.user_id, RoomParticipant.joined_at).where(
                RoomParticipant.room_id == room_id
            )
        )
        seats = {int(member): joined for member, joined in rows.all()}
        await session.execute(delete(RoomParticipant).where(RoomParticipant.room_id == room_id))
    await res.rooms.close(room_id, state.topic)
    # Closing a room ends everyone's session in it: a leave each, for the focus stats.
    focus = state.focus_clock(_now_ms())
    for left, member in enumerate(present, start=1):
        res.publisher.publish(
            RoomLeft(
                room_id=room_id,
                user_id=member,
                participant_count=len(present) - left,
                room_focus_ms=focus,
                topic=state.topic,
                session_s=_seconds_since(seats.get(member)),
            )
        )
    res.publisher.publish(RoomClosed(room_id=room_id, user_id=user_id))


async def invite(res: Resources, room_id: int, owner_id: int, invitee_id: int) -> None:
    await access_room_as_owner(res, room_id, owner_id, to="invite to a room")
    async with res.db.directory()() as session:
        if await session.get(User, invitee_id) is None:
            raise NotFound(f"user {invitee_id} does not exist")
    async with res.db.for_room(room_id).begin() as session:
        await session.execute(
            insert(RoomInvite)
            .values(room_id=room_id, user_id=invitee_id, invited_by=owner_id)
            .prefix_with("IGNORE")
        )


async def change_timer(res: Resources, room_id: int, user_id: int, data: TimerIn) -> RoomOut:
    state = await access_room(res, room_id, user_id)
    if state.status != "open":
        raise Conflict(f"room {room_id} is closed", code="room_closed")
    await require_participant(res, room_id, user_id, to="control its timer")
    now_ms = int(time.time() * 1000)
    timer = next_timer(
        state.timer_at(now_ms),
        data.action,
        phase=data.phase,
        focus_minutes=data.focus_minutes,
        break_minutes=data.break_minutes,
        now_ms=now_ms,
    )
    await res.rooms.set_timer(room_id, timer, state.focus_clock(now_ms))
    res.publisher.publish(
        RoomTimerChanged(
            room_id=room_id,
            user_id=user_id,
            action=data.action,
            phase=timer.phase,
            ends_at=datetime.fromtimestamp(timer.ends_at_ms / 1000, UTC)
            if timer.ends_at_ms is not None and timer.status == "running"
            else None,
        )
    )
    count = await res.rooms.participant_count(room_id)
    return await broadcast_room(
        res, "timer", user_id, room_out(await _live_state(res, room_id), count)
    )


async def list_active(
    res: Resources, *, topic: str | None, offset: int, limit: int
) -> tuple[list[RoomOut], int | None]:
    """Open public rooms, most participants first; returns the page and the next offset."""
    found: list[RoomOut] = []
    position = offset
    while len(found) < limit:
        batch = await res.rooms.active(topic=topic, offset=position, limit=limit * 2)
        if not batch:
            return found, None
        for room_id, count in batch:
            position += 1
            state = await res.rooms.state(room_id)
            if state is not None and state.visibility == "public" and state.status == "open":
                found.append(room_out(state, count))
                if len(found) == limit:
                    break
    return found, position
