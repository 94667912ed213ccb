"""Discussion groups, their members and threads of posts (directory shard)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.mysql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db.models import DiscussionGroup, GroupMember, GroupPost
from core.events import GroupJoined, GroupLeft
from domain.errors import Conflict, Forbidden, NotFound
from domain.resources import Resources
from domain.schemas.groups import GroupCreateIn, GroupOut, MemberOut, PostIn, PostOut
from domain.users import escape_like


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _member_count(session: AsyncSession, group_id: int) -> int:
    count = await session.scalar(
        select(func.count()).select_from(GroupMember).where(GroupMember.group_id == group_id)
    )
    return int(count or 0)


def _out(group: DiscussionGroup, members: int) -> GroupOut:
    return GroupOut(
        id=group.id,
        name=group.name,
        description=group.description,
        subject=group.subject,
        visibility=group.visibility,
        owner_id=group.owner_id,
        member_count=members,
        created_at=group.created_at,
    )


async def _visible_group(session: AsyncSession, group_id: int, user_id: int) -> DiscussionGroup:
    group = await session.get(DiscussionGroup, group_id)
    if group is None or (
        group.visibility == "private"
        and await session.get(GroupMember, (group_id, user_id)) is None
    ):
        raise NotFound(f"group {group_id} does not exist")
    return group


async def create_group(res: Resources, owner_id: int, data: GroupCreateIn) -> GroupOut:
    group = DiscussionGroup(
        id=res.ids.next_id(),
        owner_id=owner_id,
        name=data.name,
        description=data.description,
        subject=data.subject.lower() if data.subject else None,
        visibility=data.visibility,
        created_at=_now(),
    )
    async with res.db.directory().begin() as session:
        session.add(group)
        await session.flush()
        session.add(
            GroupMember(group_id=group.id, user_id=owner_id, role="owner", joined_at=_now())
        )
    res.publisher.publish(GroupJoined(group_id=group.id, user_id=owner_id))
    return _out(group, 1)


async def get_group(res: Resources, group_id: int, user_id: int) -> GroupOut:
    async with res.db.directory()() as session:
        group = await _visible_group(session, group_id, user_id)
        return _out(group, await _member_count(session, group_id))


async def list_groups(
    res: Resources, *, subject: str | None, query: str | None, before: int | None, limit: int
) -> list[GroupOut]:
    """Public groups, newest first."""
    statement = select(DiscussionGroup).where(DiscussionGroup.visibility == "public")
    if subject:
        statement = statement.where(DiscussionGroup.subject == subject.lower())
    if query:
        statement = statement.where(DiscussionGroup.name.like(escape_like(query) + "%"))
    if before is not None:
        statement = statement.where(DiscussionGroup.id < before)
    async with res.db.directory()() as session:
        groups = (
            await session.scalars(statement.order_by(DiscussionGroup.id.desc()).limit(limit))
        ).all()
        counts: dict[int | None, int] = {
            row[0]: int(row[1])
            for row in (
                await session.execute(
                    select(GroupMember.group_id, func.count())
                    .where(GroupMember.group_id.in_([g.id for g in groups]))
                    .group_by(GroupMember.group_id)
                )
            ).all()
        }
    return [_out(g, int(counts.get(g.id, 0))) for g in groups]


async def join_group(res: Resources, group_id: int, user_id: int) -> GroupOut:
    async with res.db.directory().begin() as session:
        group = await session.get(DiscussionGroup, group_id)
        if group is None:
            raise NotFound(f"group {group_id} does not exist")
        is_member = await session.get(GroupMember, (group_id, user_id)) is not None
        if group.visibility == "private" and not is_member:
            raise NotFound(f"group {group_id} does not exist")
        joined = 0
        if not is_member:
            joined = (
                await session.execute(
                    insert(GroupMember)
                    .values(group_id=group_id, user_id=user_id, role="member", joined_at=_now())
                    .prefix_with("IGNORE")
                )
            ).rowcount  # type: ignore[attr-defined]
        out = _out(group, await _member_count(session, group_id))
    if joined:
        res.publisher.publish(GroupJoined(group_id=group_id, user_id=user_id))
    return out


async def leave_group(res: Resources, group_id: int, user_id: int) -> GroupOut:
    async with res.db.directory().begin() as session:
        group = await _visible_group(session, group_id, user_id)
        if group.owner_id == user_id:
            raise Conflict("the owner cannot leave their own group", code="owner_cannot_leave")
        left = (
            await session.execute(
                delete(GroupMember).where(
                    GroupMember.group_id == group_id, GroupMember.user_id == user_id
                )
            )
        ).rowcount  # type: ignore[attr-defined]
        out = _out(group, await _member_count(session, group_id))
    if left:
        res.publisher.publish(GroupLeft(group_id=group_id, user_id=user_id))
    return out


async def members(
    res: Resources, group_id: int, user_id: int, *, after: int, limit: int
) -> list[MemberOut]:
    async with res.db.directory()() as session:
        await _visible_group(session, group_id, user_id)
        rows = (
            await session.scalars(
                select(GroupMember)
                .where(GroupMember.group_id == group_id, GroupMember.user_id > after)
                .order_by(GroupMember.user_id)
                .limit(limit)
            )
        ).all()
    return [MemberOut(user_id=m.user_id, role=m.role, joined_at=m.joined_at) for m in rows]


def _post_out(post: GroupPost, replies: int = 0) -> PostOut:
    return PostOut(
        id=post.id,
        group_id=post.group_id,
        author_id=post.author_id,
        parent_id=post.parent_id,
        root_id=post.root_id,
        title=post.title,
        body=post.body,
        created_at=post.created_at,
        reply_count=replies,
    )


async def create_post(res: Resources, group_id: int, author_id: int, data: PostIn) -> PostOut:
    async with res.db.directory().begin() as session:
        await _visible_group(session, group_id, author_id)
        if await session.get(GroupMember, (group_id, author_id)) is None:
            raise Forbidden("join the group to post in it", code="not_member")
        root_id: int | None = None
        if data.parent_id is not None:
            parent = await session.get(GroupPost, data.parent_id)
            if parent is None or parent.group_id != group_id:
                raise NotFound(f"post {data.parent_id} does not exist in group {group_id}")
            root_id = parent.root_id or parent.id
        post = GroupPost(
            id=res.ids.next_id(),
            group_id=group_id,
            author_id=author_id,
            parent_id=data.parent_id,
            root_id=root_id,
            title=data.title,
            body=data.body,
            created_at=_now(),
        )
        session.add(post)
    return _post_out(post)


async def threads(
    res: Resources, group_id: int, user_id: int, *, before: int | None, limit: int
) -> list[PostOut]:
    """Thread starters, newest first, each with its reply count."""
    async with res.db.directory()() as session:
        await _visible_group(session, group_id, user_id)
        statement = select(GroupPost).where(
            GroupPost.group_id == group_id, GroupPost.root_id.is_(None)
        )
        if before is not None:
            statement = statement.where(GroupPost.id < before)
        roots = (await session.scalars(statement.order_by(GroupPost.id.desc()).limit(limit))).all()
        counts: dict[int | None, int] = {
            row[0]: int(row[1])
            for row in (
                await session.execute(
                    select(GroupPost.root_id, func.count())
                    .where(
                        GroupPost.group_id == group_id, GroupPost.root_id.in_([p.id for p in roots])
                    )
                    .group_by(GroupPost.root_id)
                )
            ).all()
        }
    return [_post_out(p, int(counts.get(p.id, 0))) for p in roots]


async def replies(
    res: Resources, group_id: int, post_id: int, user_id: int, *, after: int, limit: int
) -> list[PostOut]:
    """Every reply in the thread of ``post_id``, oldest first (parent_id gives the tree)."""
    async with res.db.directory()() as session:
        await _visible_group(session, group_id, user_id)
        post = await session.get(GroupPost, post_id)
        if post is None or post.group_id != group_id:
            raise NotFound(f"post {post_id} does not exist in group {group_id}")
        root = post.root_id or post.id
        rows = (
            await session.scalars(
                select(GroupPost)
                .where(
                    GroupPost.group_id == group_id, GroupPost.root_id == root, GroupPost.id > after
                )
                .order_by(GroupPost.id)
                .limit(limit)
            )
        ).all()
    return [_post_out(p) for p in rows]
