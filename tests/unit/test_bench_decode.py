"""The load generator's fast read of message frames agrees with parsing them whole."""

from __future__ import annotations

import json

import pytest

from bench.targets import StudyhubFrames, _string_field
from core.frames import Message


def _parsed(raw: bytes) -> list[tuple[str, str | None, str | None]]:
    frame = json.loads(raw)
    return [(frame["type"], frame.get("client_msg_id"), None)]


@pytest.mark.parametrize(
    "raw",
    [
        # pydantic's compact JSON, as the gateway sends it
        Message(
            room_id=7,
            seq=3,
            message_id=11,
            user_id=5,
            body='quotes " and \\ backslashes, "client_msg_id":"fake"',
            created_at="2026-12-03T10:00:00.000000Z",
            client_msg_id="fixed-42",
        )
        .to_json()
        .encode(),
        # json.dumps' spaced JSON, as the bare peer sends it
        json.dumps({"type": "message", "seq": 2, "client_msg_id": "sweep-9"}).encode(),
    ],
    ids=["pydantic", "json.dumps"],
)
def test_message_frames_decode_to_what_a_full_parse_gives(raw: bytes) -> None:
    assert list(StudyhubFrames().decode(raw)) == _parsed(raw)


def test_a_body_that_mentions_the_field_cannot_fool_it_when_it_comes_first() -> None:
    # The body precedes client_msg_id in the frame: find() must not stop inside the body.
    raw = json.dumps(
        {"type": "message", "body": 'x "client_msg_id": "evil"', "client_msg_id": "real"}
    ).encode()
    decoded = list(StudyhubFrames().decode(raw))
    assert decoded == [("message", "real", None)]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"a":1,"client_msg_id":"c-1"}', "c-1"),
        (b'{"client_msg_id": "c-2"}', "c-2"),
        (b'{"client_msg_id":null}', None),
        (b'{"other":"x"}', None),
        (b'{"client_msg_id":"with \\" escape"}', None),
    ],
)
def test_string_field(raw: bytes, expected: str | None) -> None:
    assert _string_field(raw, b'"client_msg_id":') == expected
