"""Chat history over REST (sending goes through the WebSocket gateway at /ws)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from core.frames import Message
from domain import chat as actions
from domain.resources import Resources
from domain.schemas.common import Id

router = APIRouter(tags=["chat"], responses=ERROR_RESPONSES)


class MessagesPage(BaseModel):
    items: list[Message]
    next_before_seq: int | None


@router.get("/rooms/{room_id}/messages")
async def history(
    room_id: Id,
    user_id: UserId,
    res: Res,
    before_seq: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> MessagesPage:
    """A page of the room's messages before before_seq (the newest page without it)."""
    return await history_page(res, user_id, room_id, before_seq, limit=limit)


async def history_page(
    res: Resources, user_id: int, room_id: int, before_seq: int | None, *, limit: int
) -> MessagesPage:
    """A participant's page of the room's history (also api/hot.py's)."""
    page, more = await actions.history(res, user_id, room_id, before_seq, limit=limit)
    return MessagesPage(items=page, next_before_seq=page[0].seq if more else None)
