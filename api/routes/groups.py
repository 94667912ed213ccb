"""Discussion groups: thin routes over domain.groups."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain import groups as actions
from domain.schemas.common import Id, Subject
from domain.schemas.groups import GroupCreateIn, GroupOut, MemberOut, PostIn, PostOut

router = APIRouter(prefix="/groups", tags=["groups"], responses=ERROR_RESPONSES)


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_group(data: GroupCreateIn, user_id: UserId, res: Res) -> GroupOut:
    return await actions.create_group(res, user_id, data)


@router.get("")
async def list_groups(
    user_id: UserId,
    res: Res,
    subject: Annotated[Subject | None, Query()] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Name prefix.")
    ] = None,
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[GroupOut]:
    """Public groups, newest first."""
    del user_id
    before = decode_cursor(cursor, kind=int)
    rows = await actions.list_groups(res, subject=subject, query=q, before=before, limit=limit + 1)
    return page_of(rows, limit, lambda g: g.id)


@router.get("/{group_id}")
async def get_group(group_id: Id, user_id: UserId, res: Res) -> GroupOut:
    return await actions.get_group(res, group_id, user_id)


@router.post("/{group_id}/join")
async def join(group_id: Id, user_id: UserId, res: Res) -> GroupOut:
    """Join a public group (idempotent)."""
    return await actions.join_group(res, group_id, user_id)


@router.post("/{group_id}/leave")
async def leave(group_id: Id, user_id: UserId, res: Res) -> GroupOut:
    """Leave a group (idempotent; the owner cannot leave)."""
    return await actions.leave_group(res, group_id, user_id)


@router.get("/{group_id}/members")
async def members(
    group_id: Id, user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[MemberOut]:
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.members(res, group_id, user_id, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda m: m.user_id)


@router.post("/{group_id}/posts", status_code=status.HTTP_201_CREATED)
async def create_post(group_id: Id, data: PostIn, user_id: UserId, res: Res) -> PostOut:
    """Start a thread, or reply with parent_id (members only)."""
    return await actions.create_post(res, group_id, user_id, data)


@router.get("/{group_id}/posts")
async def threads(
    group_id: Id, user_id: UserId, res: Res, limit: Limit = 20, cursor: Cursor = None
) -> Page[PostOut]:
    """Thread starters, newest first."""
    before = decode_cursor(cursor, kind=int)
    rows = await actions.threads(res, group_id, user_id, before=before, limit=limit + 1)
    return page_of(rows, limit, lambda p: p.id)


@router.get("/{group_id}/posts/{post_id}/replies")
async def replies(
    group_id: Id, post_id: Id, user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[PostOut]:
    """The replies of a thread, oldest first."""
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.replies(res, group_id, post_id, user_id, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda p: p.id)
