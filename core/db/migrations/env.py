"""Alembic environment: one shard per run; core.db.migrate loops over the shards."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import core.db.models  # noqa: F401 - registers every table on Base.metadata
from core.db.models.base import Base
from core.settings import get_settings

config = context.config


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    # Plain `alembic -x shard=N ...` from the repo root.
    shard = int(context.get_x_argument(as_dictionary=True).get("shard", "0"))
    return get_settings().mysql_url(shard)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=Base.metadata, literal_binds=True, compare_type=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
