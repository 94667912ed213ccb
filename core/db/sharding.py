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

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

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
    """The asyncio twin of ShardRouter (asyncmy driver), for the API and the gateway."""

    settings: Settings
    pool_size: int = 10
    max_overflow: int = 20
    _engines: dict[int, AsyncEngine] = field(default_factory=dict, init=False)
    _sessions: dict[int, async_sessionmaker[AsyncSession]] = field(default_factory=dict, init=False)

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

    async def dispose(self) -> None:
        for engine in self._engines.values():
            await engine.dispose()
        self._engines.clear()
        self._sessions.clear()
