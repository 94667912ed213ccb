"""Bulk loaders: many rows into the MariaDB shards, fast, and out again.

The fast path is ``LOAD DATA LOCAL INFILE`` from a temporary TSV file, one transaction per
chunk; the fallback is multi-row ``INSERT`` statements (a few MB each), also one transaction per
chunk. Both go through PyMySQL directly rather than SQLAlchemy: LOAD DATA LOCAL needs the
``local_infile`` client flag at connect time, and building the statements ourselves avoids a
Python object per row.

``LOAD DATA LOCAL`` turns errors into warnings (a duplicate key skips the row, a too-long string
is truncated), so every chunk is checked: the affected-row count must equal the rows sent and the
warning count must be zero, or the chunk is rolled back and BulkLoadError names the problem.

Synthetic populations carry ids from a reserved range of generator ids (``core.ids`` layout),
which is how ``population_counts`` finds them and ``truncate_population`` removes them again
without touching anyone else's rows.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pymysql
from pymysql.connections import Connection
from pymysql.cursors import Cursor
from sqlalchemy import bindparam, text

from core.db.sharding import DIRECTORY_SHARD, ShardRouter, shard_for_room
from core.ids import MAX_GENERATOR_ID, SEQUENCE_BITS
from core.settings import Settings

log = logging.getLogger(__name__)

LoadMethod = Literal["load-data", "insert"]
LOAD_METHODS: Final[tuple[LoadMethod, ...]] = ("load-data", "insert")

# Generator ids (core.ids) reserved for synthetic populations: the API and the pipelines use
# leased ones (0-899, core.ids.lease_generator_id), so rows carrying these belong to a
# benchmark population.
SYNTHETIC_GENERATOR_IDS: Final = range(1000, 1011)

# The tables a population occupies, each with the column whose id carries the generator id.
# Deletion runs in this order: users go last, so an interrupted cleanup can be rerun.
DIRECTORY_TABLES: Final = (
    # What the graph jobs computed for the population's users, if they ran on it.
    ("friend_suggestions", "user_id"),
    ("user_graph_metrics", "user_id"),
    ("friendships", "user1_id"),
    ("study_profile_subjects", "user_id"),
    ("study_profiles", "user_id"),
    ("users", "id"),
)
ROOM_TABLES: Final = (("study_rooms", "id"),)
POPULATION_TABLES: Final = tuple(t for t, _ in DIRECTORY_TABLES + ROOM_TABLES)

# One INSERT statement stays well under the server's max_allowed_packet (16 MiB here).
_MAX_STATEMENT_BYTES: Final = 4 * 1024 * 1024
# MariaDB's ER_NOT_ALLOWED_COMMAND: the server (or the client flag) disallows LOAD DATA LOCAL.
_ER_NOT_ALLOWED_COMMAND: Final = 1148
_TSV_ESCAPES: Final = str.maketrans(
    {"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"}
)

Value = int | str | None
Int64Array = npt.NDArray[np.int64]


class BulkLoadError(RuntimeError):
    """A chunk was refused or only partly loaded; it has been rolled back."""


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    username: str
    display_name: str
    password_hash: str
    timezone: str


@dataclass(frozen=True, slots=True)
class StudyProfileRow:
    user_id: int
    subjects: Sequence[str]
    timezone: str
    # [{"day": 0-6, "start": "HH:MM", "end": "HH:MM"}], stored as JSON
    availability: Sequence[Mapping[str, object]]
    goals: str


@dataclass(frozen=True, slots=True)
class RoomRow:
    id: int
    owner_id: int
    name: str
    topic: str
    capacity: int
    visibility: str


@dataclass(frozen=True, slots=True)
class ChatRow:
    room_id: int
    seq: int
    message_id: int
    sender_id: int
    client_msg_id: str
    body: str
    created_at: str  # "YYYY-MM-DD HH:MM:SS.ffffff", UTC


@dataclass
class TableStats:
    rows: int = 0
    seconds: float = 0.0  # encoding, sending, loading and committing

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0


def delete_chat_messages(router: ShardRouter, rooms: Sequence[int]) -> None:
    """Delete every message of these rooms, on whichever shard holds each."""
    by_shard: dict[int, list[int]] = defaultdict(list)
    for room in rooms:
        by_shard[shard_for_room(room, router.settings.mysql_shards)].append(room)
    for shard, ids in sorted(by_shard.items()):
        with router.engine(shard).begin() as connection:
            connection.execute(
                text("DELETE FROM chat_messages WHERE room_id IN :rooms").bindparams(
                    bindparam("rooms", expanding=True)
                ),
                {"rooms": ids},
            )


def generator_predicate(column: str) -> str:
    """SQL that is true when ``column``'s id was made by generator ``:generator_id``."""
    return f"(({column} >> {SEQUENCE_BITS}) & {MAX_GENERATOR_ID}) = :generator_id"


def _check_generator(generator_id: int) -> None:
    if generator_id not in SYNTHETIC_GENERATOR_IDS:
        raise ValueError(
            f"generator_id {generator_id} is not reserved for synthetic populations "
            f"({SYNTHETIC_GENERATOR_IDS.start}..{SYNTHETIC_GENERATOR_IDS.stop - 1}); "
            "refusing to touch rows that may be real"
        )


def _tsv_field(value: Value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, int):
        return str(value)
    return value.translate(_TSV_ESCAPES)


def _tsv(rows: Iterable[Sequence[Value]]) -> bytes:
    return "".join("\t".join(map(_tsv_field, row)) + "\n" for row in rows).encode("utf-8")


def _pair_tsv(first: list[int], second: list[int]) -> bytes:
    return "".join([f"{a}\t{b}\n" for a, b in zip(first, second, strict=True)]).encode("ascii")


class BulkLoader:
    """Loads chunks of rows, each chunk in one transaction; keeps per-table statistics.

    One PyMySQL connection per shard, opened on first use. Use as a context manager, or call
    ``close()``.
    """

    def __init__(self, settings: Settings, *, method: LoadMethod = "load-data") -> None:
        if method not in LOAD_METHODS:
            raise ValueError(f"method must be one of {', '.join(LOAD_METHODS)}, got {method!r}")
        self.settings = settings
        self.method: LoadMethod = method
        self.stats: dict[str, TableStats] = defaultdict(TableStats)
        self._connections: dict[int, Connection[Cursor]] = {}
        self._tmp: Path | None = None
        self._last_table: str | None = None

    def __enter__(self) -> BulkLoader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._connections.values():
            connection.close()
        self._connections.clear()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    # -- public loaders, one chunk (one transaction) per call ----------------------------------

    def users(self, rows: Sequence[UserRow]) -> int:
        columns = ("id", "username", "display_name", "password_hash", "timezone")
        values = [(r.id, r.username, r.display_name, r.password_hash, r.timezone) for r in rows]
        with self._transaction(DIRECTORY_SHARD) as cursor:
            self._load_rows(cursor, "users", columns, values)
        return len(rows)

    def study_profiles(self, rows: Sequence[StudyProfileRow]) -> int:
        """Profiles and their normalised subjects, in one transaction."""
        profiles = [
            (
                r.user_id,
                json.dumps(list(r.subjects), ensure_ascii=False),
                r.timezone,
                json.dumps(list(r.availability), separators=(",", ":")),
                r.goals,
            )
            for r in rows
        ]
        subjects = [(r.user_id, subject) for r in rows for subject in r.subjects]
        with self._transaction(DIRECTORY_SHARD) as cursor:
            self._load_rows(
                cursor,
                "study_profiles",
                ("user_id", "subjects", "timezone", "availability", "goals"),
                profiles,
            )
            self._load_rows(cursor, "study_profile_subjects", ("user_id", "subject"), subjects)
        return len(rows)

    def friendships(self, user1: Int64Array, user2: Int64Array) -> int:
        """Directed friendship rows as given; the caller supplies both directions.

        Rows sorted by (user1, user2) load fastest: they append to the clustered index.
        """
        if user1.shape != user2.shape:
            raise ValueError(f"user1 and user2 differ in length: {user1.size} != {user2.size}")
        first: list[int] = user1.tolist()
        second: list[int] = user2.tolist()
        with self._transaction(DIRECTORY_SHARD) as cursor:
            self._load(
                cursor,
                "friendships",
                ("user1_id", "user2_id"),
                len(first),
                tsv=lambda: _pair_tsv(first, second),
                tuples=lambda: (f"({a},{b})" for a, b in zip(first, second, strict=True)),
            )
        return len(first)

    def study_rooms(self, rows: Sequence[RoomRow]) -> int:
        """Rooms, each on its shard (core.db.sharding.shard_for_room); one transaction per shard."""
        by_shard: dict[int, list[tuple[Value, ...]]] = defaultdict(list)
        for r in rows:
            by_shard[shard_for_room(r.id, self.settings.mysql_shards)].append(
                (r.id, r.owner_id, r.name, r.topic, r.capacity, r.visibility)
            )
        columns = ("id", "owner_id", "name", "topic", "capacity", "visibility")
        for shard, values in sorted(by_shard.items()):
            with self._transaction(shard) as cursor:
                self._load_rows(cursor, "study_rooms", columns, values)
        return len(rows)

    def chat_messages(self, rows: Sequence[ChatRow]) -> int:
        """Chat history (for example, for the benchmark's history pages), on each room's shard.

        The persistence job owns seq in production; a loader writing history must give every
        room a gap-free seq from 1 itself, or resume and history pages will see holes.
        """
        by_shard: dict[int, list[tuple[Value, ...]]] = defaultdict(list)
        for r in rows:
            by_shard[shard_for_room(r.room_id, self.settings.mysql_shards)].append(
                (r.room_id, r.seq, r.message_id, r.sender_id, r.client_msg_id, r.body, r.created_at)
            )
        columns = (
            "room_id",
            "seq",
            "message_id",
            "sender_id",
            "client_msg_id",
            "body",
            "created_at",
        )
        for shard, values in sorted(by_shard.items()):
            with self._transaction(shard) as cursor:
                self._load_rows(cursor, "chat_messages", columns, values)
        return len(rows)

    # -- machinery ----------------------------------------------------------------------------

    def _connection(self, shard: int) -> Connection[Cursor]:
        if shard not in self._connections:
            s = self.settings
            self._connections[shard] = pymysql.connect(
                host=s.mysql_host,
                port=s.mysql_port(shard),
                user=s.mysql_user,
                password=s.mysql_password.get_secret_value(),
                database=s.mysql_database,
                charset="utf8mb4",
                autocommit=False,
                local_infile=self.method == "load-data",
            )
        return self._connections[shard]

    @contextmanager
    def _transaction(self, shard: int) -> Iterator[Cursor]:
        """BEGIN ... COMMIT on one shard; ROLLBACK if the body raised."""
        connection = self._connection(shard)
        connection.begin()
        try:
            with connection.cursor() as cursor:
                yield cursor
        except BaseException:
            try:
                connection.rollback()
            except pymysql.err.MySQLError:
                # The connection is broken; drop it so the next chunk reconnects, and let the
                # original error through rather than the rollback's.
                self._connections.pop(shard, None)
            raise
        started = time.perf_counter()
        connection.commit()
        # The commit (the redo log flush) is part of loading; charge it to the last table.
        if self._last_table is not None:
            self.stats[self._last_table].seconds += time.perf_counter() - started

    def _load_rows(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Value]],
    ) -> None:
        escape = cursor.connection.escape

        def literal(value: Value) -> str:
            if value is None:
                return "NULL"
            if isinstance(value, int):
                return str(value)
            return escape(value)

        self._load(
            cursor,
            table,
            columns,
            len(rows),
            tsv=lambda: _tsv(rows),
            tuples=lambda: ("(" + ",".join(map(literal, row)) + ")" for row in rows),
        )

    def _load(
        self,
        cursor: Cursor,
        table: str,
        columns: Sequence[str],
        count: int,
        *,
        tsv: Callable[[], bytes],
        tuples: Callable[[], Iterable[str]],
    ) -> None:
        """Load ``count`` rows, encoded by ``tsv`` (LOAD DATA) or ``tuples`` (INSERT)."""
        if count == 0:
            return
        started = time.perf_counter()
        column_list = ", ".join(f"`{c}`" for c in columns)
        try:
            if self.method == "load-data":
                loaded = self._load_data(cursor, table, column_list, tsv())
            else:
                loaded = self._insert(cursor, table, column_list, tuples())
        except pymysql.err.MySQLError as error:
            raise BulkLoadError(
                f"{table}: the server refused the chunk: {error}. The chunk was rolled back."
            ) from error
        if loaded != count or cursor.warning_count:
            warnings = cursor.warning_count
            cursor.execute("SHOW WARNINGS LIMIT 5")
            said = "; ".join(str(w[2]) for w in cursor.fetchall()) or "no warnings"
            raise BulkLoadError(
                f"{table}: the server took {loaded} of {count} rows ({warnings} warnings): "
                f"{said}. The chunk was rolled back."
            )
        stats = self.stats[table]
        stats.rows += loaded
        stats.seconds += time.perf_counter() - started
        self._last_table = table

    def _tmp_dir(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="studyhub-bulk-"))
        return self._tmp

    def _load_data(self, cursor: Cursor, table: str, column_list: str, payload: bytes) -> int:
        path = self._tmp_dir() / f"{table}.tsv"
        path.write_bytes(payload)
        sql = (
            f"LOAD DATA LOCAL INFILE %s INTO TABLE `{table}` CHARACTER SET utf8mb4 "
            "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
            f"({column_list})"
        )
        try:
            return cursor.execute(sql, (str(path),))
        except pymysql.err.MySQLError as error:
            if error.args and error.args[0] == _ER_NOT_ALLOWED_COMMAND:
                raise BulkLoadError(
                    f"the server on port {cursor.connection.port} refuses LOAD DATA LOCAL "
                    f"INFILE: {error}. Load with method='insert' (populate: --method insert)."
                ) from error
            raise

    def _insert(self, cursor: Cursor, table: str, column_list: str, tuples: Iterable[str]) -> int:
        head = f"INSERT INTO `{table}` ({column_list}) VALUES "  # noqa: S608 - fixed names
        loaded = 0
        batch: list[str] = []
        size = 0
        for item in tuples:
            batch.append(item)
            size += len(item) + 1
            if size >= _MAX_STATEMENT_BYTES:
                loaded += cursor.execute(head + ",".join(batch))
                batch, size = [], 0
        if batch:
            loaded += cursor.execute(head + ",".join(batch))
        return loaded


# -- finding and removing a population -----------------------------------------------------------


def population_counts(router: ShardRouter, generator_id: int) -> dict[str, int]:
    """Rows per table whose ids come from ``generator_id`` (rooms summed over all shards)."""
    _check_generator(generator_id)
    counts: dict[str, int] = {}
    params = {"generator_id": generator_id}
    with router.directory_engine().connect() as connection:
        for table, column in DIRECTORY_TABLES:
            sql = f"SELECT COUNT(*) FROM `{table}` WHERE {generator_predicate(column)}"  # noqa: S608 - fixed names
            counts[table] = int(connection.execute(text(sql), params).scalar_one())
    for table, column in ROOM_TABLES:
        total = 0
        for engine in router.all_engines():
            with engine.connect() as connection:
                sql = f"SELECT COUNT(*) FROM `{table}` WHERE {generator_predicate(column)}"  # noqa: S608 - fixed names
                total += int(connection.execute(text(sql), params).scalar_one())
        counts[table] = total
    return counts


# Users per DELETE: friendships average avg_degree rows per user, the other tables a few.
_DELETE_USERS_PER_STATEMENT: Final = {"friendships": 500, "friend_suggestions": 1000}
_DELETE_USERS_DEFAULT: Final = 5000
_SWEEP_LIMIT: Final = 50_000


def truncate_population(
    router: ShardRouter,
    generator_id: int,
    *,
    progress: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """Delete every row of the population made with ``generator_id``; return rows per table.

    Rows are found through the population's user ids (index lookups, a few thousand users per
    statement and transaction), then each table is swept by the generator-id predicate for
    anything an interrupted load or cleanup left behind. Safe to rerun. ``progress(table, n)``
    is called after each statement with the rows it deleted.
    """
    _check_generator(generator_id)
    params = {"generator_id": generator_id}
    deleted: dict[str, int] = dict.fromkeys(POPULATION_TABLES, 0)

    def report(table: str, count: int) -> None:
        deleted[table] += count
        if progress is not None:
            progress(table, count)

    directory = router.directory_engine()
    with directory.connect() as connection:
        user_ids = [
            int(row[0])
            for row in connection.execute(
                text(f"SELECT id FROM users WHERE {generator_predicate('id')} ORDER BY id"),  # noqa: S608 - fixed names
                params,
            )
        ]
    for table, column in DIRECTORY_TABLES:
        step = _DELETE_USERS_PER_STATEMENT.get(table, _DELETE_USERS_DEFAULT)
        for start in range(0, len(user_ids), step):
            id_list = ",".join(map(str, user_ids[start : start + step]))
            with directory.begin() as connection:
                result = connection.execute(
                    text(f"DELETE FROM `{table}` WHERE `{column}` IN ({id_list})")  # noqa: S608 - ints
                )
            report(table, result.rowcount)
        _sweep(router, [DIRECTORY_SHARD], table, column, params, report)
    for table, column in ROOM_TABLES:
        _sweep(router, range(router.shard_count), table, column, params, report)
    log.info("removed population of generator %d: %s", generator_id, deleted)
    return deleted


def _sweep(
    router: ShardRouter,
    shards: Iterable[int],
    table: str,
    column: str,
    params: Mapping[str, int],
    report: Callable[[str, int], None],
) -> None:
    sql = text(
        f"DELETE FROM `{table}` WHERE {generator_predicate(column)} LIMIT {_SWEEP_LIMIT}"  # noqa: S608 - fixed names
    )
    for shard in shards:
        while True:
            with router.engine(shard).begin() as connection:
                count = connection.execute(sql, params).rowcount
            report(table, count)
            if count < _SWEEP_LIMIT:
                break
