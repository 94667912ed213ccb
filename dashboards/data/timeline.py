"""What changed, for the charts to mark: a room's word-filter policy changed (the moderation
audit log, kind ``policy_changed``) and the Dagster runs (graph jobs, rollups). A chart that
dips right after a rule change or a job run says why by itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from core.db.sharding import ShardRouter
from core.settings import Settings
from dashboards.data import health


@dataclass(frozen=True)
class Change:
    at: datetime  # UTC
    label: str


def since(
    mysql: ShardRouter, settings: Settings, start: datetime, *, room_id: int | None = None
) -> list[Change]:
    """Policy changes (in ``room_id`` only, if given) and Dagster runs since ``start``
    (runs only platform-wide: they are not a room's). Dagster away: its runs are left out."""
    naive = start.astimezone(UTC).replace(tzinfo=None)
    where = "kind = 'policy_changed' AND created_at >= :start"
    params: dict[str, object] = {"start": naive}
    if room_id is not None:
        where += " AND room_id = :room"
        params["room"] = room_id
    with mysql.directory_engine().connect() as db:
        rows = db.execute(
            text(
                f"SELECT created_at, room_id, reason FROM moderation_events WHERE {where}"  # noqa: S608
                " ORDER BY created_at LIMIT 200"
            ),
            params,
        ).all()
    found = [Change(at.replace(tzinfo=UTC), f"room {room}: {reason}") for at, room, reason in rows]
    if room_id is None:
        try:
            runs = health.dagster_runs(settings, limit=50)
        except (OSError, RuntimeError, ValueError):
            runs = []
        found += [
            Change(run.started.astimezone(UTC), f"Dagster {run.job}: {run.status}")
            for run in runs
            if run.started is not None and run.started >= start
        ]
    return sorted(found, key=lambda change: change.at)
