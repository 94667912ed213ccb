from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.buddy_matching import (
    MAX_GRAPH_SCORE,
    SUBJECT_WEIGHT,
    Candidate,
    Proximity,
    Slot,
    graph_score,
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


def test_the_graph_lifts_a_near_match_and_explains_it() -> None:
    evening = Slot(1, "18:00", "22:00")
    me = _person(1, {"math", "physics"}, "Europe/Berlin", evening)
    stranger = _person(2, {"math", "physics"}, "Europe/Berlin", evening)
    known = _person(3, {"math", "physics"}, "Europe/Berlin", evening)
    near = {3: Proximity(mutual_friends=3, same_community=True)}
    ranked = rank(me, [stranger, known], proximity=near, at=WINTER)
    assert [s.user_id for s in ranked] == [3, 2]
    assert ranked[0].score - ranked[1].score == pytest.approx(3.0 * 2 + 4.0)
    assert ranked[0].reason == (
        "2 shared subjects, 4 h of common free time, 3 mutual friends, in your community"
    )
    assert ranked[1].reason == "2 shared subjects, 4 h of common free time"


def test_mutual_friends_count_with_diminishing_returns() -> None:
    one, three, seven = (graph_score(Proximity(mutual_friends=n)) for n in (1, 3, 7))
    assert (one, three, seven) == (3.0, 6.0, 9.0)
    assert graph_score(Proximity(mutual_friends=1000)) == graph_score(Proximity(mutual_friends=15))
    # Unknown community (the graph jobs have not run for one of the two) counts as nothing.
    assert graph_score(Proximity(same_community=None)) == 0.0
    assert graph_score(Proximity(friends=True)) == 4.0


def test_the_graph_never_outweighs_two_subjects() -> None:
    assert pytest.approx(2 * SUBJECT_WEIGHT) == MAX_GRAPH_SCORE
    evening = Slot(1, "18:00", "22:00")
    me = _person(1, {"math", "physics", "chemistry"}, "Europe/Berlin", evening)
    closest_friend = _person(2, {"math"}, "Europe/Berlin", evening)
    three_subjects = _person(3, {"math", "physics", "chemistry"}, "Europe/Berlin", evening)
    near = {2: Proximity(mutual_friends=50, friends=True, same_community=True)}
    ranked = rank(me, [closest_friend, three_subjects], proximity=near, at=WINTER)
    # 20 graph points against 20 subject points: a tie, broken by the lower id.
    assert ranked[0].score == ranked[1].score
    assert ranked[0].reason.endswith("already friends, 50 mutual friends, in your community")
