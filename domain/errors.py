"""The domain's errors: what went wrong, in words a client can act on, with a stable code.

Each transport maps the class to its own terms: ``api.errors`` to an HTTP status,
``realtime.handlers`` to an error frame. ``code`` is the machine-readable reason both carry.
"""

from __future__ import annotations

import asyncmy.errors
import neo4j.exceptions
import redis.exceptions
import sqlalchemy.exc


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


RETRY_AFTER_S = 2.0  # what a client is told to wait before retrying against a store that is away


class Unavailable(DomainError):
    """A store or broker the work needs is away; retrying later may succeed."""

    code = "unavailable"

    def __init__(
        self, message: str, *, service: str | None = None, retry_after: float = RETRY_AFTER_S
    ) -> None:
        super().__init__(message)
        self.service = service
        self.retry_after = retry_after


class RateLimited(DomainError):
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class InFlight(Conflict):
    """The same send is already on its way; its ack is coming."""

    code = "in_flight"


# MySQL client errors that mean the server is not there (not that the statement was wrong):
# can't connect (2002, 2003), unknown host (2005), gone away (2006), lost mid-query (2013),
# and a broken packet on a dead socket (2055).
_MYSQL_AWAY = frozenset({2002, 2003, 2005, 2006, 2013, 2055})


def store_unavailable(error: BaseException) -> Unavailable | None:
    """The ``Unavailable`` that a client library's error means, naming the store; None when the
    error is not a store being away (a bad statement, a bug), which stays an internal error.

    A store that is down is not the server's fault and not the client's: both transports say
    so (HTTP 503 with Retry-After, an ``unavailable`` error frame and close 1013), so clients
    back off and retry instead of reporting a bug.
    """
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return Unavailable("Redis is unavailable; retry shortly", service="redis")
    if isinstance(error, neo4j.exceptions.ServiceUnavailable | neo4j.exceptions.SessionExpired):
        return Unavailable(
            "the social graph (Neo4j) is unavailable; retry shortly", service="neo4j"
        )
    if isinstance(error, sqlalchemy.exc.TimeoutError):  # no pooled connection came free
        return Unavailable("MySQL is overloaded; retry shortly", service="mysql")
    if isinstance(error, sqlalchemy.exc.DBAPIError):
        code = error.orig.args[0] if error.orig is not None and error.orig.args else None
        if error.connection_invalidated or code in _MYSQL_AWAY:
            return Unavailable("a MySQL shard is unavailable; retry shortly", service="mysql")
    # The driver's own errors, from the statements run without SQLAlchemy (AsyncShardRouter's
    # fetch and execute).
    if isinstance(error, asyncmy.errors.OperationalError | asyncmy.errors.InterfaceError):
        code = error.args[0] if error.args else None
        if code in _MYSQL_AWAY:
            return Unavailable("a MySQL shard is unavailable; retry shortly", service="mysql")
    return None
