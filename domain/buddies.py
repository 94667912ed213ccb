"""Study buddies: profiles, ranked suggestions, requests (directory shard)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import CompoundSelect, delete, func, select, union
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import (
    BuddyRequest,
    Friendship,
    StudyBuddy,
    StudyProfile,
    StudyProfileSubject,
    User,
    UserBlock,
    UserGraphMetrics,
)
from core.events import BuddyAccepted, BuddyRequested, SubjectsChanged
from domain.buddy_matching import Candidate, Proximity, Slot, rank
from domain.errors import Conflict, Forbidden, Invalid, NotFound
from domain.resources import Resources
from domain.schemas.buddies import (
    AvailabilitySlot,
    BuddyOut,
    BuddyRequestOut,
    StudyProfileIn,
    StudyProfileOut,
    SuggestionOut,
)
from domain.social import (
    FOF_FRIENDS_SAMPLED,
    answer_pending,
    blocked_between,
    lock_pair,
    pending_requests_of,
    refuse_pending_between,
    two_hop_reach,
)

CANDIDATE_POOL = 500


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _profile_out(profile: StudyProfile) -> StudyProfileOut:
    return StudyProfileOut(
        user_id=profile.user_id,
        subjects=list(profile.subjects),
        timezone=profile.timezone,
        availability=[AvailabilitySlot.model_validate(s) for s in profile.availability],
        goals=profile.goals,
        updated_at=profile.updated_at,
    )


async def put_profile(res: Resources, user_id: int, data: StudyProfileIn) -> StudyProfileOut:
    subjects = sorted({s.lower() for s in data.subjects})
    availability = [slot.model_dump() for slot in data.availability]
    async with res.db.directory().begin() as session:
        await session.execute(
            insert(StudyProfile)
            .values(
                user_id=user_id,
                subjects=subjects,
                timezone=data.timezone,
                availability=availability,
                goals=data.goals,
                updated_at=_now(),
            )
            .on_duplicate_key_update(
                subjects=subjects,
                timezone=data.timezone,
                availability=availability,
                goals=data.goals,
                updated_at=_now(),
            )
        )
        await session.execute(
            delete(StudyProfileSubject).where(StudyProfileSubject.user_id == user_id)
        )
        await session.execute(
            insert(StudyProfileSubject).values(
                [{"user_id": user_id, "subject": s} for s in subjects]
            )
        )
    res.publisher.publish(SubjectsChanged(user_id=user_id, subjects=subjects))
    return await get_profile(res, user_id)


async def get_profile(res: Resources, user_id: int) -> StudyProfileOut:
    async with res.db.directory()() as session:
        profile = await session.get(StudyProfile, user_id, populate_existing=True)
    if profile is None:
        raise NotFound("no study profile yet: set one with PUT /users/me/study-profile")
    return _profile_out(profile)


async def suggestions(res: Resources, user_id: int, *, limit: int) -> list[SuggestionOut]:
    """Candidates who share a subject, and people near you in the friendship graph (friends
    and friends of friends) who have a study profile; ranked by domain.buddy_matching."""
    async with res.db.directory()() as session:
        mine = await session.get(StudyProfile, user_id)
        if mine is None:
            raise NotFound("no study profile yet: set one with PUT /users/me/study-profile")
        excluded = union(
            select(StudyBuddy.buddy_id).where(StudyBuddy.user_id == user_id),
            select(UserBlock.blocked_id).where(UserBlock.blocker_id == user_id),
            select(UserBlock.blocker_id).where(UserBlock.blocked_id == user_id),
        )
        by_subject = (
            (
                await session.execute(
                    select(StudyProfileSubject.user_id)
                    .where(
                        StudyProfileSubject.subject.in_(mine.subjects),
                        StudyProfileSubject.user_id != user_id,
                        StudyProfileSubject.user_id.not_in(excluded),
                    )
                    .group_by(StudyProfileSubject.user_id)
                    .order_by(func.count().desc(), StudyProfileSubject.user_id)
                    .limit(CANDIDATE_POOL)
                )
            )
            .scalars()
            .all()
        )
        friends, mutual = await _near_in_graph(session, user_id, excluded)
        pool = {*by_subject, *mutual, *friends}
        rows = (
            await session.execute(
                select(StudyProfile, User.username, User.display_name)
                .join(User, User.id == StudyProfile.user_id)
                .where(StudyProfile.user_id.in_(pool))
            )
        ).all()
        communities: dict[int, int | None] = {
            row.user_id: row.community_id
            for row in await session.execute(
                select(UserGraphMetrics.user_id, UserGraphMetrics.community_id).where(
                    UserGraphMetrics.user_id.in_({user_id, *pool}),
                    UserGraphMetrics.community_id.is_not(None),
                )
            )
        }

    def candidate(profile: StudyProfile) -> Candidate:
        return Candidate(
            user_id=profile.user_id,
            subjects=frozenset(profile.subjects),
            timezone=profile.timezone,
            slots=tuple(Slot(s["day"], s["start"], s["end"]) for s in profile.availability),
        )

    my_community = communities.get(user_id)
    proximity = {
        other: Proximity(
            mutual_friends=mutual.get(other, 0),
            friends=other in friends,
            same_community=(
                None
                if my_community is None or other not in communities
                else communities[other] == my_community
            ),
        )
        for other in pool
    }
    names = {row[0].user_id: (row[1], row[2]) for row in rows}
    ranked = rank(candidate(mine), [candidate(row[0]) for row in rows], proximity=proximity)
    return [
        SuggestionOut(
            user_id=s.user_id,
            username=names[s.user_id][0],
            display_name=names[s.user_id][1],
            score=s.score,
            shared_subjects=list(s.shared_subjects),
            common_hours=s.common_hours,
            timezone_gap_hours=s.timezone_gap_hours,
            mutual_friends=s.proximity.mutual_friends,
            friends=s.proximity.friends,
            same_community=s.proximity.same_community,
            reason=s.reason,
        )
        for s in ranked[:limit]
    ]


async def _near_in_graph(
    session: AsyncSession, me: int, excluded: CompoundSelect[int]
) -> tuple[set[int], dict[int, int]]:
    """Your friends, and the friends of friends with a study profile by mutual friends (at
    most ``CANDIDATE_POOL``), minus buddies and blocks.

    Bounded as the friends-of-friends fallback is (domain.social): at most
    ``FOF_FRIENDS_SAMPLED`` of your friends are walked, ``FOF_PER_FRIEND`` friends each, in one
    UNION ALL of index range scans. For anyone with fewer friends than that the counts are exact.
    """
    friends = set(
        (
            await session.scalars(
                select(Friendship.user2_id)
                .where(Friendship.user1_id == me, Friendship.user2_id.not_in(excluded))
                .order_by(Friendship.user2_id)
                .limit(CANDIDATE_POOL)
            )
        ).all()
    )
    if not friends:
        return friends, {}
    walked = sorted(friends)[:FOF_FRIENDS_SAMPLED]
    reach = two_hop_reach(walked)
    count = func.count().label("mutual")
    ranked = (
        await session.execute(
            select(reach.c.candidate, count)
            .join(StudyProfile, StudyProfile.user_id == reach.c.candidate)
            .where(reach.c.candidate != me, reach.c.candidate.not_in(excluded))
            .group_by(reach.c.candidate)
            .order_by(count.desc(), reach.c.candidate)
            .limit(CANDIDATE_POOL)
        )
    ).all()
    return friends, {int(candidate): int(mutual) for candidate, mutual in ranked}


async def send_request(res: Resources, me: int, to: int, message: str | None) -> BuddyRequestOut:
    if to == me:
        raise Invalid("to_user_id: you cannot be your own study buddy")
    async with res.db.directory().begin() as session:
        await lock_pair(session, me, to)
        block = await blocked_between(session, me, to)
        if block is not None:
            who = (
                "you blocked them"
                if block.blocker_id == me
                else "they do not accept requests from you"
            )
            raise Forbidden(f"cannot ask user {to}: {who}", code="blocked")
        if await session.get(StudyBuddy, (me, to)) is not None:
            raise Conflict(f"you and user {to} are already study buddies", code="already_buddies")
        await refuse_pending_between(session, BuddyRequest, me, to)
        request = BuddyRequest(
            id=res.ids.next_id(),
            from_user_id=me,
            to_user_id=to,
            status="pending",
            message=message,
            created_at=_now(),
        )
        session.add(request)
    res.publisher.publish(BuddyRequested(from_user_id=me, to_user_id=to, request_id=request.id))
    return BuddyRequestOut.model_validate(request)


async def respond(
    res: Resources, me: int, request_id: int, verdict: Literal["accepted", "declined"]
) -> BuddyRequestOut:
    async with res.db.directory().begin() as session:
        request = await answer_pending(session, BuddyRequest, request_id, me, verdict)
        if verdict == "accepted":
            await session.execute(
                insert(StudyBuddy)
                .values(
                    [
                        {"user_id": me, "buddy_id": request.from_user_id, "created_at": _now()},
                        {"user_id": request.from_user_id, "buddy_id": me, "created_at": _now()},
                    ]
                )
                .prefix_with("IGNORE")
            )
    if verdict == "accepted":
        res.publisher.publish(
            BuddyAccepted(from_user_id=request.from_user_id, to_user_id=me, request_id=request_id)
        )
    return BuddyRequestOut.model_validate(request)


async def pending_requests(
    res: Resources, me: int, *, direction: Literal["incoming", "outgoing"], after: int, limit: int
) -> list[BuddyRequestOut]:
    rows = await pending_requests_of(
        res, BuddyRequest, me, direction=direction, after=after, limit=limit
    )
    return [BuddyRequestOut.model_validate(row) for row in rows]


async def buddies(res: Resources, me: int, *, after: int, limit: int) -> list[BuddyOut]:
    async with res.db.directory()() as session:
        rows = (
            await session.execute(
                select(StudyBuddy.buddy_id, StudyBuddy.created_at, User.username, User.display_name)
                .join(User, User.id == StudyBuddy.buddy_id)
                .where(StudyBuddy.user_id == me, StudyBuddy.buddy_id > after)
                .order_by(StudyBuddy.buddy_id)
                .limit(limit)
            )
        ).all()
    return [
        BuddyOut(
            user_id=r.buddy_id, username=r.username, display_name=r.display_name, since=r.created_at
        )
        for r in rows
    ]
