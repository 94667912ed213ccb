"""Reports and the moderator queue (domain.moderation.queue; docs/moderation.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, status

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain.errors import Invalid
from domain.moderation import queue as actions
from domain.schemas.common import Id
from domain.schemas.moderation import AuditOut, DecisionIn, ItemOut, ReportIn, ReportOut, Status

router = APIRouter(tags=["moderation"], responses=ERROR_RESPONSES)


@router.post("/reports", status_code=status.HTTP_202_ACCEPTED)
async def report(data: ReportIn, user_id: UserId, res: Res) -> ReportOut:
    """Report a message (room_id and message_id: you must be in the room) or a user (user_id),
    with a reason. It reaches the moderators' queue within seconds."""
    return await actions.report(res, user_id, data)


@router.get("/moderation/queue")
async def queue(
    user_id: UserId,
    res: Res,
    status_: Annotated[Status, Query(alias="status")] = "pending",
    room_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    group_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    subject_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, alias="user_id")] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    kind: Literal["message", "user"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[ItemOut]:
    """The queue, newest first, filtered by status (pending, assigned, resolved), room,
    group, user, rule and kind. Global moderators see it all; a room's owner (or a group's
    moderators) must filter by their room_id (group_id)."""
    before = decode_cursor(cursor, kind=list)
    if before is not None and (len(before) != 2 or not isinstance(before[0], int)):
        raise Invalid("cursor: not a cursor for this list", code="invalid_cursor")
    rows = await actions.list_queue(
        res,
        user_id,
        status=status_,
        room_id=room_id,
        group_id=group_id,
        subject_id=subject_id,
        rule=rule,
        kind=kind,
        before=None if before is None else (before[0], str(before[1])),
        limit=limit,
    )
    return page_of(rows, limit, lambda item: [int(item.created_at.timestamp() * 1e6), item.id])


@router.post("/moderation/items/{item_id}/assign")
async def assign(item_id: str, user_id: UserId, res: Res) -> ItemOut:
    """Take the item (from whoever had it). A resolved item is 409."""
    return await actions.assign(res, user_id, item_id)


@router.post("/moderation/items/{item_id}/decision")
async def decide(item_id: str, data: DecisionIn, user_id: UserId, res: Res) -> ItemOut:
    """Resolve the item, with a reason: `dismiss`; `remove` its message (gone from history,
    and live clients get a `message_removed` frame); `mute` its author for `mute_minutes`; or
    `ban` them. A global moderator mutes and bans everywhere (a ban: no login, no sends), a
    room's owner in their room (a ban: they leave and cannot join again). Audited; once."""
    return await actions.decide(res, user_id, item_id, data)


@router.get("/moderation/audit")
async def audit(
    user_id: UserId,
    res: Res,
    subject_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, alias="user_id")] = None,
    room_id: Id | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AuditOut]:
    """The audit log of decisions, newest first: who, when, what, why and the evidence."""
    before = decode_cursor(cursor, kind=int)
    rows = await actions.audit_log(
        res, user_id, subject_id=subject_id, room_id=room_id, before=before, limit=limit
    )
    return page_of(rows, limit, lambda entry: entry.id)
