"""The WebSocket protocol's client frames (JSON text), validated like every other input."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from core.events import MAX_MESSAGE_CHARS

RoomId = Annotated[int, Field(ge=1, le=2**63 - 1)]


class _Frame(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Subscribe(_Frame):
    type: Literal["subscribe"]
    room_id: RoomId


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
