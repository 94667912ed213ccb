"""Study buddies: thin routes over domain.buddies."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain import buddies as actions
from domain.schemas.buddies import (
    BuddyOut,
    BuddyRequestIn,
    BuddyRequestOut,
    StudyProfileIn,
    StudyProfileOut,
    SuggestionOut,
)
from domain.schemas.common import Id

router = APIRouter(tags=["buddies"], responses=ERROR_RESPONSES)


@router.put("/users/me/study-profile")
async def put_profile(data: StudyProfileIn, user_id: UserId, res: Res) -> StudyProfileOut:
    """Subjects, time zone, weekly free slots (local time) and goals: what matching uses."""
    return await actions.put_profile(res, user_id, data)


@router.get("/users/me/study-profile")
async def get_profile(user_id: UserId, res: Res) -> StudyProfileOut:
    return await actions.get_profile(res, user_id)


@router.get("/buddies/suggestions")
async def suggestions(
    user_id: UserId, res: Res, limit: Annotated[int, Query(ge=1, le=50)] = 10
) -> list[SuggestionOut]:
    """People ranked by shared subjects, common free time and time-zone distance, explained."""
    return await actions.suggestions(res, user_id, limit=limit)


@router.post("/buddies/requests", status_code=status.HTTP_201_CREATED)
async def send_request(data: BuddyRequestIn, user_id: UserId, res: Res) -> BuddyRequestOut:
    return await actions.send_request(res, user_id, data.to_user_id, data.message)


@router.get("/buddies/requests")
async def my_requests(
    user_id: UserId,
    res: Res,
    direction: Annotated[Literal["incoming", "outgoing"], Query()] = "incoming",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[BuddyRequestOut]:
    """Your own pending buddy requests."""
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.pending_requests(
        res, user_id, direction=direction, after=after, limit=limit + 1
    )
    return page_of(rows, limit, lambda r: r.id)


@router.post("/buddies/requests/{request_id}/accept")
async def accept(request_id: Id, user_id: UserId, res: Res) -> BuddyRequestOut:
    return await actions.respond(res, user_id, request_id, "accepted")


@router.post("/buddies/requests/{request_id}/decline")
async def decline(request_id: Id, user_id: UserId, res: Res) -> BuddyRequestOut:
    return await actions.respond(res, user_id, request_id, "declined")


@router.get("/buddies")
async def my_buddies(
    user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[BuddyOut]:
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.buddies(res, user_id, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda b: b.user_id)
