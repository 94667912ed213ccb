"""What the hot routes (api/hot.py) take on themselves, and what they leave to FastAPI."""

from __future__ import annotations

import pytest

from api import hot

PAGE = {"limit": hot.Param(50, 1, 200), "cursor": hot.Param(None, max_length=200)}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", {"limit": 50, "cursor": None}),
        (b"limit=7", {"limit": 7, "cursor": None}),
        (b"limit=200&cursor=abc", {"limit": 200, "cursor": "abc"}),
        (b"cursor=a%3D%3D&other=x&other=y", {"limit": 50, "cursor": "a=="}),  # unknown: ignored
    ],
)
def test_plain_queries_are_answered(raw: bytes, expected: dict[str, object]) -> None:
    assert hot._query(raw, PAGE) == expected


@pytest.mark.parametrize(
    "raw",
    [
        b"limit=0",
        b"limit=201",
        b"limit=07",
        b"limit=%2B7",
        b"limit=7.0",
        b"limit=%207",
        b"limit=",
        b"limit=abc",
        b"limit=1&limit=2",
        b"cursor=",
        b"cursor=" + b"x" * 201,
        b"limit=99999999999999999999",
    ],
)
def test_anything_else_goes_to_fastapi(raw: bytes) -> None:
    assert hot._query(raw, PAGE) is None


def _scope(*headers: tuple[bytes, bytes]) -> dict[str, object]:
    return {"headers": list(headers)}


def test_only_a_plain_bearer_token_is_taken() -> None:
    assert hot._bearer(_scope((b"authorization", b"Bearer abc.def"))) == "abc.def"
    for value in (b"bearer abc", b"Bearer ", b"Bearer a b", b"Basic abc", b"Bearerabc"):
        assert hot._bearer(_scope((b"authorization", value))) is None, value
    assert hot._bearer(_scope()) is None
    twice = _scope((b"authorization", b"Bearer a"), (b"authorization", b"Bearer b"))
    assert hot._bearer(twice) is None


def _route(method: str, path: str) -> tuple[hot.HotRoute, tuple[int, ...] | None] | None:
    for route in hot.ROUTES:
        match = route.path.fullmatch(path)
        if route.method == method and match:
            return route, hot._ids(match)
    return None


def test_routes_and_ids() -> None:
    found = _route("GET", "/users/12/friends/mutual/34")
    assert found is not None
    assert found[1] == (12, 34)
    assert found[0].handler is hot._mutual
    assert _route("POST", "/rooms/5/join") is not None
    assert _route("GET", "/rooms/5/join") is None  # method
    assert _route("GET", "/users/12/friends/") is None  # trailing slash: FastAPI redirects
    assert _route("GET", "/users/0/friends") is None  # ids start at 1
    assert _route("GET", "/users/012/friends") is None
    too_big = _route("GET", f"/users/{2**63}/friends")
    assert too_big is not None
    assert too_big[1] is None  # out of range: FastAPI's 422
    biggest = _route("GET", f"/users/{2**63 - 1}/friends")
    assert biggest is not None
    assert biggest[1] == (2**63 - 1,)
