"""The hottest routes, answered without the framework's per-request layers.

Under the benchmark's mixed load (bench.api_latency), py-spy put about a third of an API
worker's CPU in FastAPI and Starlette around the endpoints: route matching over every route,
dependency solving, the response validated again before it is serialised, five middleware
layers. For the six requests that make up nearly all of a study app's REST traffic (room join
and leave, a history page, a friend list, mutual friends, people you may know) this ASGI
middleware matches the path itself, checks the token, calls the same domain function the
FastAPI route calls, and writes the same bytes.

It only answers requests in the plain form both paths agree on: a known route, ids and integer
parameters in canonical decimal within their bounds, a cursor within its length, a bearer token
that verifies. Anything else (no token, ``limit=abc``, ``limit=0``, a repeated parameter, a
trailing slash) goes on to FastAPI, which answers it as it always has: the 401s and 422s, and the
OpenAPI document, stay FastAPI's. Errors raised on the way (a domain error, a store away) are
rendered by the application's own exception handlers. tests/integration/test_api_hot.py checks
that both paths answer the same requests with the same status, headers and bytes.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from pydantic import TypeAdapter
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from api.deps import count_request
from api.pagination import Page
from api.routes.chat import MessagesPage, history_page
from api.routes.social import friends_page, mutual_page
from domain import rooms, social
from domain.auth import user_id_from_token
from domain.resources import Resources
from domain.schemas.rooms import RoomOut
from domain.schemas.social import SUGGESTIONS, FriendOut

MAX_ID = 2**63 - 1
_DIGITS = re.compile(r"[1-9][0-9]{0,18}")
_ID = "([1-9][0-9]{0,18})"

# The serialisers FastAPI's routes use for these response models (by_alias, as FastAPI does).
_ROOM = TypeAdapter(RoomOut)
_FRIENDS = TypeAdapter(Page[FriendOut])
_MESSAGES = TypeAdapter(MessagesPage)

Query = dict[str, Any]
Handler = Callable[[Resources, int, tuple[int, ...], Query], Awaitable[bytes]]


@dataclass(frozen=True)
class Param:
    """A query parameter as the FastAPI route declares it: an integer within bounds, or a string
    of at most ``max_length`` characters."""

    default: int | None
    low: int = 1
    high: int = MAX_ID
    max_length: int | None = None  # set: a string parameter


@dataclass(frozen=True)
class HotRoute:
    method: str
    path: re.Pattern[str]
    params: dict[str, Param]
    handler: Handler


async def _join(res: Resources, user_id: int, ids: tuple[int, ...], _: Query) -> bytes:
    return _ROOM.dump_json(await rooms.join_room(res, ids[0], user_id), by_alias=True)


async def _leave(res: Resources, user_id: int, ids: tuple[int, ...], _: Query) -> bytes:
    return _ROOM.dump_json(await rooms.leave_room(res, ids[0], user_id), by_alias=True)


async def _history(res: Resources, user_id: int, ids: tuple[int, ...], q: Query) -> bytes:
    page = await history_page(res, user_id, ids[0], q["before_seq"], limit=q["limit"])
    return _MESSAGES.dump_json(page, by_alias=True)


async def _friends(res: Resources, _: int, ids: tuple[int, ...], q: Query) -> bytes:
    page = await friends_page(res, ids[0], limit=q["limit"], cursor=q["cursor"])
    return _FRIENDS.dump_json(page, by_alias=True)


async def _mutual(res: Resources, _: int, ids: tuple[int, ...], q: Query) -> bytes:
    page = await mutual_page(res, ids[0], ids[1], limit=q["limit"], cursor=q["cursor"])
    return _FRIENDS.dump_json(page, by_alias=True)


async def _suggestions(res: Resources, user_id: int, _: tuple[int, ...], q: Query) -> bytes:
    found = await social.friend_suggestions(res, user_id, limit=q["limit"])
    return SUGGESTIONS.dump_json(found)  # as the route writes it


_PAGE = {"limit": Param(50, 1, 200), "cursor": Param(None, max_length=200)}

ROUTES: tuple[HotRoute, ...] = (
    HotRoute("POST", re.compile(f"/rooms/{_ID}/join"), {}, _join),
    HotRoute("POST", re.compile(f"/rooms/{_ID}/leave"), {}, _leave),
    HotRoute(
        "GET",
        re.compile(f"/rooms/{_ID}/messages"),
        {"before_seq": Param(None), "limit": Param(50, 1, 100)},
        _history,
    ),
    HotRoute("GET", re.compile(f"/users/{_ID}/friends"), _PAGE, _friends),
    HotRoute("GET", re.compile(f"/users/{_ID}/friends/mutual/{_ID}"), _PAGE, _mutual),
    HotRoute("GET", re.compile("/friends/suggestions"), {"limit": Param(20, 1, 100)}, _suggestions),
)


def _ids(match: re.Match[str]) -> tuple[int, ...] | None:
    ids = tuple(int(group) for group in match.groups())
    return ids if all(i <= MAX_ID for i in ids) else None


def _query(raw: bytes, params: dict[str, Param]) -> Query | None:
    """The route's parameters, or None when any is not in the plain form (FastAPI decides)."""
    values: Query = {name: param.default for name, param in params.items()}
    if not raw:
        return values
    seen: set[str] = set()
    # Parsed as Starlette parses it; parameters the route does not declare are ignored there.
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        param = params.get(name)
        if param is None:
            continue
        if name in seen or not value:
            return None
        seen.add(name)
        if param.max_length is not None:
            if len(value) > param.max_length:
                return None
            values[name] = value
        elif _DIGITS.fullmatch(value) and param.low <= (number := int(value)) <= param.high:
            values[name] = number
        else:
            return None
    return values


def _bearer(scope: Scope) -> str | None:
    """The bearer token, when the request carries exactly the plain form of one."""
    found = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if found is not None:
                return None
            found = value
    if found is None or not found.startswith(b"Bearer "):
        return None
    token = found[7:].decode("latin-1")
    return token if token and " " not in token else None


class HotRoutes:
    """ASGI middleware: the routes of ``ROUTES`` answered directly, everything else passed on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in ROUTES:
                if route.method != scope["method"]:
                    continue
                match = route.path.fullmatch(scope["path"])
                if match is None:
                    continue
                if await self._answer(route, match, scope, receive, send):
                    return
                break
        await self.app(scope, receive, send)

    async def _answer(
        self, route: HotRoute, match: re.Match[str], scope: Scope, receive: Receive, send: Send
    ) -> bool:
        """Answer the request; False, having sent nothing, when FastAPI should."""
        ids = _ids(match)
        query = _query(scope["query_string"], route.params)
        token = _bearer(scope)
        if ids is None or query is None or token is None:
            return False
        res: Resources = scope["app"].state.resources
        user_id = user_id_from_token(res.settings, token)
        if user_id is None:
            return False
        try:
            count_request(res, user_id)
            body = await route.handler(res, user_id, ids, query)
        except Exception as error:  # noqa: BLE001 - rendered by the app's handlers, as FastAPI does
            await self._error(scope, receive, send, error)
            return True
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return True

    @staticmethod
    async def _error(scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
        """Rendered by the handler the application registered for the error's class, the
        nearest in its MRO, as Starlette looks it up."""
        handlers = scope["app"].exception_handlers
        handler = next(handlers[kind] for kind in type(error).__mro__ if kind in handlers)
        response = handler(Request(scope, receive), error)
        if inspect.isawaitable(response):
            response = await response
        await response(scope, receive, send)
