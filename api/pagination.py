"""Cursor pagination: ``?limit=&cursor=``, and ``next_cursor`` in every list reply.

Cursors are opaque (url-safe base64 of a small JSON value), so clients cannot depend on what
is inside and the server can change the key without breaking them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from domain.errors import Invalid

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=200, description="Page size (1-200).")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="The next_cursor of the previous page.")
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


def page_of(rows: Sequence[T], limit: int, key: Callable[[T], Any]) -> Page[T]:
    """Rows fetched with ``limit + 1``: the extra row only tells whether a next page exists."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return Page(items=items, next_cursor=encode_cursor(key(items[-1])) if more else None)


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str | None, *, kind: type) -> Any:
    if cursor is None:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Invalid("cursor: not a cursor this API issued", code="invalid_cursor") from None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise Invalid("cursor: not a cursor for this list", code="invalid_cursor")
    return value
