"""Auth and users, through HTTP against the real services."""

from __future__ import annotations

import uuid

import httpx
import pytest

from core.settings import Settings
from tests.utils.api import People, live_api

pytestmark = pytest.mark.integration


def _error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code, body
    assert body["message"]
    return str(body["message"])


def test_register_login_and_me(people: People) -> None:
    alice = people.register(prefix="alice", timezone="Europe/Berlin", subjects=["Math", "physics"])
    me = alice.http.get("/users/me")
    assert me.status_code == 200
    assert me.json()["username"] == alice.username
    assert me.json()["timezone"] == "Europe/Berlin"
    other = alice.http.get(f"/users/{alice.id}")
    assert other.json()["id"] == alice.id


def test_duplicate_username_is_409(api_url: str, people: People) -> None:
    alice = people.register()
    body = {"username": alice.username, "password": "another pw", "display_name": "x"}
    _error(httpx.post(f"{api_url}/auth/register", json=body), 409, "username_taken")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("password", "short", "password"),
        ("username", "no spaces allowed", "username"),
        ("username", "ab", "username"),
        ("timezone", "Mars/Olympus", "unknown time zone"),
        ("display_name", "", "display_name"),
    ],
)
def test_register_validation_is_422(api_url: str, field: str, value: str, fragment: str) -> None:
    body = {"username": f"v{uuid.uuid4().hex[:10]}", "password": "long enough", "display_name": "V"}
    body[field] = value
    message = _error(httpx.post(f"{api_url}/auth/register", json=body), 422, "validation_error")
    assert fragment in message


def test_unknown_fields_are_refused(api_url: str) -> None:
    body = {"username": "x" + uuid.uuid4().hex[:8], "password": "long enough", "display_name": "V"}
    response = httpx.post(f"{api_url}/auth/register", json={**body, "is_admin": True})
    _error(response, 422, "validation_error")


def test_wrong_password_and_bad_tokens_are_401(api_url: str, people: People) -> None:
    alice = people.register()
    wrong = httpx.post(
        f"{api_url}/auth/token", data={"username": alice.username, "password": "nope nope"}
    )
    _error(wrong, 401, "invalid_credentials")
    unknown = httpx.post(
        f"{api_url}/auth/token", data={"username": "nobody-x", "password": "nope nope"}
    )
    _error(unknown, 401, "invalid_credentials")
    _error(httpx.get(f"{api_url}/users/me"), 401, "unauthorized")
    forged = httpx.get(f"{api_url}/users/me", headers={"Authorization": "Bearer not.a.jwt"})
    _error(forged, 401, "unauthorized")
    assert forged.headers["WWW-Authenticate"] == "Bearer"


def test_unknown_user_is_404(people: People) -> None:
    alice = people.register()
    _error(alice.http.get("/users/1"), 404, "not_found")
    _error(alice.http.get("/users/0"), 422, "validation_error")


def test_search_by_prefix_with_pagination(people: People) -> None:
    tag = uuid.uuid4().hex[:6]
    found = [people.register(prefix=f"srch{tag}") for _ in range(3)]
    searcher = people.register()
    page = searcher.http.get("/users/search", params={"q": f"SRCH{tag}", "limit": 2})
    assert page.status_code == 200
    first = page.json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = searcher.http.get(
        "/users/search", params={"q": f"srch{tag}", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    names = [u["username"] for u in first["items"] + rest["items"]]
    assert names == sorted(p.username for p in found)
    assert rest["next_cursor"] is None
    # LIKE wildcards in the query are literal characters: as a wildcard, "s%<tag>" and
    # "srch_<tag>" would match the names above.
    for pattern in (f"s%{tag}", f"srch_{tag[1:]}"):
        assert searcher.http.get("/users/search", params={"q": pattern}).json()["items"] == []


def test_bad_cursor_is_422(people: People) -> None:
    alice = people.register()
    response = alice.http.get("/users/search", params={"q": "a", "cursor": "!!!"})
    _error(response, 422, "invalid_cursor")


def test_auth_is_rate_limited_per_ip(api_settings: Settings) -> None:
    strict = api_settings.model_copy(
        update={"rate_limit_auth_per_minute": 3, "rate_limit_namespace": f"rl-{uuid.uuid4().hex}"}
    )
    with live_api(strict) as url:
        codes = [
            httpx.post(f"{url}/auth/token", data={"username": "nobody", "password": "whatever1"})
            for _ in range(8)
        ]
    statuses = [r.status_code for r in codes]
    # Fixed one-minute windows: if a window ends during the run, the count starts again, so
    # 8 tries always see the limit bite, whatever the second they start at.
    assert statuses[:3] == [401, 401, 401]
    assert set(statuses) == {401, 429}
    assert statuses.count(401) <= 6
    limited = codes[statuses.index(429)]
    _error(limited, 429, "rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 61


def test_requests_are_rate_limited_per_user(api_settings: Settings, people: People) -> None:
    alice = people.register()
    token = alice.http.headers["Authorization"]
    strict = api_settings.model_copy(
        update={"rate_limit_user_per_minute": 2, "rate_limit_namespace": f"rl-{uuid.uuid4().hex}"}
    )
    with live_api(strict) as url:
        codes = [
            httpx.get(f"{url}/users/me", headers={"Authorization": token}).status_code
            for _ in range(6)
        ]
    assert codes[:2] == [200, 200]
    assert 429 in codes
    assert codes.count(200) <= 4  # at most two windows' worth


def test_openapi_and_docs_are_served(api_url: str) -> None:
    spec = httpx.get(f"{api_url}/openapi.json").json()
    for path in (
        "/auth/register",
        "/auth/token",
        "/rooms/{room_id}/join",
        "/users/{target_id}/friends",
    ):
        assert path in spec["paths"], path
    assert httpx.get(f"{api_url}/docs").status_code == 200
