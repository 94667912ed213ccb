"""Focus stats' pure parts: the room's focus clock, sessions split by UTC day, streaks."""

from __future__ import annotations

from datetime import UTC, date, datetime

from domain.focus import Session, by_day, period_bounds, streak
from domain.room_state import IDLE, RoomState, Timer, focus_run, next_timer

MIN = 60_000


def _room(timer: Timer, focus_ms: int = 0) -> RoomState:
    return RoomState(
        id=1, name="r", topic="t", capacity=10, visibility="public", owner_id=1,
        status="open", created_at_us=0, timer=timer, focus_ms=focus_ms,
    )  # fmt: skip


def test_the_focus_clock_runs_only_in_a_running_focus_phase_and_stops_at_its_end() -> None:
    focus = next_timer(IDLE, "start", phase="focus", focus_minutes=25, break_minutes=5, now_ms=0)
    assert focus_run(focus, 10 * MIN) == 10 * MIN
    assert focus_run(focus, 40 * MIN) == 25 * MIN  # the phase ended at 25 min
    paused = next_timer(focus, "pause", phase=None, focus_minutes=25, break_minutes=5, now_ms=MIN)
    assert focus_run(paused, 30 * MIN) == 0
    resumed = next_timer(
        paused, "start", phase=None, focus_minutes=25, break_minutes=5, now_ms=10 * MIN
    )
    assert focus_run(resumed, 12 * MIN) == 2 * MIN  # since the resume
    rest = next_timer(focus, "start", phase="break", focus_minutes=25, break_minutes=5, now_ms=0)
    assert focus_run(rest, 3 * MIN) == 0
    # The clock folds what ran before the last change in: 1 min, paused, 2 min resumed.
    assert _room(resumed, focus_ms=MIN).focus_clock(12 * MIN) == 3 * MIN


def test_a_session_across_midnight_is_split_at_it_with_focus_in_proportion() -> None:
    sessions = [
        Session(datetime(2026, 12, 6, 23, 30), datetime(2026, 12, 7, 0, 30), 3600, 1800),
        Session(datetime(2026, 12, 7, 9, 0), datetime(2026, 12, 7, 9, 25), 1500, 1500),
    ]
    assert by_day(sessions) == {
        date(2026, 12, 6): (1800.0, 900.0),
        date(2026, 12, 7): (1800.0 + 1500.0, 900.0 + 1500.0),
    }


def test_a_streak_counts_days_with_a_minute_up_to_today_or_yesterday() -> None:
    minute, short = (60.0, 0.0), (59.0, 0.0)
    days = {date(2026, 12, d): minute for d in (3, 4, 5, 6)} | {date(2026, 12, 2): short}
    assert streak(days, date(2026, 12, 6)) == 4
    assert streak(days, date(2026, 12, 7)) == 4  # today not over: yesterday's streak holds
    assert streak(days, date(2026, 12, 8)) == 0  # a whole day missed
    assert streak({}, date(2026, 12, 8)) == 0


def test_periods_are_the_utc_day_the_iso_week_from_monday_and_the_month() -> None:
    now = datetime(2026, 12, 31, 23, 59, tzinfo=UTC)  # a Thursday
    assert period_bounds("day", now) == (datetime(2026, 12, 31), datetime(2027, 1, 1))
    assert period_bounds("week", now) == (datetime(2026, 12, 28), datetime(2027, 1, 4))
    assert period_bounds("month", now) == (datetime(2026, 12, 1), datetime(2027, 1, 1))
    february = datetime(2028, 2, 29, 12, tzinfo=UTC)
    assert period_bounds("month", february) == (datetime(2028, 2, 1), datetime(2028, 3, 1))
