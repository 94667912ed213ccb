from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from core.events import (
    CHAT_MESSAGES,
    ROOM_EVENTS,
    SOCIAL_EVENTS,
    ChatMessageSent,
    FriendAccepted,
    RoomJoined,
    parse_event,
    topic_for,
)


def _chat(**overrides: object) -> ChatMessageSent:
    fields: dict[str, object] = {
        "room_id": 42,
        "message_id": 7,
        "sender_id": 9,
        "client_msg_id": "c-1",
        "body": "hello",
    }
    return ChatMessageSent.model_validate(fields | overrides)


def test_event_round_trips_through_its_topic() -> None:
    event = _chat()
    parsed = parse_event(CHAT_MESSAGES, event.to_bytes())
    assert parsed == event
    assert topic_for(event) == CHAT_MESSAGES
    assert event.key() == b"42"


def test_unknown_fields_are_refused() -> None:
    raw = json.loads(_chat().to_bytes())
    raw["surprise"] = 1
    with pytest.raises(ValidationError, match="surprise"):
        parse_event(CHAT_MESSAGES, json.dumps(raw))


def test_an_event_of_another_topic_is_refused() -> None:
    joined = RoomJoined(room_id=1, user_id=2, participant_count=3)
    assert parse_event(ROOM_EVENTS, joined.to_bytes()) == joined
    with pytest.raises(ValidationError):
        parse_event(SOCIAL_EVENTS, joined.to_bytes())


@pytest.mark.parametrize(
    ("field", "value"),
    [("body", ""), ("body", "x" * 4001), ("client_msg_id", ""), ("room_id", "abc")],
)
def test_chat_message_limits(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        _chat(**{field: value})


def test_pair_events_key_on_the_lower_user_id() -> None:
    # Both directions of one pair land in one partition, so their order holds.
    assert FriendAccepted(from_user_id=9, to_user_id=4, request_id=1).key() == b"4"
    assert FriendAccepted(from_user_id=4, to_user_id=9, request_id=1).key() == b"4"


def test_unknown_topic_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="no-such-topic"):
        parse_event("no-such-topic", b"{}")
