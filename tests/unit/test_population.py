"""The synthetic population: deterministic, a simple symmetric graph, heavy-tailed, clustered."""

from __future__ import annotations

import itertools
import re
import zoneinfo
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest

from bench.population import (
    SUBJECTS,
    TIMEZONES,
    Int64Array,
    Population,
    PopulationConfig,
    SyntheticRoom,
    SyntheticUser,
)
from core.ids import MAX_GENERATOR_ID, SEQUENCE_BITS

CONFIG = PopulationConfig(users=5_000, avg_degree=50, rooms=300, seed=7, generator_id=1007)
Edges = tuple[Int64Array, Int64Array]
HH_MM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(CONFIG)


@pytest.fixture(scope="module")
def users(population: Population) -> list[SyntheticUser]:
    return [user for chunk in population.iter_users() for user in chunk]


@pytest.fixture(scope="module")
def edges(population: Population) -> Edges:
    blocks = list(population.edge_blocks())
    return np.concatenate([b.src for b in blocks]), np.concatenate([b.dst for b in blocks])


@pytest.fixture(scope="module")
def degrees(population: Population, edges: Edges) -> Int64Array:
    return np.bincount(edges[0], minlength=population.config.users)


def _without_id(user: SyntheticUser) -> tuple[object, ...]:
    return (
        user.index,
        user.community,
        user.username,
        user.display_name,
        user.timezone,
        user.subjects,
        user.availability,
        user.goals,
    )


def _room_without_ids(room: SyntheticRoom) -> tuple[object, ...]:
    return (room.index, room.owner_index, room.name, room.topic, room.capacity, room.visibility)


def test_same_seed_gives_the_same_population(
    population: Population,
    users: list[SyntheticUser],
    edges: Edges,
) -> None:
    again = Population(CONFIG)
    assert [_without_id(u) for chunk in again.iter_users() for u in chunk] == [
        _without_id(u) for u in users
    ]
    blocks = list(again.edge_blocks())
    assert np.array_equal(np.concatenate([b.src for b in blocks]), edges[0])
    assert np.array_equal(np.concatenate([b.dst for b in blocks]), edges[1])
    assert [_room_without_ids(r) for r in again.rooms] == [
        _room_without_ids(r) for r in population.rooms
    ]


def test_another_seed_gives_another_population(users: list[SyntheticUser]) -> None:
    other = Population(replace(CONFIG, seed=CONFIG.seed + 1))
    other_users = [u for chunk in other.iter_users() for u in chunk]
    same = sum(_without_id(a) == _without_id(b) for a, b in zip(users, other_users, strict=False))
    assert same < len(users) // 100


def test_a_community_does_not_depend_on_the_order_it_is_generated_in(
    population: Population, users: list[SyntheticUser]
) -> None:
    last = population.communities - 1
    start, end = population.community_range(last)
    assert [_without_id(u) for u in population.users_of(last)] == [
        _without_id(u) for u in users[start:end]
    ]


def test_no_self_loops_no_duplicates_and_both_directions(
    population: Population,
    edges: Edges,
) -> None:
    src, dst = edges
    n = population.config.users
    assert not np.any(src == dst)
    forward = src * n + dst
    assert np.unique(forward).size == forward.size
    # Every (a, b) has its (b, a): the reversed keys are the same set.
    assert np.array_equal(np.sort(forward), np.sort(dst * n + src))
    # Blocks come sorted by (src, dst), the clustered index's order.
    assert np.all(np.diff(forward) > 0)


def test_average_degree_is_on_target(
    population: Population,
    edges: Edges,
) -> None:
    rows = edges[0].size
    assert rows == population.expected_friendship_rows
    assert rows / CONFIG.users == pytest.approx(CONFIG.avg_degree, rel=0.03)


def test_degrees_are_heavy_tailed(degrees: Int64Array) -> None:
    average = degrees.mean()
    assert degrees.max() > 5 * average
    assert np.median(degrees) < average  # a long right tail pulls the mean above the median
    assert degrees.min() >= 1

    # The complementary CDF falls as a power of k over the tail: a straight line in log-log.
    tail = np.sort(degrees[degrees >= average])
    ccdf = (tail.size - np.arange(tail.size)) / degrees.size  # share of users with degree >= k
    slope, _ = np.polyfit(np.log(tail), np.log(ccdf), 1)
    tail_index = -slope  # P(K > k) ~ k^-(gamma - 1)
    assert 1.0 < tail_index < 2.5

    # Hill's estimate of gamma from the top 10% agrees with the configured exponent.
    top = np.sort(degrees)[-degrees.size // 10 :]
    gamma = 1 + top.size / np.sum(np.log(top / top[0]))
    assert 2.0 < gamma < 3.5


def test_most_friendships_stay_inside_communities(
    population: Population,
    edges: Edges,
) -> None:
    src, dst = edges
    inside = float(np.mean(population.membership[src] == population.membership[dst]))
    shares = population.community_sizes / population.config.users
    random_mixing = float(np.sum(shares**2))
    assert population.communities >= 5
    assert inside > 0.6
    assert inside > 3 * random_mixing


def test_users_have_unique_names_and_ids_of_the_generator(
    population: Population, users: list[SyntheticUser]
) -> None:
    assert [u.username for u in users] == [f"u{n}" for n in range(CONFIG.users)]
    ids = [u.id for u in users]
    assert ids == sorted(set(ids))  # unique and in index order
    assert all((i >> SEQUENCE_BITS) & MAX_GENERATOR_ID == CONFIG.generator_id for i in ids)
    assert ids == population.user_ids.tolist()
    assert all(0 < len(u.display_name) <= 64 for u in users)


def test_timezones_are_iana_names_with_a_realistic_spread(users: list[SyntheticUser]) -> None:
    for name, _ in TIMEZONES:
        zoneinfo.ZoneInfo(name)
    zones = Counter(u.timezone for u in users)
    assert set(zones) <= {name for name, _ in TIMEZONES}
    assert len(zones) >= 15
    assert zones.most_common(1)[0][1] < 0.5 * len(users)


def test_profiles_list_one_to_five_known_subjects_with_zipf_popularity(
    users: list[SyntheticUser],
) -> None:
    for user in users:
        assert 1 <= len(user.subjects) <= 5
        assert len(set(user.subjects)) == len(user.subjects)
        assert set(user.subjects) <= set(SUBJECTS)
        assert user.goals
    popularity = Counter(s for u in users for s in u.subjects)
    assert len(popularity) >= 35
    ranked = [popularity[s] for s in SUBJECTS]
    # Popularity falls with rank: the head outweighs the middle, the middle the tail.
    assert sum(ranked[:5]) > 2 * sum(ranked[15:20]) > 2 * sum(ranked[35:40])


def test_availability_slots_are_valid(users: list[SyntheticUser]) -> None:
    for user in users:
        slots = user.availability
        assert slots
        assert list(slots) == sorted(slots, key=lambda s: (s["day"], s["start"]))
        for slot in slots:
            assert set(slot) == {"day", "start", "end"}
            assert 0 <= slot["day"] <= 6
            assert HH_MM.match(slot["start"])
            assert HH_MM.match(slot["end"])
            assert slot["start"] < slot["end"]
        for before, after in itertools.pairwise(slots):
            if before["day"] == after["day"]:
                assert before["end"] <= after["start"]


def test_rooms_belong_to_users_and_study_their_subjects(
    population: Population, users: list[SyntheticUser]
) -> None:
    rooms = population.rooms
    assert len(rooms) == CONFIG.rooms
    assert len({r.id for r in rooms}) == len(rooms)
    for room in rooms:
        owner = users[room.owner_index]
        assert room.owner_id == owner.id
        assert room.topic in owner.subjects
        assert room.visibility in {"public", "private"}
        assert 2 <= room.capacity <= 100
        assert room.topic in room.name
        assert len(room.name) <= 100
    private = sum(r.visibility == "private" for r in rooms) / len(rooms)
    assert 0.1 < private < 0.3


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"users": 100, "avg_degree": 200}, "must be below users"),
        ({"users": 1000, "avg_degree": 200}, "at least 10 x avg_degree"),
        ({"avg_degree": 0.5}, "at least 1"),
        ({"rooms": -1}, "rooms must not be negative"),
        ({"generator_id": 1}, "reserved for synthetic populations"),
        ({"username_prefix": "x" * 30}, "within 32 characters"),
        ({"degree_exponent": 2.0}, "degree_exponent"),
        ({"max_degree": 10}, "max_degree"),
    ],
)
def test_invalid_configurations_say_why(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(CONFIG, **changes)  # type: ignore[arg-type]


def test_the_quick_profile_yields_five_million_directed_rows() -> None:
    # Speed is the benchmark's to report (bench.populate prints rows/s), never a test's.
    population = Population(PopulationConfig(users=100_000, avg_degree=50, seed=1))
    assert sum(len(block) for block in population.edge_blocks()) == 5_000_000
