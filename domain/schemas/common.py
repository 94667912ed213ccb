from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import available_timezones

from pydantic import AfterValidator, Field, StringConstraints

_ZONES = frozenset(available_timezones())


def _known_zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Berlin")
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]
Subject = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Subjects = Annotated[list[Subject], Field(max_length=20)]
# Ids are 64-bit; beyond that nothing exists, and MySQL would reject the value anyway.
Id = Annotated[int, Field(ge=1, le=2**63 - 1)]


def as_utc(value: datetime) -> datetime:
    # MySQL DATETIME columns hold UTC without a zone; say so on the wire ("...Z").
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDateTime = Annotated[datetime, AfterValidator(as_utc)]
