"""The domain's errors: what went wrong, in words a client can act on, with a stable code.

Each transport maps the class to its own terms: ``api.errors`` to an HTTP status,
``realtime.handlers`` to an error frame. ``code`` is the machine-readable reason both carry.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "not_found"


class Forbidden(DomainError):
    code = "forbidden"


class Conflict(DomainError):
    code = "conflict"


class Unauthorized(DomainError):
    code = "unauthorized"


class Invalid(DomainError):
    """The input is well-formed but not acceptable (an empty message, a bad cursor)."""

    code = "validation_error"


class Unavailable(DomainError):
    """A store or broker the work needs is away; retrying later may succeed."""

    code = "unavailable"


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InFlight(Conflict):
    """The same send is already on its way; its ack is coming."""

    code = "in_flight"
