"""The Flink SQL source columns come from the event schemas, field for field."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from core.events import ChatMessageSent, ContentFlagged, RoomTimerChanged
from pipelines.flink_schema import columns_ddl, flink_columns, flink_type


def test_chat_message_columns_match_the_event_schema() -> None:
    assert flink_columns(ChatMessageSent) == [
        ("event_id", "STRING"),
        ("occurred_at", "TIMESTAMP_LTZ(6)"),
        ("type", "STRING"),
        ("room_id", "BIGINT"),
        ("message_id", "BIGINT"),
        ("sender_id", "BIGINT"),
        ("client_msg_id", "STRING"),
        ("body", "STRING"),
        ("masked_body", "STRING"),
        ("topic", "STRING"),
    ]


@pytest.mark.parametrize("model", [ChatMessageSent, ContentFlagged, RoomTimerChanged])
def test_every_field_of_every_event_has_a_column(model: type[BaseModel]) -> None:
    names = [name for name, _ in flink_columns(model)]
    assert names == list(model.model_fields)
    ddl = columns_ddl(model)
    for name in names:
        assert f"`{name}` " in ddl


def test_optional_and_literal_fields_map_to_their_base_type() -> None:
    assert flink_type(int | None) == "BIGINT"
    assert flink_type(Literal["a", "b"]) == "STRING"
    assert flink_type(float) == "DOUBLE"


def test_an_unmappable_type_is_refused() -> None:
    with pytest.raises(TypeError, match="no Flink SQL type"):
        flink_type(dict[str, int])
    with pytest.raises(TypeError, match="union"):
        flink_type(int | str)
