"""Every error leaves the API as ``{"error": code, "message": text}`` with the right status.

The domain raises ``domain.errors.DomainError``; this module is where it becomes HTTP."""

from __future__ import annotations

import logging
import math
from typing import Any

import neo4j.exceptions
import redis.exceptions
import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
    store_unavailable,
)

log = logging.getLogger(__name__)

# The client libraries' base errors that can mean "the store is away" (domain.errors decides).
STORE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sqlalchemy.exc.DBAPIError,
    sqlalchemy.exc.TimeoutError,
    neo4j.exceptions.ServiceUnavailable,
    neo4j.exceptions.SessionExpired,
)


class ErrorBody(BaseModel):
    error: str
    message: str
    details: list[dict[str, Any]] | None = None


# The HTTP status of each domain error; a subclass takes its nearest listed ancestor's.
STATUS: dict[type, int] = {
    NotFound: 404,
    Forbidden: 403,
    Conflict: 409,
    Unauthorized: 401,
    Invalid: 422,
    Unavailable: 503,
    RateLimited: 429,
    DomainError: 400,
}


def status_of(error: DomainError) -> int:
    return next(STATUS[kind] for kind in type(error).__mro__ if kind in STATUS)


# What the OpenAPI document advertises for the error statuses each route can return.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        401: "Missing or invalid bearer token",
        403: "Not allowed",
        404: "Not found",
        409: "Conflicts with the current state",
        422: "Invalid input",
        429: "Rate limited; see Retry-After",
        503: "A store is unavailable; see Retry-After",
    }.items()
}


def _body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if details is not None:
        body["details"] = details
    return body


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(_: Request, error: DomainError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(error, RateLimited | Unavailable):
            headers["Retry-After"] = str(max(1, math.ceil(error.retry_after)))
        if isinstance(error, Unauthorized):
            headers["WWW-Authenticate"] = "Bearer"
        return JSONResponse(_body(error.code, error.message), status_of(error), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            {
                "loc": list(item.get("loc", ())),
                "msg": str(item.get("msg", "")),
                "type": item.get("type"),
            }
            for item in error.errors()
        ]
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(part) for part in first["loc"] if part != "body") or "request"
        return JSONResponse(
            _body("validation_error", f"{where}: {first['msg']}", details), status_code=422
        )

    def internal(request: Request, error: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
        return JSONResponse(
            _body("internal_error", f"unexpected {type(error).__name__}; it has been logged"),
            status_code=500,
        )

    async def store_away(request: Request, error: Exception) -> JSONResponse:
        """A store that is down is a 503 naming it, with Retry-After; any other error of the
        same client library is still a bug, and a 500."""
        away = store_unavailable(error)
        if away is None:
            return internal(request, error)
        log.warning("%s %s: %s (%s)", request.method, request.url.path, away.message, error)
        return await domain_error(request, away)

    for kind in STORE_ERRORS:
        app.add_exception_handler(kind, store_away)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        return internal(request, error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}
        return JSONResponse(
            _body(codes.get(error.status_code, "http_error"), str(error.detail)),
            status_code=error.status_code,
            headers=error.headers,
        )
