"""The dashboards' one way to change anything: the platform's own API, as the signed-in person.

Every write (a decision, an acknowledgement) is a call here, so the API's roles, validation
and audit apply to a click exactly as to any other client. Reads that the API already scopes
by role (the moderation queue, the audit log, the alerts) come through here too.
"""

from __future__ import annotations

from typing import Any

import httpx


class ApiError(Exception):
    """The API refused or failed: its status, its error code and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})")
        self.status = status
        self.code = code
        self.message = message


def _raise_for(response: httpx.Response) -> None:
    if response.is_success:
        return
    try:
        body = response.json()
        code, message = str(body.get("error", "error")), str(body.get("message", response.text))
    except ValueError:
        code, message = "error", response.text or response.reason_phrase
    raise ApiError(response.status_code, code, message)


def sign_in(base_url: str, username: str, password: str) -> tuple[str, int]:
    """A token for the account and its lifetime in seconds, or ApiError (401: wrong password)."""
    try:
        with httpx.Client(base_url=base_url, timeout=10) as anonymous:
            response = anonymous.post(
                "/auth/token", data={"username": username, "password": password}
            )
    except httpx.HTTPError as error:
        raise ApiError(503, "api_unreachable", f"the API at {base_url} did not answer") from error
    _raise_for(response)
    body = response.json()
    return str(body["access_token"]), int(body["expires_in"])


class Api:
    """Calls as one signed-in person. Cheap to make: one per page run."""

    def __init__(self, base_url: str, token: str) -> None:
        self.base_url = base_url
        self._http = httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise ApiError(
                503, "api_unreachable", f"the API at {self.base_url} did not answer"
            ) from error
        _raise_for(response)
        return response.json() if response.content else None

    def get(self, path: str, **params: Any) -> Any:
        return self._call("GET", path, params={k: v for k, v in params.items() if v is not None})

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._call("POST", path, json=body)
