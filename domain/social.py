"""Friends and blocks, on the directory shard.

A friendship is two rows, (a, b) and (b, a), written and deleted together in one transaction.
Requests between a pair are serialised by locking both users' rows (SELECT ... FOR UPDATE), so
two simultaneous requests cannot both pass the duplicate check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Subquery, and_, delete, or_, select, union_all, update
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import wire
from core.db.models import (
    BuddyRequest,
    FriendRequest,
    Friendship,
    User,
    UserBlock,
)
from core.db.sharding import DIRECTORY_SHARD
from core.events import (
    FriendAccepted,
    FriendRemoved,
    FriendRequested,
    UserBlocked,
    UserUnblocked,
)
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.resources import Resources
from domain.schemas.common import as_utc
from domain.schemas.social import (
    SUGGESTIONS,
    FriendOut,
    FriendRequestOut,
    SuggestedFriendOut,
    SuggestionReasons,
)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def lock_pair(session: AsyncSession, me: int, other: int) -> None:
    """Lock both users (ascending id order, so two requests cannot deadlock); 404 if missing."""
    found = (
        await session.scalars(
            select(User.id)
            .where(User.id.in_(sorted({me, other})))
            .order_by(User.id)
            .with_for_update()
        )
    ).all()
    if other not in found:
        raise NotFound(f"user {other} does not exist")


async def blocked_between(session: AsyncSession, a: int, b: int) -> UserBlock | None:
    return (
        await session.scalars(
            select(UserBlock).where(
                or_(
                    and_(UserBlock.blocker_id == a, UserBlock.blocked_id == b),
                    and_(UserBlock.blocker_id == b, UserBlock.blocked_id == a),
                )
            )
        )
    ).first()


async def are_friends(session: AsyncSession, a: int, b: int) -> bool:
    return await session.get(Friendship, (a, b)) is not None


PairRequest = TypeVar("PairRequest", FriendRequest, BuddyRequest)


async def answer_pending(
    session: AsyncSession,
    model: type[PairRequest],
    request_id: int,
    me: int,
    verdict: Literal["accepted", "declined"],
) -> PairRequest:
    """Lock a pending request addressed to ``me`` and record the verdict.

    404 when it is not the caller's at all, 403 when the caller sent it, 409 when answered.
    """
    noun = "friend" if model is FriendRequest else "buddy"
    request = await session.get(model, request_id, with_for_update=True)
    if request is None or me not in (request.from_user_id, request.to_user_id):
        raise NotFound(f"{noun} request {request_id} does not exist")
    if request.to_user_id != me:
        raise Forbidden(f"only the recipient can answer a {noun} request", code="not_recipient")
    if request.status != "pending":
        raise Conflict(f"{noun} request {request_id} is already {request.status}", code="answered")
    request.status = verdict
    request.responded_at = _now()
    return request


async def pending_requests_of(
    res: Resources,
    model: type[PairRequest],
    me: int,
    *,
    direction: Literal["incoming", "outgoing"],
    after: int,
    limit: int,
) -> list[PairRequest]:
    """A keyset page of the caller's own pending requests of this kind (nobody else's)."""
    mine = model.to_user_id if direction == "incoming" else model.from_user_id
    async with res.db.directory()() as session:
        return list(
            (
                await session.scalars(
                    select(model)
                    .where(mine == me, model.status == "pending", model.id > after)
                    .order_by(model.id)
                    .limit(limit)
                )
            ).all()
        )


async def refuse_pending_between(
    session: AsyncSession, model: type[PairRequest], me: int, to: int
) -> None:
    """409 if a pending request of this kind exists between the two, either way."""
    pending = (
        await session.scalars(
            select(model).where(
                model.status == "pending",
                or_(
                    and_(model.from_user_id == me, model.to_user_id == to),
                    and_(model.from_user_id == to, model.to_user_id == me),
                ),
            )
        )
    ).first()
    if pending is None:
        return
    if pending.from_user_id == me:
        raise Conflict(
            f"you already asked user {to} (request {pending.id})", code="duplicate_request"
        )
    raise Conflict(
        f"user {to} already asked you: accept request {pending.id}",
        code="reverse_request_pending",
    )


async def send_request(res: Resources, me: int, to: int) -> FriendRequestOut:
    if to == me:
        raise Invalid("to_user_id: you cannot send a friend request to yourself")
    async with res.db.directory().begin() as session:
        await lock_pair(session, me, to)
        block = await blocked_between(session, me, to)
        if block is not None:
            if block.blocker_id == me:
                raise Forbidden(f"you blocked user {to}; unblock them first", code="blocked")
            raise Forbidden(f"user {to} does not accept requests from you", code="blocked")
        if await are_friends(session, me, to):
            raise Conflict(f"you and user {to} are already friends", code="already_friends")
        await refuse_pending_between(session, FriendRequest, me, to)
        request = FriendRequest(
            id=res.ids.next_id(),
            from_user_id=me,
            to_user_id=to,
            status="pending",
            created_at=_now(),
        )
        session.add(request)
    res.publisher.publish(FriendRequested(from_user_id=me, to_user_id=to, request_id=request.id))
    return FriendRequestOut.model_validate(request)


async def _respond(
    res: Resources, me: int, request_id: int, verdict: Literal["accepted", "declined"]
) -> FriendRequestOut:
    async with res.db.directory().begin() as session:
        request = await answer_pending(session, FriendRequest, request_id, me, verdict)
        if verdict == "accepted":
            now = _now()
            await session.execute(
                insert(Friendship)
                .values(
                    [
                        {"user1_id": request.from_user_id, "user2_id": me, "created_at": now},
                        {"user1_id": me, "user2_id": request.from_user_id, "created_at": now},
                    ]
                )
                .prefix_with("IGNORE")
            )
    if verdict == "accepted":
        res.publisher.publish(
            FriendAccepted(from_user_id=request.from_user_id, to_user_id=me, request_id=request_id)
        )
    return FriendRequestOut.model_validate(request)


async def accept(res: Resources, me: int, request_id: int) -> FriendRequestOut:
    return await _respond(res, me, request_id, "accepted")


async def decline(res: Resources, me: int, request_id: int) -> FriendRequestOut:
    return await _respond(res, me, request_id, "declined")


async def pending_requests(
    res: Resources, me: int, *, direction: Literal["incoming", "outgoing"], after: int, limit: int
) -> list[FriendRequestOut]:
    rows = await pending_requests_of(
        res, FriendRequest, me, direction=direction, after=after, limit=limit
    )
    return [FriendRequestOut.model_validate(row) for row in rows]


async def _delete_friendship(session: AsyncSession, a: int, b: int) -> int:
    result = await session.execute(
        delete(Friendship).where(
            or_(
                and_(Friendship.user1_id == a, Friendship.user2_id == b),
                and_(Friendship.user1_id == b, Friendship.user2_id == a),
            )
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def remove_friend(res: Resources, me: int, other: int) -> None:
    async with res.db.directory().begin() as session:
        if await _delete_friendship(session, me, other) == 0:
            raise NotFound(f"you and user {other} are not friends")
    res.publisher.publish(FriendRemoved(from_user_id=me, to_user_id=other))


async def block(res: Resources, me: int, other: int) -> None:
    if other == me:
        raise Invalid("user_id: you cannot block yourself")
    async with res.db.directory().begin() as session:
        await lock_pair(session, me, other)
        created = (
            await session.execute(
                insert(UserBlock)
                .values(blocker_id=me, blocked_id=other, created_at=_now())
                .prefix_with("IGNORE")
            )
        ).rowcount  # type: ignore[attr-defined]
        await _delete_friendship(session, me, other)
        await session.execute(
            update(FriendRequest)
            .where(
                FriendRequest.status == "pending",
                or_(
                    and_(FriendRequest.from_user_id == me, FriendRequest.to_user_id == other),
                    and_(FriendRequest.from_user_id == other, FriendRequest.to_user_id == me),
                ),
            )
            .values(status="cancelled", responded_at=_now())
        )
    if created:
        res.publisher.publish(UserBlocked(from_user_id=me, to_user_id=other))


async def unblock(res: Resources, me: int, other: int) -> None:
    async with res.db.directory().begin() as session:
        result = await session.execute(
            delete(UserBlock).where(UserBlock.blocker_id == me, UserBlock.blocked_id == other)
        )
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"you have not blocked user {other}")
    res.publisher.publish(UserUnblocked(from_user_id=me, to_user_id=other))


# The friend reads are the API's hottest: each is one statement written once and run through
# the driver (AsyncShardRouter.fetch), one round trip, no ORM session or compilation per
# request. Whether the users exist is asked only when a page comes back empty: a user with
# friendship rows exists (users are never deleted). tests/integration/test_services.py
# EXPLAINs these exact statements.
FRIENDS_SQL = (
    "SELECT f.user2_id, f.created_at, u.username, u.display_name"
    " FROM friendships f JOIN users u ON u.id = f.user2_id"
    " WHERE f.user1_id = %(user)s AND f.user2_id > %(after)s"
    " ORDER BY f.user2_id LIMIT %(limit)s"
)
# Two ranges of idx_friendships_user1 joined on the friend's id.
MUTUAL_SQL = (
    "SELECT f.user2_id, f.created_at, u.username, u.display_name"
    " FROM friendships f"
    " JOIN friendships t ON t.user1_id = %(other)s AND t.user2_id = f.user2_id"
    " JOIN users u ON u.id = f.user2_id"
    " WHERE f.user1_id = %(user)s AND f.user2_id > %(after)s"
    " ORDER BY f.user2_id LIMIT %(limit)s"
)
_EXISTING_USERS = "SELECT id FROM users WHERE id IN %(ids)s"


async def _require_users(res: Resources, *user_ids: int) -> None:
    """404 naming the first of ``user_ids`` that does not exist (one primary-key lookup)."""
    found = {
        row[0] for row in await res.db.fetch(DIRECTORY_SHARD, _EXISTING_USERS, {"ids": user_ids})
    }
    for user_id in user_ids:
        if user_id not in found:
            raise NotFound(f"user {user_id} does not exist")


def _friends_of(rows: list[tuple[Any, ...]]) -> list[FriendOut]:
    # The row values come from typed columns: no validation pass is needed to build the models.
    return [
        FriendOut.model_construct(
            user_id=user_id, username=username, display_name=display_name, since=as_utc(since)
        )
        for user_id, since, username, display_name in rows
    ]


async def friends(res: Resources, user_id: int, *, after: int, limit: int) -> list[FriendOut]:
    """A keyset page over idx_friendships_user1: one partition, one index range."""
    params = {"user": user_id, "after": after, "limit": limit}
    rows = await res.db.fetch(DIRECTORY_SHARD, FRIENDS_SQL, params)
    if not rows:
        await _require_users(res, user_id)
    return _friends_of(rows)


_FRIEND_COUNT_SQL = "SELECT COUNT(*) FROM friendships WHERE user1_id = %s"


async def friend_count(res: Resources, user_id: int) -> int:
    """One count over idx_friendships_user1; whether the user exists only when it is 0."""
    count = int((await res.db.fetch(DIRECTORY_SHARD, _FRIEND_COUNT_SQL, (user_id,)))[0][0])
    if count == 0:
        await _require_users(res, user_id)
    return count


async def mutual_friends(
    res: Resources, a: int, b: int, *, after: int, limit: int
) -> list[FriendOut]:
    params = {"user": a, "other": b, "after": after, "limit": limit}
    rows = await res.db.fetch(DIRECTORY_SHARD, MUTUAL_SQL, params)
    if not rows:
        await _require_users(res, a, b)
    return _friends_of(rows)


FOF_FRIENDS_SAMPLED = 100
FOF_PER_FRIEND = 200


async def friend_suggestions(res: Resources, me: int, *, limit: int) -> list[SuggestedFriendOut]:
    """People you may know: the graph job's ranking when it has scored you (one primary-key
    range of ``friend_suggestions``), less anyone who has since become a friend, a pending
    request or a block either way; otherwise the friends of friends (remembered for five
    minutes, the exclusions checked on every read)."""
    stored = await res.db.fetch(DIRECTORY_SHARD, _STORED_SUGGESTIONS, {"me": me, "limit": limit})
    if stored:
        return [
            SuggestedFriendOut(
                user_id=candidate,
                username=username,
                display_name=display_name,
                mutual_friends=mutual,
                reasons=SuggestionReasons(
                    mutual_friend_ids=json.loads(mutual_ids),
                    shared_rooms=rooms,
                    shared_groups=groups,
                    shared_subjects=subjects,
                    same_community=bool(community),
                ),
                source="graph",
            )
            for (
                candidate,
                mutual,
                mutual_ids,
                rooms,
                groups,
                subjects,
                community,
                username,
                display_name,
            ) in stored
        ]
    return await friends_of_friends(res, me, limit=limit)


# The hottest read of the graph's output, as one driver call: no ORM session and no statement
# compilation per request (a third of this endpoint's CPU went to those; py-spy, docs/api.md).
# Every lookup is an index seek: the primary key (user_id, rank), users' primary key,
# friendships' clustered (user1_id, user2_id), user_blocks' primary key and friend_requests'
# (from_user_id, status) and (to_user_id, status).
_STORED_SUGGESTIONS = (
    "SELECT s.candidate_id, s.mutual_friends, s.mutual_ids, s.shared_rooms, s.shared_groups,"
    " s.shared_subjects, s.same_community, u.username, u.display_name"
    " FROM friend_suggestions s JOIN users u ON u.id = s.candidate_id"
    " WHERE s.user_id = %(me)s"
    " AND NOT EXISTS (SELECT 1 FROM friendships f"
    "   WHERE f.user1_id = %(me)s AND f.user2_id = s.candidate_id)"
    " AND NOT EXISTS (SELECT 1 FROM user_blocks b"
    "   WHERE (b.blocker_id = %(me)s AND b.blocked_id = s.candidate_id)"
    "   OR (b.blocker_id = s.candidate_id AND b.blocked_id = %(me)s))"
    " AND NOT EXISTS (SELECT 1 FROM friend_requests r WHERE r.status = 'pending'"
    "   AND ((r.from_user_id = %(me)s AND r.to_user_id = s.candidate_id)"
    "   OR (r.from_user_id = s.candidate_id AND r.to_user_id = %(me)s)))"
    " ORDER BY s.rank LIMIT %(limit)s"
)


def two_hop_reach(friends: Sequence[int]) -> Subquery:
    """Up to ``FOF_PER_FRIEND`` friends of each of ``friends``, one row per path (column
    ``candidate``): one UNION ALL of index range scans, bounded whatever the graph."""
    return union_all(
        *(
            select(Friendship.user2_id.label("candidate"))
            .where(Friendship.user1_id == friend)
            .limit(FOF_PER_FRIEND)
            for friend in friends
        )
    ).subquery("reach")


# The sampled friends, each row with how many friends and blocks (either way) the user has: the
# size of the set the ranking must leave out. (Uncorrelated scalar subqueries: run once.)
_FRIENDS_SAMPLED_SQL = (
    "SELECT user2_id,"
    " (SELECT COUNT(*) FROM friendships WHERE user1_id = %(me)s),"
    " (SELECT COUNT(*) FROM user_blocks WHERE blocker_id = %(me)s)"
    " + (SELECT COUNT(*) FROM user_blocks WHERE blocked_id = %(me)s)"
    " FROM friendships WHERE user1_id = %(me)s ORDER BY user2_id LIMIT %(sampled)s"
)
_REACH_BRANCH = "(SELECT user2_id AS candidate FROM friendships WHERE user1_id = %s LIMIT %s)"
# The database counts and ranks the (at most 20,000) reached ids and returns one page with the
# names; counting them in Python was most of this endpoint's CPU (py-spy, bench/README.md).
# It ranks first and leaves out the user, their friends and blocks after: the top
# ``limit + excluded`` candidates hold the top ``limit`` that are not excluded, and probing
# only those, not every reached row, halves the query's time.
_FOF_RANKED_SQL = (
    "SELECT r.candidate, r.mutual, u.username, u.display_name FROM ("
    " SELECT reach.candidate, COUNT(*) AS mutual FROM ({reach}) reach"
    " GROUP BY reach.candidate ORDER BY mutual DESC, reach.candidate LIMIT %s"
    ") r JOIN users u ON u.id = r.candidate"
    " WHERE r.candidate <> %s"
    " AND NOT EXISTS (SELECT 1 FROM friendships a"
    "   WHERE a.user1_id = %s AND a.user2_id = r.candidate)"
    " AND r.candidate NOT IN (SELECT blocked_id FROM user_blocks WHERE blocker_id = %s"
    "   UNION SELECT blocker_id FROM user_blocks WHERE blocked_id = %s)"
    " ORDER BY r.mutual DESC, r.candidate LIMIT %s"
)


FOF_CACHE_S = 300
FOF_SPARE = 10  # ranked past the page, so that a few new exclusions leave a full page
# Who among the candidates is now a friend or blocked either way: primary-key and index seeks.
_NOW_EXCLUDED = (
    "SELECT user2_id FROM friendships WHERE user1_id = %(me)s AND user2_id IN %(ids)s"
    " UNION SELECT blocked_id FROM user_blocks WHERE blocker_id = %(me)s AND blocked_id IN %(ids)s"
    " UNION SELECT blocker_id FROM user_blocks WHERE blocked_id = %(me)s AND blocker_id IN %(ids)s"
)


async def friends_of_friends(res: Resources, me: int, *, limit: int) -> list[SuggestedFriendOut]:
    """Friends of friends, remembered for ``FOF_CACHE_S`` in Redis.

    The ranking is a GROUP BY over up to 20,000 reached rows: 3 to 8 ms of MariaDB's CPU per
    call, by far the dearest read of the API (bench.api_latency --per-operation). A
    remembered page is checked again on every read against who is now a friend or blocked
    either way (one statement of index seeks), so the exclusions are never stale. What may
    be up to five minutes old is the ranking itself: mutual-friend counts, names, and
    candidates that friends' new friendships would add.
    """
    key = wire.friends_of_friends_key(me)
    field = str(limit)
    cached = await res.redis.hget(key, field)
    if cached is not None:
        ranked = SUGGESTIONS.validate_json(cached)
        excluded = {
            int(row[0])
            for row in await res.db.fetch(
                DIRECTORY_SHARD,
                _NOW_EXCLUDED,
                {"me": me, "ids": tuple(s.user_id for s in ranked) or (0,)},
            )
        }
        page = [s for s in ranked if s.user_id not in excluded]
        if len(page) >= limit or len(ranked) < limit + FOF_SPARE:  # full, or all there was
            return page[:limit]
    ranked = await _friends_of_friends(res, me, limit=limit + FOF_SPARE)
    async with res.redis.pipeline(transaction=False) as pipe:
        pipe.hset(key, field, SUGGESTIONS.dump_json(ranked))
        pipe.expire(key, FOF_CACHE_S)
        await pipe.execute()
    return ranked[:limit]


async def _friends_of_friends(res: Resources, me: int, *, limit: int) -> list[SuggestedFriendOut]:
    """The friends-of-friends ranking, from MariaDB.

    Bounded work whatever the graph: at most 100 of your friends, and at most 200 friends of
    each, are read (one UNION ALL of index range scans on idx_friendships_user1), so a hub with
    thousands of friends costs the same as anyone. A plain GROUP BY over all friends of all
    friends reads millions of rows for a hub (measured: 30 s timeouts at 100k users); ranking
    over the whole graph is the Neo4j recommendation job's work. Two statements through the
    driver: the sampled friends, then the ranked page with its names.
    """
    sampled = await res.db.fetch(
        DIRECTORY_SHARD, _FRIENDS_SAMPLED_SQL, {"me": me, "sampled": FOF_FRIENDS_SAMPLED}
    )
    if not sampled:
        return []
    excluded = 1 + int(sampled[0][1]) + int(sampled[0][2])  # the user, friends, blocks
    reach = " UNION ALL ".join([_REACH_BRANCH] * len(sampled))
    params: list[int] = []
    for friend, *_ in sampled:
        params += [friend, FOF_PER_FRIEND]
    params += [limit + excluded, me, me, me, me, limit]
    ranked = await res.db.fetch(DIRECTORY_SHARD, _FOF_RANKED_SQL.format(reach=reach), params)
    return [
        SuggestedFriendOut(
            user_id=user_id,
            mutual_friends=count,
            username=username,
            display_name=display_name,
            reasons=SuggestionReasons(
                mutual_friend_ids=[],
                shared_rooms=None,
                shared_groups=None,
                shared_subjects=None,
                same_community=None,
            ),
            source="friends_of_friends",
        )
        for user_id, count, username, display_name in ranked
    ]
