"""Friends and blocks: thin routes over domain.social."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response, status

from api.deps import Res, UserId
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain import communities
from domain import social as actions
from domain.resources import Resources
from domain.schemas.common import Id
from domain.schemas.social import (
    SUGGESTIONS,
    CommunityOut,
    CountOut,
    FriendOut,
    FriendRequestIn,
    FriendRequestOut,
    SuggestedFriendOut,
    UserCommunityOut,
)

router = APIRouter(tags=["friends"], responses=ERROR_RESPONSES)


@router.post("/friends/requests", status_code=status.HTTP_201_CREATED)
async def send_request(data: FriendRequestIn, user_id: UserId, res: Res) -> FriendRequestOut:
    return await actions.send_request(res, user_id, data.to_user_id)


@router.get("/friends/suggestions", response_model=list[SuggestedFriendOut])
async def friend_suggestions(
    user_id: UserId, res: Res, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> Response:
    """People you may know, with the reasons for each: the graph job's ranking (friends of
    friends, shared rooms, groups and subjects, communities; docs/graph.md), or, until the job
    has scored you, friends of your friends, most mutual friends first."""
    found = await actions.friend_suggestions(res, user_id, limit=limit)
    # Built from validated models already: serialised once, not validated a second time.
    return Response(SUGGESTIONS.dump_json(found), media_type="application/json")


@router.get("/friends/requests")
async def my_requests(
    user_id: UserId,
    res: Res,
    direction: Annotated[Literal["incoming", "outgoing"], Query()] = "incoming",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FriendRequestOut]:
    """Your own pending requests (nobody else's)."""
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.pending_requests(
        res, user_id, direction=direction, after=after, limit=limit + 1
    )
    return page_of(rows, limit, lambda r: r.id)


@router.post("/friends/requests/{request_id}/accept")
async def accept(request_id: Id, user_id: UserId, res: Res) -> FriendRequestOut:
    return await actions.accept(res, user_id, request_id)


@router.post("/friends/requests/{request_id}/decline")
async def decline(request_id: Id, user_id: UserId, res: Res) -> FriendRequestOut:
    return await actions.decline(res, user_id, request_id)


@router.delete("/friends/{other_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_friend(other_id: Id, user_id: UserId, res: Res) -> Response:
    await actions.remove_friend(res, user_id, other_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/blocks/{other_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["blocks"])
async def block(other_id: Id, user_id: UserId, res: Res) -> Response:
    """Block a user: ends a friendship and pending requests; idempotent."""
    await actions.block(res, user_id, other_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/blocks/{other_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["blocks"])
async def unblock(other_id: Id, user_id: UserId, res: Res) -> Response:
    await actions.unblock(res, user_id, other_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/users/{target_id}/friends")
async def friends(
    target_id: Id, user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[FriendOut]:
    del user_id
    return await friends_page(res, target_id, limit=limit, cursor=cursor)


async def friends_page(
    res: Resources, target_id: int, *, limit: int, cursor: str | None
) -> Page[FriendOut]:
    """A page of someone's friends (also api/hot.py's)."""
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.friends(res, target_id, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda r: r.user_id)


@router.get("/users/{target_id}/friends/count")
async def friend_count(target_id: Id, user_id: UserId, res: Res) -> CountOut:
    del user_id
    return CountOut(count=await actions.friend_count(res, target_id))


@router.get("/users/{target_id}/friends/mutual/{other_id}")
async def mutual(
    target_id: Id, other_id: Id, user_id: UserId, res: Res, limit: Limit = 50, cursor: Cursor = None
) -> Page[FriendOut]:
    del user_id
    return await mutual_page(res, target_id, other_id, limit=limit, cursor=cursor)


async def mutual_page(
    res: Resources, target_id: int, other_id: int, *, limit: int, cursor: str | None
) -> Page[FriendOut]:
    """A page of the friends two people share (also api/hot.py's)."""
    after = decode_cursor(cursor, kind=int) or 0
    rows = await actions.mutual_friends(res, target_id, other_id, after=after, limit=limit + 1)
    return page_of(rows, limit, lambda r: r.user_id)


@router.get("/users/{target_id}/community", tags=["communities"])
async def user_community(target_id: Id, user_id: UserId, res: Res) -> UserCommunityOut:
    """The user's community of friends, its size, their PageRank and their rank in it, as the
    nightly graph jobs last computed them (docs/graph.md). 404 for a user the jobs have not
    placed yet, or between users who block each other."""
    return await communities.of_user(res, user_id, target_id)


@router.get("/communities/{community_id}", tags=["communities"])
async def community(
    community_id: Annotated[int, Path(ge=0, le=2**63 - 1)],
    user_id: UserId,
    res: Res,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
) -> CommunityOut:
    """A community's size and its ``top`` most influential members (weighted PageRank over
    friendships), leaving out anyone who has blocked you."""
    return await communities.community(res, user_id, community_id, top=top)
