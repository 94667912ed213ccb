"""Presence over REST: one user, or many at once for a friend list."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from domain import presence
from domain.errors import Invalid
from domain.schemas.common import Id

router = APIRouter(tags=["presence"], responses=ERROR_RESPONSES)

MAX_BULK = 200


class PresenceOut(BaseModel):
    user_id: int
    status: Literal["online", "offline"]


@router.get("/users/{target_id}/presence")
async def one(target_id: Id, user_id: UserId, res: Res) -> PresenceOut:
    del user_id
    status = (await presence.statuses(res.redis, [target_id]))[target_id]
    return PresenceOut(user_id=target_id, status=status)


@router.get("/presence")
async def many(
    user_id: UserId,
    res: Res,
    ids: Annotated[str, Query(description=f"Comma-separated user ids, at most {MAX_BULK}.")],
) -> list[PresenceOut]:
    """Presence of many users in one call (a friend list's worth)."""
    del user_id
    try:
        wanted = list(dict.fromkeys(int(part) for part in ids.split(",") if part.strip()))
    except ValueError:
        raise Invalid("ids: comma-separated integers, e.g. ids=12,34") from None
    if not wanted or len(wanted) > MAX_BULK or min(wanted) < 1 or max(wanted) >= 2**63:
        raise Invalid(f"ids: between 1 and {MAX_BULK} positive 64-bit ids")
    found = await presence.statuses(res.redis, wanted)
    return [PresenceOut(user_id=u, status=found[u]) for u in wanted]
