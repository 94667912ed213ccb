from __future__ import annotations

from datetime import UTC, datetime

from domain.buddy_matching import (
    Candidate,
    Slot,
    overlap_minutes,
    rank,
    timezone_gap_hours,
    weekly_utc_intervals,
)

# A winter instant: Berlin is UTC+1, New York UTC-5.
WINTER = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)


def _person(user_id: int, subjects: set[str], tz: str, *slots: Slot) -> Candidate:
    return Candidate(user_id, frozenset(subjects), tz, tuple(slots))


def test_slots_are_converted_to_the_utc_week() -> None:
    berlin = weekly_utc_intervals((Slot(0, "18:00", "20:00"),), "Europe/Berlin", WINTER)
    assert berlin == [(17 * 60, 19 * 60)]  # Monday 17-19 UTC


def test_a_slot_that_crosses_the_week_boundary_wraps() -> None:
    # Monday 00:30-01:30 in Berlin is Sunday 23:30 to Monday 00:30 UTC.
    intervals = weekly_utc_intervals((Slot(0, "00:30", "01:30"),), "Europe/Berlin", WINTER)
    assert intervals == [(0, 30), (7 * 1440 - 30, 7 * 1440)]


def test_overlap_accounts_for_time_zones() -> None:
    berlin = weekly_utc_intervals(
        (Slot(2, "18:00", "21:00"),), "Europe/Berlin", WINTER
    )  # 17-20 UTC
    new_york = weekly_utc_intervals(
        (Slot(2, "13:00", "15:00"),), "America/New_York", WINTER
    )  # 18-20
    assert overlap_minutes(berlin, new_york) == 120
    assert timezone_gap_hours("Europe/Berlin", "America/New_York", WINTER) == 6


def test_timezone_gap_takes_the_short_way_round() -> None:
    assert timezone_gap_hours("Pacific/Auckland", "Pacific/Honolulu", WINTER) == 1  # +13 vs -10


def test_ranking_prefers_subjects_then_shared_time_and_explains_it() -> None:
    evening = Slot(1, "18:00", "22:00")
    me = _person(1, {"math", "physics", "chemistry"}, "Europe/Berlin", evening)
    same_subjects_no_time = _person(
        2, {"math", "physics", "chemistry"}, "Asia/Tokyo", Slot(1, "09:00", "10:00")
    )
    one_subject_all_time = _person(3, {"math"}, "Europe/Berlin", evening)
    two_subjects_some_time = _person(
        4, {"math", "physics"}, "Europe/Paris", Slot(1, "20:00", "22:00")
    )
    ranked = rank(
        me, [one_subject_all_time, same_subjects_no_time, two_subjects_some_time, me], at=WINTER
    )
    assert [s.user_id for s in ranked] == [2, 4, 3]  # never yourself
    best = ranked[0]
    assert best.shared_subjects == ("chemistry", "math", "physics")
    assert best.common_hours == 0
    assert ranked[1].reason == "2 shared subjects, 2 h of common free time"
    assert ranked[2].reason == "1 shared subject, 4 h of common free time"
    assert "8 h apart" in best.reason
