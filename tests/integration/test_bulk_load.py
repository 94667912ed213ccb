"""Bulk-load a small synthetic population into the real shards, check it in SQL, remove it.

Everything here carries ids of generator 1009 (reserved for this test) and usernames with the
prefix ``bulktest_``, so other tests' rows are never counted, loaded over or deleted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import text

from bench.bulk import (
    LOAD_METHODS,
    BulkLoader,
    BulkLoadError,
    ChatRow,
    LoadMethod,
    StudyProfileRow,
    UserRow,
    delete_chat_messages,
    population_counts,
    truncate_population,
)
from bench.populate import PopulateError, populate
from bench.population import Population, PopulationConfig
from core.db.sharding import DIRECTORY_SHARD, ShardRouter, shard_for_room
from core.ids import IdGenerator
from core.settings import Settings

pytestmark = pytest.mark.integration

GENERATOR_ID = 1009
CONFIG = PopulationConfig(
    users=2_000,
    avg_degree=50,
    rooms=200,
    seed=11,
    generator_id=GENERATOR_ID,
    username_prefix="bulktest_",
)
PARAMS = {"generator_id": GENERATOR_ID}


@pytest.fixture
def clean(mysql: ShardRouter) -> Iterator[ShardRouter]:
    # A crashed earlier run may have left rows of this generator; they are ours to remove.
    truncate_population(mysql, GENERATOR_ID)
    yield mysql
    truncate_population(mysql, GENERATOR_ID)
    assert not any(population_counts(mysql, GENERATOR_ID).values())


def _load(settings: Settings, population: Population, method: LoadMethod) -> None:
    with BulkLoader(settings, method=method) as loader:
        for users in population.iter_users():
            loader.users([u.user_row() for u in users])
            loader.study_profiles([u.profile_row() for u in users])
        for user1, user2 in population.friendship_rows():
            loader.friendships(user1, user2)
        loader.study_rooms([room.room_row() for room in population.rooms])


def _scalar(router: ShardRouter, sql: str, **params: int) -> int:
    with router.engine(DIRECTORY_SHARD).connect() as connection:
        return int(connection.execute(text(sql), {**PARAMS, **params}).scalar_one())


@pytest.mark.parametrize("method", LOAD_METHODS)
def test_population_loads_whole_and_consistent(
    settings: Settings, clean: ShardRouter, method: LoadMethod
) -> None:
    router = clean
    population = Population(CONFIG)
    _load(settings, population, method)
    users = [u for chunk in population.iter_users() for u in chunk]

    counts = population_counts(router, GENERATOR_ID)
    assert counts == {
        "users": CONFIG.users,
        "study_profiles": CONFIG.users,
        "study_profile_subjects": sum(len(u.subjects) for u in users),
        "friendships": population.expected_friendship_rows,
        "study_rooms": CONFIG.rooms,
        "friend_suggestions": 0,  # until the graph jobs run on it
        "user_graph_metrics": 0,
    }

    # Both directions of every friendship, no self-friendship, both ends are users.
    # (Generator id = bits 12..21 of a Snowflake id, core.ids.)
    assert not _scalar(
        router,
        "SELECT COUNT(*) FROM friendships f LEFT JOIN friendships r "
        "ON r.user1_id = f.user2_id AND r.user2_id = f.user1_id "
        "WHERE ((f.user1_id >> 12) & 1023) = :generator_id AND r.user1_id IS NULL",
    )
    assert not _scalar(
        router,
        "SELECT COUNT(*) FROM friendships "
        "WHERE ((user1_id >> 12) & 1023) = :generator_id AND user1_id = user2_id",
    )
    assert not _scalar(
        router,
        "SELECT COUNT(*) FROM friendships f LEFT JOIN users u ON u.id = f.user2_id "
        "WHERE ((f.user1_id >> 12) & 1023) = :generator_id AND u.id IS NULL",
    )
    # The hub of the generated graph has the same friend count in the database.
    degrees = np.bincount(
        np.concatenate([b.src for b in population.edge_blocks()]), minlength=CONFIG.users
    )
    hub = int(np.argmax(degrees))
    assert _scalar(
        router,
        "SELECT COUNT(*) FROM friendships WHERE user1_id = :id",
        id=int(population.user_ids[hub]),
    ) == int(degrees[hub])

    # Profile subjects: the JSON list and the normalised rows agree, and match the generator.
    with router.engine(DIRECTORY_SHARD).connect() as connection:
        profiles = {
            int(user_id): (json.loads(subjects), json.loads(availability), timezone)
            for user_id, subjects, availability, timezone in connection.execute(
                text(
                    "SELECT user_id, subjects, availability, timezone FROM study_profiles "
                    "WHERE ((user_id >> 12) & 1023) = :generator_id"
                ),
                PARAMS,
            )
        }
        normalised: dict[int, set[str]] = {}
        for user_id, subject in connection.execute(
            text(
                "SELECT user_id, subject FROM study_profile_subjects "
                "WHERE ((user_id >> 12) & 1023) = :generator_id"
            ),
            PARAMS,
        ):
            normalised.setdefault(int(user_id), set()).add(subject)
        stored_users = {
            int(user_id): (username, display_name)
            for user_id, username, display_name in connection.execute(
                text(
                    "SELECT id, username, display_name FROM users "
                    "WHERE ((id >> 12) & 1023) = :generator_id"
                ),
                PARAMS,
            )
        }
    for user in users:
        subjects, availability, timezone = profiles[user.id]
        assert subjects == list(user.subjects)
        assert normalised[user.id] == set(user.subjects)
        assert availability == list(user.availability)
        assert timezone == user.timezone
        assert stored_users[user.id] == (user.username, user.display_name)

    # Rooms: each on the shard its id hashes to, owned by a user of the population.
    user_ids = set(population.user_ids.tolist())
    found = 0
    for shard in range(router.shard_count):
        with router.engine(shard).connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT id, owner_id FROM study_rooms WHERE ((id >> 12) & 1023) = :generator_id"
                ),
                PARAMS,
            ).all()
        for room_id, owner_id in rows:
            assert shard_for_room(int(room_id), router.shard_count) == shard
            assert int(owner_id) in user_ids
        found += len(rows)
    assert found == CONFIG.rooms


@pytest.mark.parametrize("method", LOAD_METHODS)
def test_awkward_text_survives_both_load_paths(
    settings: Settings, clean: ShardRouter, method: LoadMethod
) -> None:
    user_id = IdGenerator(GENERATOR_ID).next_id()
    awkward = "tab\there\\back slash\nnew line, 'quote' \"double\" Zoë ✓ \U0001d518 \\N"
    with BulkLoader(settings, method=method) as loader:
        loader.users([UserRow(user_id, "bulktest_awkward", awkward[:64], "x", "UTC")])
        loader.study_profiles(
            [StudyProfileRow(user_id, ["Law"], "UTC", [{"day": 0, "start": "09:00"}], awkward)]
        )
    with clean.engine(DIRECTORY_SHARD).connect() as connection:
        display_name = connection.execute(
            text("SELECT display_name FROM users WHERE id = :id"), {"id": user_id}
        ).scalar_one()
        goals = connection.execute(
            text("SELECT goals FROM study_profiles WHERE user_id = :id"), {"id": user_id}
        ).scalar_one()
    assert display_name == awkward[:64]
    assert goals == awkward


@pytest.mark.parametrize("method", LOAD_METHODS)
def test_a_chunk_with_a_duplicate_is_refused_and_rolled_back(
    settings: Settings, clean: ShardRouter, method: LoadMethod
) -> None:
    ids = IdGenerator(GENERATOR_ID)
    first, second = ids.next_id(), ids.next_id()
    with BulkLoader(settings, method=method) as loader:
        loader.users([UserRow(first, "bulktest_dup", "One", "x", "UTC")])
        # LOAD DATA LOCAL would skip the duplicate with a warning; the loader must not.
        with pytest.raises(BulkLoadError, match="Duplicate entry"):
            loader.users(
                [
                    UserRow(second, "bulktest_fresh", "Two", "x", "UTC"),
                    UserRow(ids.next_id(), "bulktest_dup", "Three", "x", "UTC"),
                ]
            )
        # Still usable after the rollback.
        assert loader.friendships(np.array([first]), np.array([second])) == 1
    assert population_counts(clean, GENERATOR_ID)["users"] == 1
    assert not _scalar(clean, "SELECT COUNT(*) FROM users WHERE id = :id", id=second)


@pytest.mark.parametrize("method", LOAD_METHODS)
def test_chat_history_lands_on_each_rooms_shard_in_seq_order(
    settings: Settings, clean: ShardRouter, method: LoadMethod
) -> None:
    ids = IdGenerator(GENERATOR_ID)
    # Ids of a synthetic generator (no real room has one), three on every shard.
    by_shard: dict[int, list[int]] = {shard: [] for shard in range(settings.mysql_shards)}
    while any(len(found) < 3 for found in by_shard.values()):
        room = ids.next_id()
        found = by_shard[shard_for_room(room, settings.mysql_shards)]
        if len(found) < 3:
            found.append(room)
    rooms = [room for found in by_shard.values() for room in found]
    rows = [
        ChatRow(
            room,
            seq,
            ids.next_id(),
            1,
            f"bulk-{seq}",
            f"line {seq}\twith tab",
            "2026-01-02 03:04:05.123456",
        )
        for room in rooms
        for seq in range(1, 31)
    ]
    try:
        with BulkLoader(settings, method=method) as loader:
            assert loader.chat_messages(rows) == len(rows)
        for room in rooms:
            shard = shard_for_room(room, settings.mysql_shards)
            with clean.engine(shard).connect() as connection:
                stored = connection.execute(
                    text(
                        "SELECT seq, body, created_at FROM chat_messages"
                        " WHERE room_id = :r ORDER BY seq"
                    ),
                    {"r": room},
                ).all()
            assert [r[0] for r in stored] == list(range(1, 31))
            assert stored[4][1] == "line 5\twith tab"
            assert stored[0][2].microsecond == 123456
    finally:
        delete_chat_messages(clean, rooms)
    for room in rooms:
        with clean.engine_for_room(room).connect() as connection:
            left = connection.execute(
                text("SELECT COUNT(*) FROM chat_messages WHERE room_id = :r"), {"r": room}
            ).scalar_one()
        assert left == 0


def test_populate_refuses_to_load_over_a_population_unless_replacing(
    settings: Settings, clean: ShardRouter
) -> None:
    small = replace(CONFIG, users=500, avg_degree=10, rooms=20, seed=3)
    report = populate(settings, small)
    assert report.in_database["users"] == 500
    assert report.in_database["friendships"] == report.tables["friendships"].rows
    assert all(stats.rows_per_second > 0 for stats in report.tables.values())

    with pytest.raises(PopulateError, match="already hold a population of generator id 1009"):
        populate(settings, small)

    replaced = populate(settings, small, replace=True)
    assert replaced.removed["users"] == 500
    assert population_counts(clean, GENERATOR_ID)["users"] == 500
