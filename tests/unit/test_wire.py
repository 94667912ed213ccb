"""Wire names: every channel the fan-out reads back is one the helpers made."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from core import wire
from core.frames import ABOUT_A_USER_PREFIXES, PresenceChanged, TypingStarted, wire_time


def test_channels_parse_back_to_what_made_them() -> None:
    assert wire.Channel.parse(wire.room_channel(42)) == wire.Channel("room", 42)
    assert wire.Channel.parse(wire.user_channel(7)) == wire.Channel("user", 7)


@pytest.mark.parametrize("name", ["room:1:events", "user:1:messages", "room:x:messages", "a:b"])
def test_foreign_channel_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - int() and ours raise the same type
        wire.Channel.parse(name)


def test_per_room_keys_share_one_cluster_slot_tag() -> None:
    keys = [wire.room_state_key(5), wire.room_participants_key(5), wire.room_last_seq_key(5)]
    assert all("{5}" in key for key in keys)
    assert wire.active_rooms_key("math") != wire.active_rooms_key()


def test_frames_about_a_user_lead_with_their_type() -> None:
    # The fan-out skips a user's own typing and presence by these prefixes, unparsed.
    assert TypingStarted(room_id=1, user_id=2).to_json().startswith(ABOUT_A_USER_PREFIXES)
    assert PresenceChanged(user_id=2, status="online").to_json().startswith(ABOUT_A_USER_PREFIXES)


def test_wire_time_is_utc_with_microseconds() -> None:
    naive = datetime(2026, 1, 2, 3, 4, 5)  # MySQL hands back naive UTC
    assert wire_time(naive) == "2026-01-02T03:04:05.000000Z"
    assert wire_time(naive.replace(microsecond=120)) == "2026-01-02T03:04:05.000120Z"
    plus_one = datetime(2026, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))
    assert wire_time(plus_one) == wire_time(naive.replace(tzinfo=UTC))
