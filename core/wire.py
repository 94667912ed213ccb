"""Every Redis key and pub/sub channel the platform uses, named once.

The gateway, the domain layer, presence and the Flink jobs build keys only through these
helpers, so a key's shape can change in one place and ``git grep`` finds every use of it.

Redis Cluster: the per-room keys carry the ``{id}`` hash tag, so one room's keys live on one
slot and a Lua script may touch them together. Pub/sub channels need no tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# -- rooms -----------------------------------------------------------------------------------

ACTIVE_ROOMS = "rooms:active"  # sorted set of open rooms, scored by participant count


def room_state_key(room_id: int) -> str:
    """Hash: name, topic, capacity, visibility, owner_id, status, created_at_us, timer_*."""
    return f"room:{{{room_id}}}:state"


def room_participants_key(room_id: int) -> str:
    """Set of the user ids in the room."""
    return f"room:{{{room_id}}}:participants"


def active_rooms_key(topic: str | None = None) -> str:
    """The active-rooms index, overall or for one topic."""
    return ACTIVE_ROOMS if topic is None else f"{ACTIVE_ROOMS}:topic:{topic}"


def room_last_seq_key(room_id: int) -> str:
    """The room's newest stored seq, written by the persistence job after each store."""
    return f"room:{{{room_id}}}:last_seq"


# -- chat ------------------------------------------------------------------------------------


def chat_ack_key(room_id: int, sender_id: int, client_msg_id: str) -> str:
    """A send's idempotency marker: ``pending`` while in flight, then its message id."""
    return f"chat:ack:{room_id}:{sender_id}:{client_msg_id}"


# -- presence --------------------------------------------------------------------------------


def presence_key(user_id: int) -> str:
    return f"user:{user_id}:presence"


def sockets_key(user_id: int) -> str:
    """How many sockets of the user are open, over every gateway."""
    return f"user:{user_id}:sockets"


def friends_of_friends_key(user_id: int) -> str:
    """The user's friends-of-friends suggestions, one hash field per page size (domain.social)."""
    return f"user:{user_id}:fof"


# -- ids and limits --------------------------------------------------------------------------


def id_lease_key(generator_id: int) -> str:
    """Who holds a Snowflake generator id (core.ids)."""
    return f"idgen:lease:{generator_id}"


def monitor_heartbeat_key() -> str:
    """When the monitor (server/monitor.py) last finished a round; expires after three."""
    return "monitor:heartbeat"


def health_key(second: int) -> str:
    """The chat path's own timings and counts flushed during one second (domain.monitoring
    .timings): a hash of histogram buckets and counters, summed over every process."""
    return f"health:{second}"


def leaderboard_key(scope: str, start: str, end: str, user_id: int) -> str:
    """A cached focus leaderboard (domain.focus): the global one per period, a user's friends'
    one per period and user."""
    who = "all" if scope == "global" else str(user_id)
    return f"leaderboard:{scope}:{start}:{end}:{who}"


def rate_limit_key(namespace: str, scope: str, subject: str, window: int) -> str:
    """One fixed rate-limit window of one subject."""
    return f"{namespace}:{scope}:{subject}:{window}"


# -- pub/sub channels ------------------------------------------------------------------------

ChannelKind = Literal["room", "user"]


@dataclass(frozen=True, slots=True)
class Channel:
    """A fan-out channel: a room's (messages, typing, room changes, presence in the room) or a
    user's own (presence of friends)."""

    kind: ChannelKind
    id: int

    @property
    def name(self) -> str:
        suffix = "messages" if self.kind == "room" else "events"
        return f"{self.kind}:{self.id}:{suffix}"

    @classmethod
    def parse(cls, name: str) -> Channel:
        """The channel a pub/sub message arrived on; ValueError for a name we never make."""
        kind, ident, suffix = name.split(":")
        if (kind, suffix) not in (("room", "messages"), ("user", "events")):
            raise ValueError(f"not a studyhub channel: {name!r}")
        return cls("room" if kind == "room" else "user", int(ident))


def room_banned_key(room_id: int) -> str:
    """Set of the users banned from the room: the join script refuses them."""
    return f"room:{{{room_id}}}:banned"


def ban_key(user_id: int) -> str:
    """A platform ban: the send gate refuses every send (no TTL; lifted by a moderator)."""
    return f"ban:{user_id}"


def mute_key(user_id: int, room_id: int | None = None) -> str:
    """A timed mute (its TTL is what is left): in one room, or everywhere without a room.
    The gateway's send gate reads both (domain.chat). In a Redis Cluster the global key would
    move out of the room's script: it does not share the room's hash tag."""
    if room_id is None:
        return f"mute:{user_id}"
    return f"room:{{{room_id}}}:mute:{user_id}"


def room_channel(room_id: int) -> str:
    return Channel("room", room_id).name


def user_channel(user_id: int) -> str:
    return Channel("user", user_id).name
