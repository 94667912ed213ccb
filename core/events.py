"""The event schemas, shared by the API, the gateway, the Flink jobs and the dashboards.

Every event is a pydantic model with ``extra="forbid"`` and a ``Literal`` ``type``, so a producer
cannot invent a field and a consumer can dispatch on ``type``. Each topic carries a discriminated
union of its events; ``parse_event(topic, raw)`` is the one way to read one back.

Wire format: UTF-8 JSON, one event per Kafka record. The record key is the entity the order
matters for (room_id for rooms and chat, the lower user id of a pair for social events), so one
room's or one pair's events stay in one partition, in order.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from core.settings import Settings

CHAT_MESSAGES = "chat-messages"
ROOM_EVENTS = "room-events"
SOCIAL_EVENTS = "social-events"
MODERATION_EVENTS = "moderation-events"

MAX_MESSAGE_CHARS = 4000


def topic_specs(settings: Settings) -> dict[str, int]:
    """Topic name -> partition count. chat-messages is keyed by room_id and carries the load."""
    return {
        CHAT_MESSAGES: settings.kafka_chat_partitions,
        ROOM_EVENTS: 4,
        SOCIAL_EVENTS: 4,
        MODERATION_EVENTS: 2,
    }


def _now() -> datetime:
    return datetime.now(UTC)


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=_now)

    def key(self) -> bytes:
        """The Kafka record key; ordering holds per key."""
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()


# -- chat-messages -------------------------------------------------------------------------


class ChatMessageSent(Event):
    """Acked by the gateway once Kafka holds it; seq is assigned downstream, in partition order."""

    type: Literal["chat.message_sent"] = "chat.message_sent"
    room_id: int
    message_id: int
    sender_id: int
    client_msg_id: str = Field(min_length=1, max_length=64)
    body: str = Field(min_length=1, max_length=MAX_MESSAGE_CHARS)
    # The body as everyone but its author sees it, when the room masks and the word filter hit.
    masked_body: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    # The room's topic, for the metrics per topic (pipelines/metrics); None from senders older
    # than the field.
    topic: str | None = None

    def key(self) -> bytes:
        return str(self.room_id).encode()


# -- room-events ---------------------------------------------------------------------------


class RoomEvent(Event):
    room_id: int
    user_id: int

    def key(self) -> bytes:
        return str(self.room_id).encode()


class RoomCreated(RoomEvent):
    type: Literal["room.created"] = "room.created"
    name: str
    topic: str
    capacity: int
    visibility: Literal["public", "private"]


class RoomJoined(RoomEvent):
    type: Literal["room.joined"] = "room.joined"
    participant_count: int
    # The room's focus clock (ms its shared timer has run in focus) at this moment: a session's
    # focus time is the leave's clock less the join's (pipelines/metrics, focus sessions).
    room_focus_ms: int = 0
    topic: str | None = None  # the room's, for the metrics per topic


class RoomLeft(RoomEvent):
    type: Literal["room.left"] = "room.left"
    participant_count: int
    room_focus_ms: int = 0
    topic: str | None = None
    # How long the leaver sat in the room, in seconds (their seat's joined_at to now), for the
    # session lengths of the metrics; None when unknown (a seat recorded before it was kept).
    session_s: int | None = None


class RoomClosed(RoomEvent):
    type: Literal["room.closed"] = "room.closed"


class RoomTimerChanged(RoomEvent):
    type: Literal["room.timer"] = "room.timer"
    action: Literal["start", "pause", "reset"]
    phase: Literal["focus", "break", "idle"]
    ends_at: datetime | None


# -- social-events -------------------------------------------------------------------------


class PairEvent(Event):
    from_user_id: int
    to_user_id: int

    def key(self) -> bytes:
        return str(min(self.from_user_id, self.to_user_id)).encode()


class FriendRequested(PairEvent):
    type: Literal["friend.requested"] = "friend.requested"
    request_id: int


class FriendAccepted(PairEvent):
    type: Literal["friend.accepted"] = "friend.accepted"
    request_id: int


class FriendRemoved(PairEvent):
    type: Literal["friend.removed"] = "friend.removed"


class UserBlocked(PairEvent):
    type: Literal["user.blocked"] = "user.blocked"


class BuddyRequested(PairEvent):
    type: Literal["buddy.requested"] = "buddy.requested"
    request_id: int


class BuddyAccepted(PairEvent):
    type: Literal["buddy.accepted"] = "buddy.accepted"
    request_id: int


class UserUnblocked(PairEvent):
    type: Literal["user.unblocked"] = "user.unblocked"


class GroupEvent(Event):
    group_id: int
    user_id: int

    def key(self) -> bytes:
        return str(self.group_id).encode()


class GroupJoined(GroupEvent):
    type: Literal["group.joined"] = "group.joined"


class GroupLeft(GroupEvent):
    type: Literal["group.left"] = "group.left"


class SubjectsChanged(Event):
    """A study profile was written: ``subjects`` is the whole new set, not a difference."""

    type: Literal["profile.subjects"] = "profile.subjects"
    user_id: int
    subjects: list[str]

    def key(self) -> bytes:
        return str(self.user_id).encode()


# -- moderation-events ---------------------------------------------------------------------


class ContentFlagged(Event):
    """Content or conduct for the moderation queue: each one becomes an item there (the
    moderation job, keyed by ``event_id``).

    ``user_id`` is whose content or conduct it is. From the word filter, ``action`` is what
    the room's policy did (``blocked``: never stored or broadcast; ``masked``; ``flagged``:
    delivered as sent), ``rule`` the first rule that fired and ``evidence`` every hit as JSON
    (rule, span, original, the transformations: domain.moderation.filter.Hit.to_dict). From a
    user, ``action`` is ``reported`` and ``reporter_id`` who reported it. From the
    moderation job's abuse half, ``action`` is ``muted`` and ``rule`` ``stream:<kind>`` (flood,
    mentions, duplicate, blocked). ``body`` is the text as it was (for a blocked message, the
    only copy; for a stream detection, a sample)."""

    type: Literal["moderation.flagged"] = "moderation.flagged"
    user_id: int
    room_id: int | None
    message_id: int | None
    reason: str = Field(max_length=500)
    score: float = Field(ge=0.0, le=1.0)
    action: Literal["blocked", "masked", "flagged", "reported", "muted"] = "flagged"
    rule: str = Field(default="", max_length=64)
    body: str | None = Field(default=None, max_length=MAX_MESSAGE_CHARS)
    evidence: str = "[]"
    reporter_id: int | None = None
    group_id: int | None = None

    def key(self) -> bytes:
        return str(self.user_id).encode()


ChatEvent = Annotated[ChatMessageSent, Field(discriminator="type")]
AnyRoomEvent = Annotated[
    RoomCreated | RoomJoined | RoomLeft | RoomClosed | RoomTimerChanged,
    Field(discriminator="type"),
]
SocialEvent = Annotated[
    FriendRequested
    | FriendAccepted
    | FriendRemoved
    | UserBlocked
    | UserUnblocked
    | BuddyRequested
    | BuddyAccepted
    | GroupJoined
    | GroupLeft
    | SubjectsChanged,
    Field(discriminator="type"),
]
ModerationEvent = Annotated[ContentFlagged, Field(discriminator="type")]

_ADAPTERS: dict[str, TypeAdapter[Event]] = {
    CHAT_MESSAGES: TypeAdapter(ChatEvent),
    ROOM_EVENTS: TypeAdapter(AnyRoomEvent),
    SOCIAL_EVENTS: TypeAdapter(SocialEvent),
    MODERATION_EVENTS: TypeAdapter(ModerationEvent),
}

TOPIC_OF: dict[type[Event], str] = {
    ChatMessageSent: CHAT_MESSAGES,
    **dict.fromkeys((RoomCreated, RoomJoined, RoomLeft, RoomClosed, RoomTimerChanged), ROOM_EVENTS),
    **dict.fromkeys(
        (
            FriendRequested,
            FriendAccepted,
            FriendRemoved,
            UserBlocked,
            UserUnblocked,
            BuddyRequested,
            BuddyAccepted,
            GroupJoined,
            GroupLeft,
            SubjectsChanged,
        ),
        SOCIAL_EVENTS,
    ),
    ContentFlagged: MODERATION_EVENTS,
}


def topic_for(event: Event) -> str:
    return TOPIC_OF[type(event)]


def parse_event(topic: str, raw: bytes | str) -> Event:
    """Validate a record of ``topic``; raises pydantic.ValidationError on anything off-contract."""
    try:
        adapter = _ADAPTERS[topic]
    except KeyError:
        raise ValueError(f"unknown topic {topic!r}; known: {sorted(_ADAPTERS)}") from None
    return adapter.validate_json(raw)
