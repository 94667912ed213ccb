"""Alembic, applied to every shard. Schema changes go only through migrations (no create_all)."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from core.settings import Settings

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation would eat a '%' in a password.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def shard_urls(settings: Settings, *, database: str | None = None) -> list[str]:
    return [settings.mysql_url(shard, database=database) for shard in range(settings.mysql_shards)]


def upgrade_all(settings: Settings, revision: str = "head", *, database: str | None = None) -> None:
    for shard, url in enumerate(shard_urls(settings, database=database)):
        log.info("shard %d: upgrade to %s", shard, revision)
        command.upgrade(alembic_config(url), revision)


def downgrade_all(settings: Settings, revision: str, *, database: str | None = None) -> None:
    for shard, url in enumerate(shard_urls(settings, database=database)):
        log.info("shard %d: downgrade to %s", shard, revision)
        command.downgrade(alembic_config(url), revision)


def current_revisions(settings: Settings, *, database: str | None = None) -> list[str | None]:
    """The revision each shard is at (None: never migrated)."""
    revisions: list[str | None] = []
    for url in shard_urls(settings, database=database):
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                has_table = connection.execute(
                    text(
                        "SELECT COUNT(*) FROM information_schema.tables "
                        "WHERE table_schema = DATABASE() AND table_name = 'alembic_version'"
                    )
                ).scalar_one()
                revisions.append(
                    connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                    if has_table
                    else None
                )
        finally:
            engine.dispose()
    return revisions
