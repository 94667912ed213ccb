"""Alerts: the seed's thresholds evaluated on the probes' samples, and each alert's state.

An alert is one condition on one subject: ``queue_depth`` on a consumer group's topic,
``redis_memory`` on Redis, ``flink_job`` and ``checkpoint_age`` on a Flink job, ``probe`` on
a service a probe could not read. ``evaluate`` turns samples into conditions (firing or
not); ``record`` makes the states follow them:

- a condition that fires with no open alert opens one (``firing``), with an event;
- an open alert whose condition no longer fires is ``resolved``, with an event; a rule whose
  probe failed this round resolves nothing (no news is not good news);
- a moderator or admin may ``acknowledge`` a firing alert (``/admin/alerts``): it stays open
  until its condition is gone.

Each monitor owns a ``scope`` and only opens and resolves that scope's alerts, so a second
monitor (a test with lowered thresholds, another region) never resolves the first one's.
The thresholds are settings (``alert_*``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from core.db.sharding import DIRECTORY_SHARD
from core.settings import Settings
from domain.errors import Conflict, Forbidden, NotFound
from domain.moderation.queue import GLOBAL_ROLES, role_of
from domain.monitoring.probes import ProbeFailed, Sample
from domain.resources import Resources
from domain.schemas.monitoring import AlertEventOut, AlertOut, AlertState

log = logging.getLogger(__name__)

Severity = Literal["critical", "warning"]
# Which probe feeds which rules: a failed probe resolves none of them.
PROBE_RULES: Final = {
    "kafka": ("queue_depth",),
    "redis": ("redis_memory",),
    "flink": ("flink_job", "checkpoint_age"),
    "chat": ("join_latency", "delivery_latency", "delivery_success"),
}


@dataclass(frozen=True)
class Condition:
    rule: str
    subject: str
    severity: Severity
    value: float
    threshold: float
    firing: bool
    message: str


def evaluate(
    samples: dict[str, list[Sample] | ProbeFailed], settings: Settings
) -> tuple[list[Condition], set[str]]:
    """The conditions the samples show, and the rules that were evaluated (a failed probe's
    rules are not: its alerts stay as they are, and a ``probe`` alert fires for it)."""
    conditions: list[Condition] = []
    evaluated: set[str] = {"probe"}
    for probe, result in samples.items():
        failed = isinstance(result, ProbeFailed)
        conditions.append(
            Condition(
                "probe",
                probe,
                "critical",
                1.0 if failed else 0.0,
                1.0,
                failed,
                f"the monitor cannot read {probe}: {result}" if failed else f"{probe} answers",
            )
        )
        if isinstance(result, ProbeFailed):
            continue
        evaluated.update(PROBE_RULES.get(probe, ()))
        for sample in result:
            conditions += _conditions(sample, settings)
    return conditions, evaluated


def _conditions(sample: Sample, settings: Settings) -> list[Condition]:
    f, tags = sample.fields, sample.tags
    if sample.measurement == "kafka_lag":
        lag, limit = float(f["lag"]), float(settings.alert_queue_depth)
        subject = f"{tags['group']}/{tags['topic']}"
        return [
            Condition(
                "queue_depth",
                subject,
                "critical",
                lag,
                limit,
                lag > limit,
                f"{subject} is {lag:,.0f} records behind (threshold {limit:,.0f})",
            )
        ]
    if sample.measurement == "redis_memory" and "ratio" in f:
        ratio, limit = float(f["ratio"]), settings.alert_redis_memory_ratio
        return [
            Condition(
                "redis_memory",
                "redis",
                "warning",
                ratio,
                limit,
                ratio > limit,
                f"Redis uses {ratio:.0%} of its {int(f['limit_bytes']):,} bytes "
                f"(threshold {limit:.0%})",
            )
        ]
    if sample.measurement == "room_join" and "p95_ms" in f:
        p95, limit = float(f["p95_ms"]), settings.alert_join_p95_ms
        return [
            Condition(
                "join_latency",
                "rooms",
                "critical",
                p95,
                limit,
                p95 > limit,
                f"room joins take {p95:,.0f} ms at p95 over the last {tags['window_s']} s, "
                f"{int(f['joins']):,} joins (threshold {limit:,.0f} ms)",
            )
        ]
    if sample.measurement == "chat_delivery":
        return _delivery_conditions(sample, settings)
    if sample.measurement == "flink_job":
        job, running, age = tags["job"], bool(f["running"]), float(f["checkpoint_age_s"])
        limit = settings.alert_checkpoint_age_s
        return [
            Condition(
                "flink_job",
                job,
                "critical",
                1.0 if running else 0.0,
                1.0,
                not running,
                f"the Flink job {job} is {'running' if running else 'not running'}",
            ),
            Condition(
                "checkpoint_age",
                job,
                "critical",
                age,
                limit,
                running and age > limit,
                f"the Flink job {job}'s last checkpoint is {age:,.0f} s old (threshold "
                f"{limit:,.0f} s)"
                if age >= 0
                else f"the Flink job {job} has no checkpoint yet",
            ),
        ]
    return []


def _delivery_conditions(sample: Sample, settings: Settings) -> list[Condition]:
    f, window = sample.fields, sample.tags["window_s"]
    conditions: list[Condition] = []
    if "p95_ms" in f:
        p95, limit = float(f["p95_ms"]), settings.alert_delivery_p95_ms
        conditions.append(
            Condition(
                "delivery_latency",
                "chat",
                "warning",
                p95,
                limit,
                p95 > limit,
                f"messages reach their readers in {p95:,.0f} ms at p95 over the last {window} s"
                f" (threshold {limit:,.0f} ms)",
            )
        )
    if "success" in f:
        share, limit = float(f["success"]), settings.alert_delivery_success
        conditions.append(
            Condition(
                "delivery_success",
                "chat",
                "critical",
                share,
                limit,
                share < limit,
                f"{share:.2%} of message deliveries succeeded over the last {window} s,"
                f" {int(f['dropped']):,} dropped for sockets too slow (threshold {limit:.0%})",
            )
        )
    return conditions


def _open_key(scope: str, rule: str, subject: str) -> str:
    return f"{scope}|{rule}|{subject}"


async def record(
    res: Resources, scope: str, conditions: list[Condition], evaluated: set[str]
) -> list[tuple[str, Condition]]:
    """Open, update and resolve ``scope``'s alerts after the conditions; returns what changed
    as (``firing`` or ``resolved``, condition)."""
    rows = await res.db.fetch(
        DIRECTORY_SHARD,
        "SELECT id, rule, subject, snoozed_until <= UTC_TIMESTAMP(6) FROM alerts"
        " WHERE scope = %s AND open_key IS NOT NULL",
        (scope,),
    )
    open_alerts = {(str(rule), str(subject)): int(alert_id) for alert_id, rule, subject, _ in rows}
    snooze_over = {int(alert_id) for alert_id, _, _, over in rows if over}
    seen: set[tuple[str, str]] = set()
    changes: list[tuple[str, Condition]] = []
    for condition in conditions:
        key = (condition.rule, condition.subject)
        seen.add(key)
        alert_id = open_alerts.get(key)
        if condition.firing and alert_id is None:
            await _fire(res, scope, condition)
            changes.append(("firing", condition))
        elif condition.firing and alert_id in snooze_over:
            await _refire(res, alert_id, condition)
            changes.append(("firing", condition))
        elif condition.firing and alert_id is not None:
            await res.db.execute(
                DIRECTORY_SHARD,
                "UPDATE alerts SET value = %s, message = %s, updated_at = UTC_TIMESTAMP(6)"
                " WHERE id = %s",
                (condition.value, condition.message[:255], alert_id),
            )
        elif alert_id is not None and condition.rule in evaluated:
            await _resolve(res, alert_id, condition.value)
            changes.append(("resolved", condition))
    # An open alert whose subject is gone (a job no longer expected, a group removed), on a
    # rule evaluated this round: nothing fires for it any more.
    for (rule, subject), alert_id in open_alerts.items():
        if (rule, subject) not in seen and rule in evaluated:
            await _resolve(res, alert_id, 0.0)
            changes.append(("resolved", Condition(rule, subject, "warning", 0, 0, False, "")))
    return changes


async def _fire(res: Resources, scope: str, condition: Condition) -> None:
    alert_id = res.ids.next_id()
    async with res.db.directory().begin() as session:
        connection = await session.connection()
        await connection.exec_driver_sql(
            "INSERT INTO alerts (id, scope, rule, subject, severity, state, value, threshold,"
            " message, open_key, started_at, updated_at)"
            " VALUES (%s, %s, %s, %s, %s, 'firing', %s, %s, %s, %s,"
            " UTC_TIMESTAMP(6), UTC_TIMESTAMP(6))",
            (
                alert_id,
                scope,
                condition.rule,
                condition.subject[:191],
                condition.severity,
                condition.value,
                condition.threshold,
                condition.message[:255],
                _open_key(scope, condition.rule, condition.subject)[:320],
            ),
        )
        await connection.exec_driver_sql(
            "INSERT INTO alert_events (id, alert_id, state, value, created_at)"
            " VALUES (%s, %s, 'firing', %s, UTC_TIMESTAMP(6))",
            (res.ids.next_id(), alert_id, condition.value),
        )
    log.warning("alert firing: %s %s: %s", condition.rule, condition.subject, condition.message)


async def _refire(res: Resources, alert_id: int, condition: Condition) -> None:
    """A snoozed alert whose snooze is over, its condition still there: firing again."""
    async with res.db.directory().begin() as session:
        connection = await session.connection()
        await connection.exec_driver_sql(
            "UPDATE alerts SET state = 'firing', snoozed_until = NULL, acknowledged_by = NULL,"
            " acknowledged_at = NULL, value = %s, message = %s, updated_at = UTC_TIMESTAMP(6)"
            " WHERE id = %s",
            (condition.value, condition.message[:255], alert_id),
        )
        await connection.exec_driver_sql(
            "INSERT INTO alert_events (id, alert_id, state, value, created_at)"
            " VALUES (%s, %s, 'firing', %s, UTC_TIMESTAMP(6))",
            (res.ids.next_id(), alert_id, condition.value),
        )
    log.warning("alert firing again after its snooze: %s %s", condition.rule, condition.subject)


async def _resolve(res: Resources, alert_id: int, value: float) -> None:
    async with res.db.directory().begin() as session:
        connection = await session.connection()
        await connection.exec_driver_sql(
            "UPDATE alerts SET state = 'resolved', open_key = NULL, value = %s,"
            " resolved_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6) WHERE id = %s",
            (value, alert_id),
        )
        await connection.exec_driver_sql(
            "INSERT INTO alert_events (id, alert_id, state, value, created_at)"
            " VALUES (%s, %s, 'resolved', %s, UTC_TIMESTAMP(6))",
            (res.ids.next_id(), alert_id, value),
        )
    log.info("alert %s resolved", alert_id)


# -- the API's side ----------------------------------------------------------------------------

_COLUMNS = (
    "id, scope, rule, subject, severity, state, value, threshold, message, started_at,"
    " updated_at, resolved_at, acknowledged_by, acknowledged_at, snoozed_until"
)


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def _alert(row: tuple[Any, ...], events: list[AlertEventOut] | None = None) -> AlertOut:
    (
        alert_id,
        scope,
        rule,
        subject,
        severity,
        state,
        value,
        threshold,
        message,
        started_at,
        updated_at,
        resolved_at,
        acknowledged_by,
        acknowledged_at,
        snoozed_until,
    ) = row
    return AlertOut(
        id=int(alert_id),
        scope=scope,
        rule=rule,
        subject=subject,
        severity=severity,
        state=state,
        value=float(value),
        threshold=float(threshold),
        message=message,
        started_at=_utc(started_at) or datetime.now(UTC),
        updated_at=_utc(updated_at) or datetime.now(UTC),
        resolved_at=_utc(resolved_at),
        acknowledged_by=acknowledged_by,
        acknowledged_at=_utc(acknowledged_at),
        snoozed_until=_utc(snoozed_until),
        history=events,
    )


async def _require_staff(res: Resources, user_id: int) -> None:
    if await role_of(res, user_id) not in GLOBAL_ROLES:
        raise Forbidden(
            "only moderators and admins see the alerts (`studyhub moderation set-role`)",
            code="not_moderator",
        )


async def list_alerts(
    res: Resources,
    user_id: int,
    *,
    state: AlertState | None,
    rule: str | None,
    before: tuple[int, int] | None,
    limit: int,
) -> list[AlertOut]:
    """Newest first; ``before`` is the (started_at in µs, id) of a page's last alert. Fetches
    ``limit + 1`` so that the caller knows whether there is another page."""
    await _require_staff(res, user_id)
    where: list[str] = []
    params: list[Any] = []
    if state is not None:
        where.append("state = %s")
        params.append(state)
    if rule is not None:
        where.append("rule = %s")
        params.append(rule)
    if before is not None:
        where.append("(started_at, id) < (%s, %s)")
        params += [datetime.fromtimestamp(before[0] / 1e6, UTC).replace(tzinfo=None), before[1]]
    sql = f"SELECT {_COLUMNS} FROM alerts"  # noqa: S608 (columns are constants)
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY started_at DESC, id DESC LIMIT %s"
    rows = await res.db.fetch(DIRECTORY_SHARD, sql, (*params, limit + 1))
    return [_alert(row) for row in rows]


async def get_alert(res: Resources, user_id: int, alert_id: int) -> AlertOut:
    """One alert with its history, oldest event first."""
    await _require_staff(res, user_id)
    return await _with_history(res, alert_id)


async def _with_history(res: Resources, alert_id: int) -> AlertOut:
    rows = await res.db.fetch(
        DIRECTORY_SHARD,
        f"SELECT {_COLUMNS} FROM alerts WHERE id = %s",  # noqa: S608 (columns are constants)
        (alert_id,),
    )
    if not rows:
        raise NotFound(f"alert {alert_id} does not exist")
    events = await res.db.fetch(
        DIRECTORY_SHARD,
        "SELECT state, value, actor_id, created_at FROM alert_events WHERE alert_id = %s"
        " ORDER BY created_at, id",
        (alert_id,),
    )
    history = [
        AlertEventOut(
            state=state, value=float(value), actor_id=actor, at=_utc(at) or datetime.now(UTC)
        )
        for state, value, actor, at in events
    ]
    return _alert(rows[0], history)


async def _lock_open(connection: Any, alert_id: int) -> str:
    """The alert's state, its row locked for this transaction; 404 if none, 409 if resolved."""
    result = await connection.exec_driver_sql(
        "SELECT state FROM alerts WHERE id = %s FOR UPDATE", (alert_id,)
    )
    row = result.first()
    if row is None:
        raise NotFound(f"alert {alert_id} does not exist")
    if row[0] == "resolved":
        raise Conflict(f"alert {alert_id} is resolved already", code="resolved")
    return str(row[0])


async def acknowledge(res: Resources, user_id: int, alert_id: int) -> AlertOut:
    """A firing alert becomes acknowledged (again: no change). A resolved one is 409."""
    await _require_staff(res, user_id)
    async with res.db.directory().begin() as session:
        connection = await session.connection()
        state = await _lock_open(connection, alert_id)
        if state == "firing":
            await connection.exec_driver_sql(
                "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s,"
                " acknowledged_at = UTC_TIMESTAMP(6), updated_at = UTC_TIMESTAMP(6)"
                " WHERE id = %s",
                (user_id, alert_id),
            )
            await connection.exec_driver_sql(
                "INSERT INTO alert_events (id, alert_id, state, value, actor_id, created_at)"
                " SELECT %s, id, 'acknowledged', value, %s, UTC_TIMESTAMP(6) FROM alerts"
                " WHERE id = %s",
                (res.ids.next_id(), user_id, alert_id),
            )
    return await _with_history(res, alert_id)


async def snooze(res: Resources, user_id: int, alert_id: int, minutes: int) -> AlertOut:
    """Acknowledge an open alert until ``minutes`` from now: out of the firing list, and
    firing again after that if its condition still holds. A resolved alert is 409."""
    await _require_staff(res, user_id)
    async with res.db.directory().begin() as session:
        connection = await session.connection()
        await _lock_open(connection, alert_id)
        await connection.exec_driver_sql(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s,"
            " acknowledged_at = UTC_TIMESTAMP(6),"
            " snoozed_until = UTC_TIMESTAMP(6) + INTERVAL %s MINUTE,"
            " updated_at = UTC_TIMESTAMP(6) WHERE id = %s",
            (user_id, minutes, alert_id),
        )
        await connection.exec_driver_sql(
            "INSERT INTO alert_events (id, alert_id, state, value, actor_id, created_at)"
            " SELECT %s, id, 'snoozed', value, %s, UTC_TIMESTAMP(6) FROM alerts WHERE id = %s",
            (res.ids.next_id(), user_id, alert_id),
        )
    return await _with_history(res, alert_id)
