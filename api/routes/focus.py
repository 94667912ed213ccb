"""Focus stats: a user's time in study rooms per day, focus time and streak (domain.focus)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, decode_cursor, page_of
from domain import focus
from domain.schemas.focus import FocusOut, LeaderboardOut, Period, Scope

router = APIRouter(tags=["focus"], responses=ERROR_RESPONSES)


@router.get("/users/me/focus")
async def mine(
    user_id: UserId,
    res: Res,
    days: Annotated[int, Query(ge=1, le=90, description="UTC days, today included (7).")] = 7,
) -> FocusOut:
    """Your time in study rooms per day, its focus part, and your streak."""
    return await focus.my_focus(res, user_id, days)


@router.get("/focus/leaderboard")
async def leaderboard(
    user_id: UserId,
    res: Res,
    period: Annotated[Period, Query(description="This UTC day, ISO week or month.")] = "week",
    scope: Annotated[Scope, Query(description="Everyone (the top 1,000) or your friends.")] = (
        "global"
    ),
    limit: Limit = 50,
    cursor: Cursor = None,
) -> LeaderboardOut:
    """Time in study rooms, most first, cached for a minute."""
    after = decode_cursor(cursor, kind=int) or 0
    start, end, items = await focus.leaderboard(
        res, user_id, period, scope, after_rank=after, limit=limit + 1
    )
    page = page_of(items, limit, lambda entry: entry.rank)
    return LeaderboardOut(
        period=period,
        scope=scope,
        starts_at=start,
        ends_at=end,
        items=page.items,
        next_cursor=page.next_cursor,
    )
