"""Auth and users: thin routes over domain.users."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import Res, UserId, client_ip
from api.errors import ERROR_RESPONSES
from api.pagination import Cursor, Limit, Page, decode_cursor, page_of
from domain import paths
from domain import users as actions
from domain.schemas.common import Id
from domain.schemas.social import PathOut
from domain.schemas.users import RegisterIn, TokenOut, UserOut

router = APIRouter(responses=ERROR_RESPONSES)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, tags=["auth"])
async def register(data: RegisterIn, res: Res, request: Request) -> UserOut:
    """Create an account. Limited per client IP."""
    await res.limiter.hit("auth", client_ip(request), limit=res.settings.rate_limit_auth_per_minute)
    return await actions.register_user(res, data)


@router.post("/auth/token", tags=["auth"])
async def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], res: Res, request: Request
) -> TokenOut:
    """OAuth2 password flow: form fields username and password; returns a bearer JWT."""
    await res.limiter.hit("auth", client_ip(request), limit=res.settings.rate_limit_auth_per_minute)
    return await actions.login(res, form.username, form.password)


@router.get("/users/me", tags=["users"])
async def me(user_id: UserId, res: Res) -> UserOut:
    return await actions.get_user(res, user_id)


@router.get("/users/search", tags=["users"])
async def search(
    user_id: UserId,
    res: Res,
    q: Annotated[str, Query(min_length=1, max_length=64, description="Prefix of a name.")],
    limit: Limit = 20,
    cursor: Cursor = None,
) -> Page[UserOut]:
    """Prefix search on username and display name (friend search)."""
    after = decode_cursor(cursor, kind=str)
    users = await actions.search_users(
        res, viewer_id=user_id, query=q, after=after, limit=limit + 1
    )
    return page_of(users, limit, lambda u: u.username)


@router.get("/users/{target_id}", tags=["users"])
async def get_user(target_id: Id, user_id: UserId, res: Res) -> UserOut:
    del user_id  # any signed-in user may look a profile up
    return await actions.get_user(res, target_id)


@router.get("/users/{user_id}/path/{other_id}", tags=["users"])
async def friend_path(
    user_id: Id,
    other_id: Id,
    me: UserId,
    res: Res,
    max_hops: Annotated[int, Query(ge=1, le=paths.MAX_HOPS)] = paths.MAX_HOPS,
) -> PathOut:
    """The shortest chain of friends from one user to another, both ends included, at most
    ``max_hops`` friendships long, never through anyone you have blocked or who has blocked
    you. 404 when there is none (or a block between the two); 503 when the graph is away.
    Read from Neo4j, which follows MySQL within the event sync's lag (docs/graph.md)."""
    return await paths.path(res, me, user_id, other_id, max_hops=max_hops)
