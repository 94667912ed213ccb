"""Live room state in Redis: the seed's keys (core.wire), with atomic, idempotent join and leave.

- ``wire.room_state_key``        hash: name, topic, capacity, visibility, owner_id, status, timer,
                                  moderation, focus_ms (the focus clock)
- ``wire.room_participants_key`` set of user ids
- ``wire.active_rooms_key()``    sorted set of open rooms, scored by participant count
- ``wire.active_rooms_key(t)``   the same, per topic (the listing's topic filter)

``RoomStateStore.state`` returns a typed ``RoomState``; the hash's strings stop here.

MySQL stays the record. A room missing from Redis (a restart without its AOF, or a room that
was never loaded) is loaded from MySQL by a script that only fills an absent state, so it can
never overwrite newer live state.

Capacity holds under any concurrency because the check and the add run in one Lua script.
Redis Cluster note: the per-room keys share the ``room:{id}`` hash tag; the two global indexes
would move out of the scripts (updated right after) when rooms are spread over a cluster.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import IntEnum
from typing import Literal, cast, get_args

import redis.asyncio as aioredis

from core import wire
from domain.moderation.policy import DEFAULT_POLICY, Policy, policy_of

# Join and leave answer with the room's state hash as well (HGETALL, flat), so that a join or
# a leave is this one script: no read of the state before it, none after. A private room
# answers PRIVATE, without joining, to anyone but its owner until the caller has checked the
# invitation in MySQL (ARGV[3] = '1'), before anything else: a stranger must not learn even
# that it is closed.
_JOIN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, {}} end
local raw = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
if h['visibility'] == 'private' and h['owner_id'] ~= ARGV[1] and ARGV[3] ~= '1' then
  return {-4, 0, raw}
end
if h['status'] ~= 'open' then return {-2, 0, raw} end
if redis.call('SISMEMBER', KEYS[5], ARGV[1]) == 1 then return {-5, 0, raw} end
local n = redis.call('SCARD', KEYS[2])
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return {0, n, raw} end
if n >= tonumber(h['capacity']) then return {-3, n, raw} end
redis.call('SADD', KEYS[2], ARGV[1])
n = n + 1
redis.call('ZADD', KEYS[3], n, ARGV[2])
redis.call('ZADD', KEYS[4], n, ARGV[2])
return {1, n, raw}
"""

# A private room's stranger (not owner, not participant) is told PRIVATE, as for a join.
_LEAVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1, 0, {}} end
local raw = redis.call('HGETALL', KEYS[1])
local h = {}
for i = 1, #raw, 2 do h[raw[i]] = raw[i + 1] end
if redis.call('SREM', KEYS[2], ARGV[1]) == 0 then
  local n = redis.call('SCARD', KEYS[2])
  if h['visibility'] == 'private' and h['owner_id'] ~= ARGV[1] then return {-4, n, raw} end
  return {0, n, raw}
end
local n = redis.call('SCARD', KEYS[2])
if h['status'] == 'open' then
  redis.call('ZADD', KEYS[3], n, ARGV[2])
  redis.call('ZADD', KEYS[4], n, ARGV[2])
end
return {1, n, raw}
"""

# Fill an absent room from the record: ARGV = room_id, #fields*2 of state, then participants.
_LOAD = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local nfields = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 3, 2 + nfields * 2))
local first = 3 + nfields * 2
if #ARGV >= first then redis.call('SADD', KEYS[2], unpack(ARGV, first, #ARGV)) end
if redis.call('HGET', KEYS[1], 'status') == 'open' then
  local n = redis.call('SCARD', KEYS[2])
  redis.call('ZADD', KEYS[3], n, ARGV[1])
  redis.call('ZADD', KEYS[4], n, ARGV[1])
end
return 1
"""

_CLOSE = """
redis.call('HSET', KEYS[1], 'status', 'closed')
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
return 1
"""


_SET_IF_PRESENT = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
return 1
"""


class JoinOutcome(IntEnum):
    NOT_CACHED = -1
    CLOSED = -2
    FULL = -3
    PRIVATE = -4  # check the invitation, then join with ``invited=True``
    BANNED = -5
    ALREADY = 0
    JOINED = 1


class LeaveOutcome(IntEnum):
    NOT_CACHED = -1
    PRIVATE = -4  # not a participant of a private room that is not theirs
    NOT_PARTICIPANT = 0
    LEFT = 1


TimerPhase = Literal["focus", "break", "idle"]
TimerStatus = Literal["running", "paused", "idle"]


@dataclass(frozen=True)
class Timer:
    phase: TimerPhase
    status: TimerStatus
    ends_at_ms: int | None  # when running
    remaining_ms: int | None  # when paused or running


Visibility = Literal["public", "private"]
RoomStatus = Literal["open", "closed"]
IDLE = Timer(phase="idle", status="idle", ends_at_ms=None, remaining_ms=None)


@dataclass(frozen=True, slots=True)
class RoomState:
    """One room as Redis holds it: the record's fields plus the shared timer."""

    id: int
    name: str
    topic: str
    capacity: int
    visibility: Visibility
    owner_id: int
    status: RoomStatus
    created_at_us: int
    timer: Timer = IDLE  # as stored; ``timer_at`` gives it at a moment
    moderation: Policy = DEFAULT_POLICY  # the word filter's policy (domain.moderation.policy)
    focus_ms: int = 0  # focus run before the timer's last change (``focus_clock``)

    def fields(self) -> dict[str, str | int]:
        """The hash fields of the record (the timer is written by ``set_timer``)."""
        return {
            "id": self.id,
            "name": self.name,
            "topic": self.topic,
            "capacity": self.capacity,
            "visibility": self.visibility,
            "owner_id": self.owner_id,
            "status": self.status,
            "created_at_us": self.created_at_us,
            "moderation": self.moderation,
        }

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> RoomState:
        visibility = raw["visibility"]
        status = raw["status"]
        if visibility not in get_args(Visibility) or status not in get_args(RoomStatus):
            raise ValueError(f"room {raw.get('id')}: corrupt state {raw!r}")
        return cls(
            id=int(raw["id"]),
            name=raw["name"],
            topic=raw["topic"],
            capacity=int(raw["capacity"]),
            visibility=cast(Visibility, visibility),
            owner_id=int(raw["owner_id"]),
            status=cast(RoomStatus, status),
            created_at_us=int(raw["created_at_us"]),
            timer=_stored_timer(raw),
            moderation=policy_of(raw.get("moderation")),
            focus_ms=int(raw.get("focus_ms") or 0),
        )

    def focus_clock(self, now_ms: int) -> int:
        """The room's focus clock at ``now_ms``: the milliseconds its shared timer has run in a
        focus phase, all told. A session's focus time is the clock at its leave less the clock
        at its join, which is what room events carry (``room_focus_ms``) for the focus stats."""
        return self.focus_ms + focus_run(self.timer, now_ms)

    def timer_at(self, now_ms: int | None = None) -> Timer:
        """The timer as it stands at ``now_ms`` (now): a running clock's remaining time."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        timer = self.timer
        if timer.status == "running" and timer.ends_at_ms is not None:
            return Timer(
                timer.phase, timer.status, timer.ends_at_ms, max(0, timer.ends_at_ms - now_ms)
            )
        return timer


TOPICS_CACHED = 100_000  # room topics remembered per process (about 10 MiB)


class RoomStateStore:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._join = redis.register_script(_JOIN)
        self._leave = redis.register_script(_LEAVE)
        self._load = redis.register_script(_LOAD)
        self._close = redis.register_script(_CLOSE)
        self._topics: dict[int, str] = {}  # room id -> topic (insertion order: oldest first)

    @staticmethod
    def _keys(room_id: int, topic: str) -> list[str]:
        return [
            wire.room_state_key(room_id),
            wire.room_participants_key(room_id),
            wire.active_rooms_key(),
            wire.active_rooms_key(topic),
        ]

    async def load(self, state: RoomState, participants: list[int]) -> bool:
        """Fill an absent room from MySQL; False if Redis already had it (it wins)."""
        record = state.fields()
        fields: list[str | int] = [item for pair in record.items() for item in pair]
        args: list[str | int] = [state.id, len(record), *fields, *participants]
        return bool(await self._load(keys=self._keys(state.id, state.topic), args=args))

    def topic_of(self, room_id: int) -> str | None:
        """The room's topic if this process has seen it: a room's topic never changes, and the
        join and leave scripts need its index key before they run."""
        return self._topics.get(room_id)

    def _remember(self, state: RoomState) -> RoomState:
        if len(self._topics) >= TOPICS_CACHED:
            self._topics.pop(next(iter(self._topics)))
        self._topics[state.id] = state.topic
        return state

    async def join(
        self, room_id: int, topic: str, user_id: int, *, invited: bool = False
    ) -> tuple[JoinOutcome, int, RoomState | None]:
        """Join in one script: the outcome, the participants after it, and the room's state."""
        outcome, count, raw = await self._join(
            keys=[*self._keys(room_id, topic), wire.room_banned_key(room_id)],
            args=[user_id, room_id, int(invited)],
        )
        return JoinOutcome(int(outcome)), int(count), self._state_of(raw)

    async def leave(
        self, room_id: int, topic: str, user_id: int
    ) -> tuple[LeaveOutcome, int, RoomState | None]:
        outcome, count, raw = await self._leave(
            keys=self._keys(room_id, topic), args=[user_id, room_id]
        )
        return LeaveOutcome(int(outcome)), int(count), self._state_of(raw)

    def _state_of(self, flat: list[str]) -> RoomState | None:
        if not flat:
            return None
        return self._remember(RoomState.from_hash(dict(zip(flat[::2], flat[1::2], strict=True))))

    async def close(self, room_id: int, topic: str) -> None:
        await self._close(keys=self._keys(room_id, topic), args=[room_id])

    async def state(self, room_id: int) -> RoomState | None:
        """The room's live state, or None if Redis does not hold it."""
        raw = await self.redis.hgetall(wire.room_state_key(room_id))
        if not raw:
            return None
        return self._remember(RoomState.from_hash({str(k): str(v) for k, v in raw.items()}))

    async def participant_count(self, room_id: int) -> int:
        count: int = await self.redis.scard(wire.room_participants_key(room_id))
        return count

    async def participants(self, room_id: int) -> list[int]:
        members = await self.redis.smembers(wire.room_participants_key(room_id))
        return sorted(int(member) for member in members)

    async def is_participant(self, room_id: int, user_id: int) -> bool:
        return bool(await self.redis.sismember(wire.room_participants_key(room_id), str(user_id)))

    async def active(self, *, topic: str | None, offset: int, limit: int) -> list[tuple[int, int]]:
        """(room_id, participants), most participants first, ties by newest room."""
        key = wire.active_rooms_key(topic or None)
        rows = cast(
            list[tuple[str, float]],
            await self.redis.zrevrange(key, offset, offset + limit - 1, withscores=True),
        )
        return [(int(member), int(score)) for member, score in rows]

    async def ban(self, room_id: int, users: list[int]) -> None:
        """Add to the room's banned set (the join script refuses them)."""
        if users:
            await self.redis.sadd(wire.room_banned_key(room_id), *users)

    async def set_moderation(self, room_id: int, policy: Policy) -> None:
        """Only an existing state is changed: an absent one is loaded from MySQL, which has it."""
        await self.redis.eval(
            _SET_IF_PRESENT, 1, wire.room_state_key(room_id), "moderation", policy
        )

    async def set_timer(self, room_id: int, timer: Timer, focus_ms: int) -> None:
        """The new timer, and the focus clock folded up to this change (``focus_clock``)."""
        await self.redis.hset(
            wire.room_state_key(room_id),
            mapping={
                "focus_ms": focus_ms,
                "timer_phase": timer.phase,
                "timer_status": timer.status,
                "timer_ends_at_ms": "" if timer.ends_at_ms is None else timer.ends_at_ms,
                "timer_remaining_ms": "" if timer.remaining_ms is None else timer.remaining_ms,
            },
        )


def focus_run(timer: Timer, now_ms: int) -> int:
    """How long a timer as stored has run in focus by ``now_ms`` since it was (re)started: a
    running focus phase started at its end less its stored remaining time, and stops at its
    end. Anything else runs no focus."""
    if timer.phase != "focus" or timer.status != "running" or timer.ends_at_ms is None:
        return 0
    started = timer.ends_at_ms - (timer.remaining_ms or 0)
    return max(0, min(now_ms, timer.ends_at_ms) - started)


def _stored_timer(raw: dict[str, str]) -> Timer:
    status = raw.get("timer_status", "idle")
    phase = raw.get("timer_phase", "idle")
    if status not in get_args(TimerStatus) or phase not in get_args(TimerPhase):
        return IDLE
    ends_at = int(raw["timer_ends_at_ms"]) if raw.get("timer_ends_at_ms") else None
    remaining = int(raw["timer_remaining_ms"]) if raw.get("timer_remaining_ms") else None
    return Timer(cast(TimerPhase, phase), cast(TimerStatus, status), ends_at, remaining)


def next_timer(
    current: Timer,
    action: Literal["start", "pause", "reset"],
    *,
    phase: Literal["focus", "break"] | None,
    focus_minutes: int,
    break_minutes: int,
    now_ms: int,
) -> Timer:
    """The shared pomodoro clock: pure, so every rule is unit-tested without Redis."""
    if action == "reset":
        return IDLE
    if action == "pause":
        if current.status != "running" or current.ends_at_ms is None:
            return current
        return Timer(
            phase=current.phase,
            status="paused",
            ends_at_ms=None,
            remaining_ms=max(0, current.ends_at_ms - now_ms),
        )
    # start: resume a paused clock of the same phase, else begin the asked (or next) phase.
    if current.status == "paused" and (phase is None or phase == current.phase):
        remaining = current.remaining_ms or 0
        return Timer(current.phase, "running", now_ms + remaining, remaining)
    running = current.status == "running" and current.ends_at_ms is not None
    if running and phase is None and (current.ends_at_ms or 0) > now_ms:
        return current  # starting a running clock changes nothing
    following: Literal["focus", "break"] = "break" if current.phase == "focus" else "focus"
    chosen = phase if phase is not None else following
    minutes = focus_minutes if chosen == "focus" else break_minutes
    duration = minutes * 60_000
    return Timer(chosen, "running", now_ms + duration, duration)
