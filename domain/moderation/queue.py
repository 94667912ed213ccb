"""Reports, the moderator queue, decisions and their audit trail.

Everything for review reaches the queue one way: a ``ContentFlagged`` event on
``moderation-events`` (a word-filter hit from the send path, a user's report from here), which
the moderation Flink job writes to ``moderation_items``. Moderators' work on an item is in
``moderation_reviews`` (assigned, then resolved with a decision), and every step of it is a row
in ``moderation_events``, the append-only audit log (the database refuses UPDATE and DELETE on
it).

Who may act on an item:
- global moderators and admins (``users.role``): every item;
- a room's owner: the items of their room;
- a group's owners and moderators: the items of their group.
Everyone else gets 403 ``not_moderator``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import text

from core import wire
from core.db.sharding import DIRECTORY_SHARD
from core.events import ContentFlagged
from core.frames import MessageRemoved
from domain.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from domain.resources import Resources
from domain.rooms import access_room, ban_from_room, require_participant
from domain.schemas.moderation import AuditOut, DecisionIn, ItemOut, ReportIn, ReportOut, Status

GLOBAL_ROLES: Final = ("moderator", "admin")
_ACTED: Final = {"dismiss": "dismissed", "remove": "removed", "mute": "muted", "ban": "banned"}

_ITEM_COLUMNS = (
    "i.id, i.kind, i.action, i.subject_user_id, i.reporter_id, i.room_id, i.group_id,"
    " i.message_id, i.rule, i.reason, i.body, i.evidence, i.created_at,"
    " r.status, r.assignee_id, r.decision, r.decided_by, r.decided_at"
)
_FROM = " FROM moderation_items i LEFT JOIN moderation_reviews r ON r.item_id = i.id"
_STATUS_SQL: Final = {
    "pending": "r.item_id IS NULL",
    "assigned": "r.status = 'assigned'",
    "resolved": "r.status = 'resolved'",
}


def not_moderator(message: str) -> Forbidden:
    return Forbidden(message, code="not_moderator")


async def role_of(res: Resources, user_id: int) -> str:
    rows = await res.db.fetch(DIRECTORY_SHARD, "SELECT role FROM users WHERE id = %s", (user_id,))
    return str(rows[0][0]) if rows else "member"


async def _owns_room(res: Resources, room_id: int, user_id: int) -> bool:
    try:
        state = await access_room(res, room_id, user_id)
    except NotFound:
        return False
    return state.owner_id == user_id


async def _local_moderator(
    res: Resources, user_id: int, room_id: int | None, group_id: int | None
) -> bool:
    """Whether the user owns the room or moderates the group (either may be None)."""
    if room_id is not None and await _owns_room(res, room_id, user_id):
        return True
    return group_id is not None and await _moderates_group(res, group_id, user_id)


async def _moderates_group(res: Resources, group_id: int, user_id: int) -> bool:
    rows = await res.db.fetch(
        DIRECTORY_SHARD,
        "SELECT role FROM group_members WHERE group_id = %s AND user_id = %s",
        (group_id, user_id),
    )
    return bool(rows) and rows[0][0] in ("owner", "moderator")


# -- reports ----------------------------------------------------------------------------


async def report(res: Resources, reporter_id: int, data: ReportIn) -> ReportOut:
    """A user reports a message (its text is kept as it was) or a user; it reaches the queue
    through moderation-events."""
    subject: int
    body: str | None = None
    if data.message_id is not None and data.room_id is not None:
        await require_participant(res, data.room_id, reporter_id, to="report its messages")
        rows = await res.db.fetch(
            res.db.shard_for_room(data.room_id),
            "SELECT sender_id, body FROM chat_messages"
            " WHERE room_id = %s AND message_id = %s AND status = 'visible'",
            (data.room_id, data.message_id),
        )
        if not rows:
            raise NotFound(f"room {data.room_id} has no message {data.message_id}")
        subject, body = int(rows[0][0]), str(rows[0][1])
    else:
        subject = data.user_id or 0  # ReportIn's validator: a user when not a message
        found = await res.db.fetch(DIRECTORY_SHARD, "SELECT 1 FROM users WHERE id = %s", (subject,))
        if not found:
            raise NotFound(f"user {subject} does not exist")
        if data.room_id is not None:
            await require_participant(res, data.room_id, reporter_id, to="report from it")
    if subject == reporter_id:
        raise Invalid("you cannot report yourself or your own messages", code="invalid_report")
    event = ContentFlagged(
        user_id=subject,
        room_id=data.room_id,
        group_id=data.group_id,
        message_id=data.message_id,
        reason=data.reason,
        score=0.5,
        action="reported",
        body=body,
        reporter_id=reporter_id,
    )
    try:
        await res.publisher.publish_and_wait(event)
    except Exception as error:
        raise Unavailable("the report was not filed; send it again") from error
    return ReportOut(id=str(event.event_id), status="queued")


# -- the queue ---------------------------------------------------------------------------


def _item(row: tuple[Any, ...]) -> ItemOut:
    (
        item_id,
        kind,
        action,
        subject,
        reporter,
        room_id,
        group_id,
        message_id,
        rule,
        reason,
        body,
        evidence,
        created_at,
        status,
        assignee,
        decision,
        decided_by,
        decided_at,
    ) = row
    return ItemOut(
        id=item_id,
        kind=kind,
        action=action,
        status=status or "pending",
        subject_user_id=subject,
        reporter_id=reporter,
        room_id=room_id,
        group_id=group_id,
        message_id=message_id,
        rule=rule,
        reason=reason,
        body=body,
        evidence=json.loads(evidence or "[]"),
        created_at=created_at.replace(tzinfo=UTC),
        assignee_id=assignee,
        decision=decision,
        decided_by=decided_by,
        decided_at=None if decided_at is None else decided_at.replace(tzinfo=UTC),
    )


async def list_queue(
    res: Resources,
    user_id: int,
    *,
    status: Status,
    room_id: int | None,
    group_id: int | None,
    subject_id: int | None,
    rule: str | None,
    kind: str | None,
    before: tuple[int, str] | None,
    limit: int,
) -> list[ItemOut]:
    """Newest first; ``before`` is the (created_at in µs, id) of the last item of a page.
    Fetches ``limit + 1`` so the caller knows whether another page exists."""
    if await role_of(res, user_id) not in GLOBAL_ROLES and not await _local_moderator(
        res, user_id, room_id, group_id
    ):
        raise not_moderator(
            "only moderators see the whole queue: filter by a room you own (room_id) "
            "or a group you moderate (group_id)"
        )
    where = [_STATUS_SQL[status]]
    params: list[Any] = []
    for column, value in (
        ("i.room_id", room_id),
        ("i.group_id", group_id),
        ("i.subject_user_id", subject_id),
        ("i.rule", rule),
        ("i.kind", kind),
    ):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    if before is not None:
        where.append("(i.created_at, i.id) < (%s, %s)")
        params += [datetime.fromtimestamp(before[0] / 1e6, UTC).replace(tzinfo=None), before[1]]
    sql = (
        f"SELECT {_ITEM_COLUMNS}{_FROM} WHERE {' AND '.join(where)}"
        " ORDER BY i.created_at DESC, i.id DESC LIMIT %s"
    )
    rows = await res.db.fetch(DIRECTORY_SHARD, sql, (*params, limit + 1))
    return [_item(row) for row in rows]


async def _acting_on(res: Resources, user_id: int, item_id: str) -> ItemOut:
    """The item, if the user may act on it."""
    rows = await res.db.fetch(
        DIRECTORY_SHARD, f"SELECT {_ITEM_COLUMNS}{_FROM} WHERE i.id = %s", (item_id,)
    )
    if not rows:
        raise NotFound(f"the queue has no item {item_id}")
    item = _item(rows[0])
    if await role_of(res, user_id) in GLOBAL_ROLES or await _local_moderator(
        res, user_id, item.room_id, item.group_id
    ):
        return item
    raise not_moderator(
        "only a global moderator, the room's owner or the group's moderators can act on this item"
    )


async def _audit(
    session: Any,
    res: Resources,
    kind: str,
    item: ItemOut,
    actor_id: int,
    reason: str,
    details: dict[str, Any],
) -> None:
    await session.execute(
        text(
            "INSERT INTO moderation_events"
            " (id, kind, user_id, room_id, message_id, actor_id, reason, details)"
            " VALUES (:id, :kind, :user_id, :room_id, :message_id, :actor_id, :reason, :details)"
        ),
        {
            "id": res.ids.next_id(),
            "kind": kind,
            "user_id": item.subject_user_id,
            "room_id": item.room_id,
            "message_id": item.message_id,
            "actor_id": actor_id,
            "reason": reason[:255],
            "details": json.dumps(
                {
                    "item_id": item.id,
                    "action": item.action,
                    "rule": item.rule,
                    "body": item.body,
                    "evidence": item.evidence,
                    **details,
                },
                ensure_ascii=False,
                default=str,
            ),
        },
    )


async def _lock_review(session: Any, item_id: str) -> None:
    """Lock the item's review row (made if missing) for this transaction; 409 if resolved."""
    await session.execute(
        text("INSERT IGNORE INTO moderation_reviews (item_id, status) VALUES (:item, 'assigned')"),
        {"item": item_id},
    )
    row = (
        await session.execute(
            text(
                "SELECT status, decision FROM moderation_reviews WHERE item_id = :item FOR UPDATE"
            ),
            {"item": item_id},
        )
    ).one()
    if row[0] == "resolved":
        raise Conflict(f"item {item_id} is already resolved ({row[1]})", code="resolved")


async def assign(res: Resources, user_id: int, item_id: str) -> ItemOut:
    """The moderator takes the item (from whoever had it); a resolved item stays resolved."""
    item = await _acting_on(res, user_id, item_id)
    async with res.db.directory().begin() as session:
        await _lock_review(session, item_id)
        await session.execute(
            text("UPDATE moderation_reviews SET assignee_id = :user WHERE item_id = :item"),
            {"item": item_id, "user": user_id},
        )
        await _audit(
            session, res, "assigned", item, user_id, "assigned", {"previous": item.assignee_id}
        )
    return await _acting_on(res, user_id, item_id)


async def decide(res: Resources, user_id: int, item_id: str, data: DecisionIn) -> ItemOut:
    """Dismiss the item, remove its message, or mute its author: once (a second decision is
    409 ``resolved``), and audited in the same transaction."""
    item = await _acting_on(res, user_id, item_id)
    details: dict[str, Any] = {"decision": data.decision}
    async with res.db.directory().begin() as session:
        await _lock_review(session, item_id)
        if data.decision == "remove":
            await _remove_message(res, item)
        elif data.decision == "mute":
            details["mute_minutes"] = data.mute_minutes
            details["scope"] = await _mute(res, user_id, item, data.mute_minutes)
        elif data.decision == "ban":
            details["scope"] = await _ban(res, user_id, item, data.reason)
        await session.execute(
            text(
                "UPDATE moderation_reviews SET status = 'resolved', decision = :decision,"
                " decided_by = :user, decided_at = UTC_TIMESTAMP(6),"
                " assignee_id = COALESCE(assignee_id, :user) WHERE item_id = :item"
            ),
            {"item": item_id, "user": user_id, "decision": data.decision},
        )
        await _audit(session, res, _ACTED[data.decision], item, user_id, data.reason, details)
    return await _acting_on(res, user_id, item_id)


async def _remove_message(res: Resources, item: ItemOut) -> None:
    if item.message_id is None or item.room_id is None:
        raise Invalid(
            "nothing to remove: this item is about a user, or its message was blocked and "
            "never sent",
            code="nothing_to_remove",
        )
    shard = res.db.shard_for_room(item.room_id)
    rows = await res.db.fetch(
        shard,
        "SELECT seq FROM chat_messages WHERE room_id = %s AND message_id = %s",
        (item.room_id, item.message_id),
    )
    if not rows:
        raise NotFound(f"room {item.room_id} has no message {item.message_id}")
    await res.db.execute(
        shard,
        "UPDATE chat_messages SET status = 'deleted' WHERE room_id = %s AND message_id = %s",
        (item.room_id, item.message_id),
    )
    frame = MessageRemoved(room_id=item.room_id, seq=int(rows[0][0]), message_id=item.message_id)
    await res.redis.publish(wire.room_channel(item.room_id), frame.to_json())


async def _mute(res: Resources, user_id: int, item: ItemOut, minutes: int) -> str:
    """A global moderator mutes everywhere; a room's owner in their room only."""
    if await role_of(res, user_id) in GLOBAL_ROLES:
        key, scope = wire.mute_key(item.subject_user_id), "everywhere"
    elif item.room_id is not None:
        key, scope = wire.mute_key(item.subject_user_id, item.room_id), f"room {item.room_id}"
    else:
        raise not_moderator("only a global moderator can mute outside a room")
    await res.redis.set(key, user_id, px=minutes * 60_000)
    return scope


async def _ban(res: Resources, user_id: int, item: ItemOut, reason: str) -> str:
    """A global moderator bans from the platform (no new logins, no sends, at once); a room's
    owner from their room (they leave it and cannot join again)."""
    if await role_of(res, user_id) in GLOBAL_ROLES:
        await res.db.execute(
            DIRECTORY_SHARD,
            "UPDATE users SET is_active = 0 WHERE id = %s",
            (item.subject_user_id,),
        )
        await res.redis.set(wire.ban_key(item.subject_user_id), user_id)
        return "everywhere"
    if item.room_id is None:
        raise not_moderator("only a global moderator can ban outside a room")
    await ban_from_room(res, item.room_id, item.subject_user_id, banned_by=user_id, reason=reason)
    return f"room {item.room_id}"


async def audit_log(
    res: Resources,
    user_id: int,
    *,
    subject_id: int | None,
    room_id: int | None,
    before: int | None,
    limit: int,
) -> list[AuditOut]:
    """The audit log, newest first (global moderators and admins; a room's owner for their
    room)."""
    if await role_of(res, user_id) not in GLOBAL_ROLES and not (
        room_id is not None and await _owns_room(res, room_id, user_id)
    ):
        raise not_moderator(
            "only moderators read the audit log: filter by a room you own (room_id)"
        )
    where, params = ["1 = 1"], []
    if subject_id is not None:
        where.append("user_id = %s")
        params.append(subject_id)
    if room_id is not None:
        where.append("room_id = %s")
        params.append(room_id)
    if before is not None:
        where.append("id < %s")
        params.append(before)
    columns = "id, kind, user_id, room_id, message_id, actor_id, reason, details, created_at"
    conditions = " AND ".join(where)  # fixed column names; the values are parameters
    sql = f"SELECT {columns} FROM moderation_events WHERE {conditions} ORDER BY id DESC LIMIT %s"  # noqa: S608
    rows = await res.db.fetch(DIRECTORY_SHARD, sql, (*params, limit + 1))
    return [
        AuditOut(
            id=row[0],
            kind=row[1],
            user_id=row[2],
            room_id=row[3],
            message_id=row[4],
            actor_id=row[5],
            reason=row[6],
            details=json.loads(row[7]) if row[7] else None,
            created_at=row[8].replace(tzinfo=UTC),
        )
        for row in rows
    ]
