"""The rollups' arithmetic, without services (graph_jobs.engagement, core.engagement)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dagster import RunRequest, build_schedule_context

from core.engagement import SETTLE, DailyEngagement, midnight, week_start
from graph_jobs.engagement import merge_activity, retention_cells, summarise_day
from graph_jobs.engagement_assets import daily_partitions, engagement_hourly

DAY = date(2026, 3, 10)  # a Tuesday


def test_activity_is_merged_across_shards_and_kinds() -> None:
    users = merge_activity(
        [
            ("messages", [(1, 3, 5), (2, 0, 1)]),  # shard 0: user 2 wrote earlier in the week
            ("messages", [(1, 2, 2), (3, 0, 0)]),  # shard 1: user 3 only earlier in the month
            ("group_posts", [(4, 1, 1)]),
            ("room_joins", [(2, 1, 1)]),
        ]
    )
    assert users[1].today == {"messages": 5, "group_posts": 0, "room_joins": 0}
    found = summarise_day(DAY, users, now=datetime(2026, 4, 1, tzinfo=UTC))
    assert (found.dau, found.wau, found.mau) == (3, 3, 4)  # 1, 2 (joined), 4 (posted) today
    assert (found.messages, found.group_posts, found.room_joins) == (5, 1, 1)
    assert found.messages_per_active_user == 5 / 3
    assert found.stickiness == 3 / 4
    assert found.complete


def test_a_day_is_provisional_until_it_has_ended_and_settled() -> None:
    end = midnight(DAY + timedelta(days=1))
    assert not summarise_day(DAY, {}, now=end).complete
    assert not summarise_day(DAY, {}, now=end + SETTLE - timedelta(seconds=1)).complete
    assert summarise_day(DAY, {}, now=end + SETTLE).complete


def test_no_activity_gives_zeros_not_a_division_error() -> None:
    empty = DailyEngagement(DAY, 0, 0, 0, 0, 0, 0, complete=True)
    assert empty.messages_per_active_user == 0.0
    assert empty.stickiness == 0.0
    assert empty.record()["fields"]["stickiness"] == 0.0
    assert isinstance(empty.record()["fields"]["stickiness"], float)


def test_retention_follows_each_signup_week() -> None:
    first, second = week_start(DAY), week_start(DAY) + timedelta(days=7)
    signup = datetime.combine(DAY, datetime.min.time(), tzinfo=UTC)
    signups = [
        (1, signup),  # first cohort
        (2, signup + timedelta(days=1)),  # first cohort (Wednesday)
        (3, signup + timedelta(days=7)),  # second cohort
        (9, signup - timedelta(days=30)),  # before every cohort asked for: ignored
    ]
    active = [
        (1, first),  # signup week
        (1, first + timedelta(days=7)),  # week one
        (2, first + timedelta(days=14)),  # week two only
        (3, second + timedelta(days=7)),  # week one of the second cohort
        (9, first + timedelta(days=7)),  # not in a cohort
        (1, first - timedelta(days=7)),  # before signing up: not counted
    ]
    now = midnight(second + timedelta(days=10))  # second cohort's week one is running
    cells = retention_cells(signups, active, cohorts=[first, second], weeks=8, now=now)
    by = {(c.cohort, c.weeks_after): c for c in cells}
    assert [(c.retained, c.cohort_size) for c in cells if c.cohort == first] == [
        (1, 2),
        (1, 2),
        (1, 2),
    ]
    assert by[(first, 1)].rate == 0.5
    assert by[(first, 1)].complete
    assert not by[(first, 2)].complete  # the week that began on the second cohort's week one
    assert by[(second, 1)].retained == 1
    assert not by[(second, 1)].complete
    # Weeks that have not begun are not reported at all.
    assert (first, 3) not in by
    assert (second, 2) not in by


def test_a_cohort_with_no_signups_is_reported_as_empty() -> None:
    monday = week_start(DAY)
    cells = retention_cells(
        [], [], cohorts=[monday], weeks=1, now=midnight(monday) + timedelta(days=30)
    )
    assert [(c.weeks_after, c.cohort_size, c.rate) for c in cells] == [(0, 0, 0.0), (1, 0, 0.0)]


def test_the_hourly_schedule_asks_for_today_and_yesterday() -> None:
    at = datetime(2026, 3, 10, 0, 5, tzinfo=UTC)
    result = engagement_hourly(build_schedule_context(scheduled_execution_time=at))
    assert isinstance(result, list)
    requests = [r for r in result if isinstance(r, RunRequest)]
    assert len(requests) == len(result)
    assert [r.partition_key for r in requests] == ["2026-03-09", "2026-03-10"]
    keys = set(daily_partitions.get_partition_keys(current_time=at))
    assert {"2026-03-09", "2026-03-10"} <= keys  # today's partition exists (end_offset=1)
    assert len({r.run_key for r in requests}) == 2
