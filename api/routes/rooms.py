"""Study rooms: thin routes over domain.rooms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor, page_of
from domain import rooms as actions
from domain.errors import Invalid
from domain.schemas.common import Id
from domain.schemas.rooms import (
    InviteIn,
    InviteOut,
    ModerationIn,
    ParticipantOut,
    RoomCreateIn,
    RoomOut,
    TimerIn,
    Topic,
)

router = APIRouter(prefix="/rooms", tags=["rooms"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_room(data: RoomCreateIn, user_id: UserId, res: Res) -> RoomOut:
    """Create a room; its owner joins it at once."""
    return await actions.create_room(res, user_id, data)


@router.get("")
async def list_rooms(
    user_id: UserId,
    res: Res,
    active: Annotated[bool, Query(description="Only active (open) rooms are listed.")] = True,
    topic: Annotated[Topic | None, Query()] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[RoomOut]:
    """Open public rooms, most participants first (Redis `rooms:active`)."""
    del user_id
    if not active:
        raise Invalid("active: only active=true is supported; closed rooms are not listed")
    offset = decode_cursor(cursor, kind=int) or 0
    if offset < 0:
        raise Invalid("cursor: not a cursor for this list", code="invalid_cursor")
    rooms, next_offset = await actions.list_active(res, topic=topic, offset=offset, limit=limit)
    more = next_offset is not None and len(rooms) == limit
    return Page(items=rooms, next_cursor=encode_cursor(next_offset) if more else None)


@router.get("/{room_id}")
async def get_room(room_id: Id, user_id: UserId, res: Res) -> RoomOut:
    return await actions.get_room(res, room_id, user_id)


@router.post("/{room_id}/join")
async def join(room_id: Id, user_id: UserId, res: Res) -> RoomOut:
    """Join (idempotent). 409 room_full when the room is at capacity."""
    return await actions.join_room(res, room_id, user_id)


@router.post("/{room_id}/leave")
async def leave(room_id: Id, user_id: UserId, res: Res) -> RoomOut:
    """Leave (idempotent)."""
    return await actions.leave_room(res, room_id, user_id)


@router.get("/{room_id}/participants")
async def participants(
    room_id: Id, user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[ParticipantOut]:
    after = decode_cursor(cursor, kind=int) or 0
    members = await actions.participants(res, room_id, user_id, after=after, limit=limit + 1)
    return page_of(members, limit, lambda p: p.user_id)


@router.post("/{room_id}/invites", status_code=status.HTTP_201_CREATED)
async def invite(room_id: Id, data: InviteIn, user_id: UserId, res: Res) -> InviteOut:
    """Invite someone to a private room (owner only; idempotent)."""
    await actions.invite(res, room_id, user_id, data.user_id)
    return InviteOut(room_id=room_id, user_id=data.user_id, invited_by=user_id)


@router.post("/{room_id}/timer")
async def timer(room_id: Id, data: TimerIn, user_id: UserId, res: Res) -> RoomOut:
    """Start, pause or reset the shared pomodoro timer (participants only)."""
    return await actions.change_timer(res, room_id, user_id, data)


@router.put("/{room_id}/moderation")
async def moderation(room_id: Id, data: ModerationIn, user_id: UserId, res: Res) -> RoomOut:
    """Set what the word filter does to the room's messages (owner only): `block` (the
    sender gets a `message_blocked` error, nothing is sent), `mask` (others see the words
    masked, the author sees what they wrote), `flag` (sent as is, queued for review) or
    `off`. New rooms block."""
    return await actions.set_moderation(res, room_id, user_id, data.moderation)


@router.delete("/{room_id}", status_code=status.HTTP_204_NO_CONTENT)
async def close(room_id: Id, user_id: UserId, res: Res) -> Response:
    """Close the room (owner only)."""
    await actions.close_room(res, room_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
