"""The shared pomodoro clock (domain.room_state.next_timer) and the typed room state."""

from __future__ import annotations

import pytest

from domain.room_state import IDLE, RoomState, Timer, next_timer

NOW = 1_800_000_000_000
MINUTE = 60_000


def _next(current: Timer, action: str, phase: str | None = None, now: int = NOW) -> Timer:
    return next_timer(
        current,
        action,  # type: ignore[arg-type]  # the tests pass the literal actions
        phase=phase,  # type: ignore[arg-type]
        focus_minutes=25,
        break_minutes=5,
        now_ms=now,
    )


def test_start_from_idle_begins_a_focus_phase() -> None:
    assert _next(IDLE, "start") == Timer("focus", "running", NOW + 25 * MINUTE, 25 * MINUTE)


def test_start_with_a_phase_begins_that_phase() -> None:
    assert _next(IDLE, "start", "break") == Timer("break", "running", NOW + 5 * MINUTE, 5 * MINUTE)


def test_pause_keeps_the_remaining_time_and_start_resumes_it() -> None:
    running = _next(IDLE, "start")
    paused = _next(running, "pause", now=NOW + 10 * MINUTE)
    assert paused == Timer("focus", "paused", None, 15 * MINUTE)
    resumed = _next(paused, "start", now=NOW + 60 * MINUTE)
    assert resumed == Timer("focus", "running", NOW + 75 * MINUTE, 15 * MINUTE)


def test_pausing_a_clock_that_is_not_running_changes_nothing() -> None:
    assert _next(IDLE, "pause") == IDLE


def test_starting_a_running_clock_changes_nothing_until_it_ends() -> None:
    running = _next(IDLE, "start")
    assert _next(running, "start", now=NOW + MINUTE) == running
    # Once the phase is over, start moves on to the next phase.
    after = _next(running, "start", now=NOW + 26 * MINUTE)
    assert (after.phase, after.status) == ("break", "running")


def test_starting_another_phase_replaces_the_running_one() -> None:
    running = _next(IDLE, "start")
    assert _next(running, "start", "break").phase == "break"


def test_reset_goes_idle_from_anywhere() -> None:
    assert _next(_next(IDLE, "start"), "reset") == IDLE


def _hash(**extra: str) -> dict[str, str]:
    return {
        "id": "7",
        "name": "Calculus",
        "topic": "math",
        "capacity": "3",
        "visibility": "public",
        "owner_id": "1",
        "status": "open",
        "created_at_us": "1",
        "moderation": "mask",
        **extra,
    }


def test_a_state_stored_before_moderation_policies_blocks() -> None:
    old = _hash()
    del old["moderation"]
    assert RoomState.from_hash(old).moderation == "block"
    assert RoomState.from_hash(_hash(moderation="bogus")).moderation == "block"


def test_room_state_round_trips_its_fields_and_times_a_running_clock() -> None:
    state = RoomState.from_hash(
        _hash(timer_phase="focus", timer_status="running", timer_ends_at_ms=str(NOW + MINUTE))
    )
    assert {k: str(v) for k, v in state.fields().items()} == _hash()
    assert state.timer_at(NOW).remaining_ms == MINUTE
    assert state.timer_at(NOW + 2 * MINUTE).remaining_ms == 0


def test_room_state_with_a_corrupt_timer_is_idle_and_corrupt_fields_are_refused() -> None:
    assert RoomState.from_hash(_hash(timer_phase="lunch", timer_status="running")).timer == IDLE
    with pytest.raises(ValueError, match="corrupt"):
        RoomState.from_hash(_hash(visibility="secret"))
