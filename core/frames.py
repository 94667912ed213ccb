"""The WebSocket protocol's frames (JSON text), both ways, typed once (see docs/chat.md).

Client frames are validated like every other input (``CLIENT_FRAME``). Server frames are built
only through the models below, by whoever produces them: the gateway (acks, errors, pages),
the domain layer (room changes, presence) and the Flink persistence job (messages), so every
recipient sees one shape. ``type`` is each model's first field, so it leads the JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from core.events import MAX_MESSAGE_CHARS

RoomId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- client -> server ------------------------------------------------------------------------


class Subscribe(_Frame):
    """Follow a room. With ``after_seq``, first everything stored after it (the recovery)."""

    type: Literal["subscribe"]
    room_id: RoomId
    after_seq: Annotated[int, Field(ge=0)] | None = None


class Unsubscribe(_Frame):
    type: Literal["unsubscribe"]
    room_id: RoomId


class Send(_Frame):
    type: Literal["send"]
    room_id: RoomId
    client_msg_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    body: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)]


class Resume(_Frame):
    type: Literal["resume"]
    room_id: RoomId
    after_seq: Annotated[int, Field(ge=0)]


class History(_Frame):
    type: Literal["history"]
    room_id: RoomId
    before_seq: Annotated[int, Field(ge=1)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class Typing(_Frame):
    type: Literal["typing"]
    room_id: RoomId


class Heartbeat(_Frame):
    type: Literal["heartbeat"]


ClientFrame = Annotated[
    Subscribe | Unsubscribe | Send | Resume | History | Typing | Heartbeat,
    Field(discriminator="type"),
]
CLIENT_FRAME: TypeAdapter[ClientFrame] = TypeAdapter(ClientFrame)
FRAME_TYPES = ("subscribe", "unsubscribe", "send", "resume", "history", "typing", "heartbeat")


# -- server -> client ------------------------------------------------------------------------


def wire_time(when: datetime) -> str:
    """UTC, microseconds, ``Z``: the one time format of every frame (MySQL keeps no zone).

    A naive time is UTC already (every column is written in UTC): formatted as it is, with no
    zone to attach and strip again (a history page formats fifty)."""
    if when.tzinfo is None:
        return when.isoformat(timespec="microseconds") + "Z"
    return when.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class ServerFrame(_Frame):
    def to_json(self) -> str:
        return self.model_dump_json()


class Welcome(ServerFrame):
    type: Literal["welcome"] = "welcome"
    user_id: int
    gateway: str


class SeqRange(_Frame):
    """Seqs ``from_seq`` to ``to_seq``, both included."""

    from_seq: int
    to_seq: int


class Subscribed(ServerFrame):
    """Sent before the recovered messages; ``recovered`` only when ``after_seq`` was given.

    ``missing`` is the range not sent (older than the recovery limit, or unreadable): page it
    with ``history``.
    """

    type: Literal["subscribed"] = "subscribed"
    room_id: int
    last_seq: int
    recovered: bool | None = None
    missing: SeqRange | None = None


class Unsubscribed(ServerFrame):
    type: Literal["unsubscribed"] = "unsubscribed"
    room_id: int


class Ack(ServerFrame):
    type: Literal["ack"] = "ack"
    client_msg_id: str
    message_id: int
    room_id: int


class Message(ServerFrame):
    """A stored chat message: broadcast live by the persistence job, and in resume and history.

    ``masked``: the room's word filter masked words of it. Everyone but the author gets the
    masked body; the author gets what they wrote, with ``masked`` true so a client can say
    what the others see. It is the frame's last field, so the fan-out can tell a masked frame
    by its end without parsing it.
    """

    type: Literal["message"] = "message"
    room_id: int
    seq: int
    message_id: int
    user_id: int
    body: str
    created_at: str  # wire_time()
    client_msg_id: str
    masked: bool = False


class MessageRemoved(ServerFrame):
    """A moderator removed a message: clients drop it; history no longer has it."""

    type: Literal["message_removed"] = "message_removed"
    room_id: int
    seq: int
    message_id: int


class Resumed(ServerFrame):
    type: Literal["resumed"] = "resumed"
    room_id: int
    up_to_seq: int
    missing: SeqRange | None = None


class HistoryPage(ServerFrame):
    type: Literal["history"] = "history"
    room_id: int
    messages: list[Message]
    has_more: bool


class TypingStarted(ServerFrame):
    type: Literal["typing"] = "typing"
    room_id: int
    user_id: int


class PresenceChanged(ServerFrame):
    type: Literal["presence"] = "presence"
    user_id: int
    status: Literal["online", "offline"]


class RoomChanged(ServerFrame):
    type: Literal["room"] = "room"
    room_id: int
    event: Literal["joined", "left", "timer"]
    user_id: int
    room: dict[str, Any]  # the room as GET /rooms/{id} returns it (domain.schemas.rooms.RoomOut)


class HeartbeatAck(ServerFrame):
    type: Literal["heartbeat_ack"] = "heartbeat_ack"


class Error(ServerFrame):
    type: Literal["error"] = "error"
    code: str
    message: str
    ref: str | int | None = None


# Frames about a user that the user is not sent back (their own typing and presence): the
# fan-out recognises them by their leading bytes, without parsing every frame it forwards.
ABOUT_A_USER_PREFIXES = ('{"type":"typing"', '{"type":"presence"')
MASKED_SUFFIX = ',"masked":true}'  # a Message frame whose body is masked for all but its author
