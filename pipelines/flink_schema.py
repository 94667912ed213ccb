"""Flink SQL column lists derived from the pydantic event schemas (core.events).

The Kafka source tables of every job are declared from the same models the producers use, so a
field added to an event cannot silently go missing in a job; tests/unit/test_flink_schema.py
checks the mapping.
"""

from __future__ import annotations

import types
from datetime import datetime
from typing import Literal, Union, get_args, get_origin
from uuid import UUID

from pydantic import BaseModel

_SCALARS: dict[type, str] = {
    int: "BIGINT",
    str: "STRING",
    float: "DOUBLE",
    bool: "BOOLEAN",
    UUID: "STRING",
    # ISO-8601 with a Z suffix is how pydantic writes an aware UTC datetime.
    datetime: "TIMESTAMP_LTZ(6)",
}


def flink_type(annotation: object) -> str:
    origin = get_origin(annotation)
    if origin is Literal:
        return "STRING"
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1:
            return flink_type(members[0])
        raise TypeError(f"no Flink SQL type for the union {annotation!r}")
    if isinstance(annotation, type) and annotation in _SCALARS:
        return _SCALARS[annotation]
    raise TypeError(f"no Flink SQL type for {annotation!r}")


def flink_columns(model: type[BaseModel]) -> list[tuple[str, str]]:
    return [(name, flink_type(field.annotation)) for name, field in model.model_fields.items()]


def columns_ddl(model: type[BaseModel]) -> str:
    return ",\n  ".join(f"`{name}` {sql_type}" for name, sql_type in flink_columns(model))
