"""Alembic upgrade and downgrade on every shard, in scratch databases of their own.

The scratch database keeps a developer's data safe from the downgrade, and proves the
migrations build the whole schema from nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

import core.db.models  # noqa: F401 - registers every table
from core.db.migrate import current_revisions, downgrade_all, upgrade_all
from core.db.models.base import Base
from core.db.sharding import ShardRouter
from core.settings import Settings

pytestmark = pytest.mark.integration

EXPECTED_TABLES = {
    "alerts",
    "alert_events",
    "focus_sessions",
    "user_graph_metrics",
    "friend_suggestions",
    "users",
    "study_rooms",
    "room_participants",
    "room_invites",
    "discussion_groups",
    "group_members",
    "group_posts",
    "study_profiles",
    "study_profile_subjects",
    "buddy_requests",
    "study_buddies",
    "friendships",
    "friend_requests",
    "user_blocks",
    "chat_messages",
    "moderation_events",
    "moderation_items",
    "moderation_reviews",
    "room_bans",
}


@pytest.fixture
def scratch_database(settings: Settings, mysql: ShardRouter) -> Iterator[str]:
    del mysql  # requested so that a shard that is down fails with its log in view
    name = f"{settings.mysql_database}_migtest_{os.getpid()}"
    engines = [create_engine(settings.mysql_url(s)) for s in range(settings.mysql_shards)]
    for engine in engines:
        with engine.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            connection.execute(text(f"CREATE DATABASE `{name}`"))
    yield name
    for engine in engines:
        with engine.begin() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        engine.dispose()


def _tables(settings: Settings, shard: int, database: str) -> set[str]:
    engine = create_engine(settings.mysql_url(shard, database=database))
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_and_downgrade_on_every_shard(settings: Settings, scratch_database: str) -> None:
    assert current_revisions(settings, database=scratch_database) == [None] * settings.mysql_shards

    upgrade_all(settings, "head", database=scratch_database)
    for shard in range(settings.mysql_shards):
        assert _tables(settings, shard, scratch_database) == EXPECTED_TABLES
    heads = current_revisions(settings, database=scratch_database)
    assert len(set(heads)) == 1
    assert heads[0] is not None

    downgrade_all(settings, "base", database=scratch_database)
    for shard in range(settings.mysql_shards):
        assert _tables(settings, shard, scratch_database) == set()

    # And back up again: downgrade left nothing behind that blocks a fresh upgrade.
    upgrade_all(settings, "head", database=scratch_database)
    assert current_revisions(settings, database=scratch_database) == heads


def test_models_match_the_migrations(settings: Settings, scratch_database: str) -> None:
    """Schema changes go through migrations: after `upgrade head` autogenerate finds nothing."""
    upgrade_all(settings, "head", database=scratch_database)
    engine = create_engine(settings.mysql_url(0, database=scratch_database))
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_partitioning_as_designed(settings: Settings, scratch_database: str) -> None:
    upgrade_all(settings, "head", database=scratch_database)
    engine = create_engine(settings.mysql_url(1 % settings.mysql_shards, database=scratch_database))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT table_name, partition_method, partition_expression, COUNT(*) AS n "
                    "FROM information_schema.partitions WHERE table_schema = DATABASE() "
                    "AND partition_name IS NOT NULL GROUP BY table_name, partition_method, "
                    "partition_expression ORDER BY table_name"
                )
            ).all()
            chat_keys = connection.execute(
                text(
                    "SELECT index_name, GROUP_CONCAT(column_name ORDER BY seq_in_index) AS cols "
                    "FROM information_schema.statistics WHERE table_schema = DATABASE() "
                    "AND table_name = 'chat_messages' GROUP BY index_name ORDER BY index_name"
                )
            ).all()
    finally:
        engine.dispose()
    assert [tuple(row) for row in rows] == [
        ("chat_messages", "HASH", "`room_id`", 8),
        ("friendships", "HASH", "`user1_id`", 8),
    ]
    key_columns = {str(row.index_name): str(row.cols) for row in chat_keys}
    assert key_columns["PRIMARY"] == "room_id,seq"
