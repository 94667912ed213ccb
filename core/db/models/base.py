from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, MetaData, text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Stable constraint names, so Alembic can drop what it created on every shard.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# InnoDB, utf8mb4 with a case- and accent-insensitive collation (username search), everywhere.
TABLE_OPTIONS: dict[str, Any] = {
    "mysql_engine": "InnoDB",
    "mysql_charset": "utf8mb4",
    "mysql_collate": "utf8mb4_unicode_ci",
}

# Floating point is spelled DOUBLE, never the generic Float: Dagster, once imported, recompiles
# every generic Float for MySQL as FLOAT(32) (dagster/_core/storage/sql.py), so the same model
# would give different DDL in a process that has imported it.
Double = mysql.DOUBLE(asdecimal=False)

# Microsecond UTC timestamps: message order within a millisecond still reads right in history.
Timestamp = mysql.DATETIME(fsp=6)
NOW = text("CURRENT_TIMESTAMP(6)")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def snowflake_pk() -> Mapped[int]:
    """A BIGINT primary key filled by core.ids, never AUTO_INCREMENT (rows span shards)."""
    return mapped_column(BigInteger, primary_key=True, autoincrement=False)


def created_at() -> Mapped[datetime]:
    return mapped_column(Timestamp, nullable=False, server_default=NOW)
