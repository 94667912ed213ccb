"""Request dependencies: the shared resources (domain.resources), the current user, rate limits."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from domain.auth import user_id_from_token
from domain.errors import Unauthorized
from domain.resources import Resources


async def get_resources(request: Request) -> Resources:
    # async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread
    # hop on every request for what is an attribute read.
    resources: Resources = request.app.state.resources
    return resources


Res = Annotated[Resources, Depends(get_resources)]

_bearer = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


def count_request(resources: Resources, user_id: int) -> None:
    """The per-user request limit (domain.limits: counted in memory, summed in Redis)."""
    resources.limiter.count(
        "user", str(user_id), limit=resources.settings.rate_limit_user_per_minute
    )


async def current_user_id(resources: Res, token: Annotated[str | None, Depends(_bearer)]) -> int:
    if not token:
        raise Unauthorized("missing bearer token: log in at POST /auth/token")
    user_id = user_id_from_token(resources.settings, token)
    if user_id is None:
        raise Unauthorized("invalid or expired token: log in again at POST /auth/token")
    count_request(resources, user_id)
    return user_id


UserId = Annotated[int, Depends(current_user_id)]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"
