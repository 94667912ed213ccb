"""Route room-scoped rows to a MySQL shard.

Room-scoped data (study_rooms, room_participants, chat_messages) lives on shard
``shard_for_room(room_id)``. Everything else (users, the social graph, groups, buddies) lives on
the directory shard, shard 0, until it needs a partitioning of its own. Every shard carries the
same schema (Alembic upgrades all of them), so moving a table to a sharded home is a routing
change, not a migration.

The hash is the SplitMix64 finalizer: Snowflake ids put a timestamp in the high bits and a small
sequence in the low bits, so ``room_id % shards`` would follow generator and sequence patterns;
the finalizer mixes every input bit into every output bit, is stable across processes and
languages (unlike Python's ``hash``), and costs a few arithmetic operations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncmy
import asyncmy.errors
from asyncmy.pool import Pool
from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from core.settings import Settings

_MASK64 = (1 << 64) - 1
DIRECTORY_SHARD = 0
# Client errors that mean the connection died under the statement (gone away, lost mid-query,
# a broken packet), not that the statement was wrong: worth one retry on a fresh connection.
_DEAD_CONNECTION = frozenset({2006, 2013, 2055})
Params = Sequence[Any] | Mapping[str, Any] | None


def mix64(value: int) -> int:
    """SplitMix64's finalizer: a stable, well-spread 64-bit hash of a 64-bit integer."""
    z = value & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def shard_for_room(room_id: int, shards: int) -> int:
    if shards < 1:
        raise ValueError(f"shards must be at least 1, got {shards}")
    return mix64(room_id) % shards


@dataclass
class ShardRouter:
    """One engine per shard, created lazily, and the routing rules over them."""

    settings: Settings
    pool_size: int = 5
    _engines: dict[int, Engine] = field(default_factory=dict, init=False)
    _sessions: dict[int, sessionmaker[Session]] = field(default_factory=dict, init=False)

    @property
    def shard_count(self) -> int:
        return self.settings.mysql_shards

    def engine(self, shard: int) -> Engine:
        if not 0 <= shard < self.shard_count:
            raise ValueError(f"shard {shard} out of range 0..{self.shard_count - 1}")
        if shard not in self._engines:
            self._engines[shard] = create_engine(
                self.settings.mysql_url(shard),
                pool_size=self.pool_size,
                pool_pre_ping=True,
                pool_recycle=3600,
            )
        return self._engines[shard]

    def shard_for_room(self, room_id: int) -> int:
        return shard_for_room(room_id, self.shard_count)

    def engine_for_room(self, room_id: int) -> Engine:
        return self.engine(self.shard_for_room(room_id))

    def directory_engine(self) -> Engine:
        return self.engine(DIRECTORY_SHARD)

    def all_engines(self) -> list[Engine]:
        return [self.engine(shard) for shard in range(self.shard_count)]

    @contextmanager
    def session(self, shard: int) -> Iterator[Session]:
        """A session on one shard that commits on success and rolls back on error."""
        if shard not in self._sessions:
            self._sessions[shard] = sessionmaker(self.engine(shard), expire_on_commit=False)
        with self._sessions[shard].begin() as session:
            yield session

    def room_session(self, room_id: int) -> AbstractContextManager[Session]:
        return self.session(self.shard_for_room(room_id))

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._sessions.clear()


@dataclass
class AsyncShardRouter:
    """The asyncio twin of ShardRouter (asyncmy driver), for the API and the gateway.

    Two ways in. ``sessions``/``directory``/``for_room`` give SQLAlchemy sessions, for writes
    with a unit of work and every cold path. ``fetch`` and ``execute`` run one statement
    written once as SQL text on a plain asyncmy pool in autocommit: one round trip, nothing
    compiled, no ORM objects, no pre-ping and no reset on return. They serve the hot reads and
    single-statement writes, where the ORM's session, statement compilation and pool
    round trips were most of a request's CPU (py-spy, bench/README.md).
    """

    settings: Settings
    pool_size: int = 10
    max_overflow: int = 20
    _engines: dict[int, AsyncEngine] = field(default_factory=dict, init=False)
    _sessions: dict[int, async_sessionmaker[AsyncSession]] = field(default_factory=dict, init=False)
    _pools: dict[int, Pool] = field(default_factory=dict, init=False)
    _pool_lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False)

    @property
    def shard_count(self) -> int:
        return self.settings.mysql_shards

    def engine(self, shard: int) -> AsyncEngine:
        if not 0 <= shard < self.shard_count:
            raise ValueError(f"shard {shard} out of range 0..{self.shard_count - 1}")
        if shard not in self._engines:
            self._engines[shard] = create_async_engine(
                self.settings.mysql_url(shard, driver="asyncmy"),
                pool_size=self.pool_size,
                max_overflow=self.max_overflow,
                pool_pre_ping=True,
                pool_recycle=3600,
            )
        return self._engines[shard]

    def shard_for_room(self, room_id: int) -> int:
        return shard_for_room(room_id, self.shard_count)

    def sessions(self, shard: int) -> async_sessionmaker[AsyncSession]:
        if shard not in self._sessions:
            self._sessions[shard] = async_sessionmaker(self.engine(shard), expire_on_commit=False)
        return self._sessions[shard]

    def directory(self) -> async_sessionmaker[AsyncSession]:
        """Sessions on the directory shard: users, the social graph, groups, buddies."""
        return self.sessions(DIRECTORY_SHARD)

    def for_room(self, room_id: int) -> async_sessionmaker[AsyncSession]:
        return self.sessions(self.shard_for_room(room_id))

    async def _pool(self, shard: int) -> Pool:
        pool = self._pools.get(shard)
        if pool is not None:
            return pool
        if not 0 <= shard < self.shard_count:
            raise ValueError(f"shard {shard} out of range 0..{self.shard_count - 1}")
        async with self._pool_lock:
            if shard not in self._pools:
                self._pools[shard] = await asyncmy.create_pool(
                    minsize=1,
                    maxsize=self.pool_size + self.max_overflow,
                    pool_recycle=3600,
                    host=self.settings.mysql_host,
                    port=self.settings.mysql_port(shard),
                    user=self.settings.mysql_user,
                    password=self.settings.mysql_password.get_secret_value(),
                    db=self.settings.mysql_database,
                    charset="utf8mb4",
                    autocommit=True,
                )
            return self._pools[shard]

    async def fetch(self, shard: int, sql: str, params: Params = None) -> list[tuple[Any, ...]]:
        """The rows of one read (``%(name)s`` or ``%s`` parameters), retried once on a fresh
        connection if the pooled one had died (a shard restart)."""
        try:
            return await self._fetch_once(shard, sql, params)
        except asyncmy.errors.OperationalError as error:
            if not error.args or error.args[0] not in _DEAD_CONNECTION:
                raise
        return await self._fetch_once(shard, sql, params)

    async def _fetch_once(self, shard: int, sql: str, params: Params) -> list[tuple[Any, ...]]:
        pool = await self._pool(shard)
        async with pool.acquire() as conn, conn.cursor() as cursor:
            await cursor.execute(sql, params)
            return list(await cursor.fetchall())  # asyncmy: a list, or () for no rows

    async def execute(self, shard: int, sql: str, params: Params = None) -> int:
        """Run one statement in its own transaction (autocommit); the rows it changed. Not
        retried: only the caller knows whether running it twice is harmless."""
        pool = await self._pool(shard)
        async with pool.acquire() as conn, conn.cursor() as cursor:
            changed: int = await cursor.execute(sql, params)
            return changed

    async def dispose(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        pools = list(self._pools.values())
        self._pools.clear()
        for pool in pools:
            pool.close()
            await pool.wait_closed()
        self._sessions.clear()
