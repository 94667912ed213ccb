"""Where a subscribe recovery starts, and how a room frame's seq is read (pure logic)."""

from __future__ import annotations

from core.frames import Message, SeqRange, TypingStarted
from realtime.hub import message_seq, plan


def test_a_recovery_within_the_limit_sends_everything_after_the_position() -> None:
    assert plan(after_seq=10, last_seq=15, limit=5) == (10, None)
    assert plan(after_seq=15, last_seq=15, limit=5) == (15, None)
    assert plan(after_seq=20, last_seq=15, limit=5) == (20, None)  # ahead: nothing to send


def test_a_recovery_past_the_limit_names_the_range_it_leaves_out() -> None:
    start, missing = plan(after_seq=10, last_seq=100, limit=5)
    assert start == 95
    assert missing == SeqRange(from_seq=11, to_seq=95)


def test_only_message_frames_carry_a_seq() -> None:
    message = Message(
        room_id=1,
        seq=42,
        message_id=7,
        user_id=3,
        body="hi",
        created_at="2026-12-02T00:00:00.000Z",
        client_msg_id="c",
    )
    assert message_seq(message.to_json()) == 42
    assert message_seq(TypingStarted(room_id=1, user_id=3).to_json()) is None
