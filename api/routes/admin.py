"""The monitor's alerts, for moderators and admins (domain.monitoring.alerts; docs/metrics.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain.errors import Invalid
from domain.monitoring import alerts as actions
from domain.schemas.common import Id
from domain.schemas.monitoring import AlertOut, AlertState, SnoozeIn

router = APIRouter(prefix="/admin", tags=["admin"], responses=ERROR_RESPONSES)


@router.get("/alerts")
async def list_alerts(
    user_id: UserId,
    res: Res,
    state: AlertState | None = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AlertOut]:
    """Alerts, newest first, filtered by state (firing, acknowledged, resolved) and rule
    (queue_depth, redis_memory, flink_job, checkpoint_age, probe). Moderators and admins."""
    before = decode_cursor(cursor, kind=list)
    if before is not None and (len(before) != 2 or not all(isinstance(v, int) for v in before)):
        raise Invalid("cursor: not a cursor for this list", code="invalid_cursor")
    rows = await actions.list_alerts(
        res,
        user_id,
        state=state,
        rule=rule,
        before=None if before is None else (before[0], before[1]),
        limit=limit,
    )
    return page_of(rows, limit, lambda alert: [int(alert.started_at.timestamp() * 1e6), alert.id])


@router.get("/alerts/{alert_id}")
async def get_alert(alert_id: Id, user_id: UserId, res: Res) -> AlertOut:
    """One alert, with its history: when it fired, who acknowledged it, when it resolved."""
    return await actions.get_alert(res, user_id, alert_id)


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge(alert_id: Id, user_id: UserId, res: Res) -> AlertOut:
    """Acknowledge a firing alert: someone is on it. It stays open until its condition is
    gone. Again on an acknowledged alert: no change. A resolved alert is 409."""
    return await actions.acknowledge(res, user_id, alert_id)


@router.post("/alerts/{alert_id}/snooze")
async def snooze(alert_id: Id, data: SnoozeIn, user_id: UserId, res: Res) -> AlertOut:
    """Snooze an open alert for ``minutes``: acknowledged until then, firing again after if
    its condition still holds. A resolved alert is 409."""
    return await actions.snooze(res, user_id, alert_id, data.minutes)
