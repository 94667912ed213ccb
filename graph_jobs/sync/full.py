"""The full re-sync of one relation, and the comparison its asset check makes.

A run reads its rows from MySQL in one streamed query per shard (a server-side cursor: one
consistent snapshot, no offset paging), writes them to Neo4j in batches of ``UNWIND`` + ``MERGE``
stamped with the run's start time, then sweeps what carries an older stamp. Whatever the event
sync wrote after the run began carries a newer stamp and survives the sweep, so the two never
undo each other's work.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from neo4j import Driver
from sqlalchemy import Connection, Engine, bindparam, text

from core.graph import CONSTRAINTS, SYNC_STATE
from graph_jobs.sync.relations import Relation


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def ensure_constraints(driver: Driver, database: str) -> None:
    for statement in CONSTRAINTS:
        driver.execute_query(statement, database_=database)


def _value(value: Any) -> Any:
    # The driver has no Decimal; MariaDB returns one for any division.
    return float(value) if isinstance(value, Decimal) else value


def _rows(engine: Engine, sql: str, batch: int) -> Iterator[list[dict[str, Any]]]:
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=batch).execute(text(sql))
        for part in result.partitions(batch):
            yield [{k: _value(v) for k, v in row._mapping.items()} for row in part]


@dataclass
class SyncReport:
    rows: int = 0
    batches: int = 0
    swept: int = 0
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def copy_relation(
    relation: Relation,
    *,
    engines: Sequence[Engine],
    driver: Driver,
    database: str,
    batch: int,
    progress: Callable[[int], None] | None = None,
) -> SyncReport:
    """Copy every row of ``relation`` into Neo4j and sweep what MySQL no longer has."""
    began = time.monotonic()
    stamp = now_ms()  # taken before the snapshot: anything written later is newer than it
    # Recorded before the read, so that from now on the event sync skips the events this
    # snapshot will hold (and could otherwise replay after the sweep).
    driver.execute_query(
        f"MERGE (s:{SYNC_STATE} {{relation: $relation}}) SET s.stamp = $stamp",
        relation=relation.name,
        stamp=stamp,
        database_=database,
    )
    report = SyncReport()
    for engine in engines:
        for rows in _rows(engine, relation.rows_sql, batch):
            driver.execute_query(relation.write_cypher, rows=rows, stamp=stamp, database_=database)
            report.rows += len(rows)
            report.batches += 1
            if progress is not None:
                progress(report.rows)
    # CALL ... IN TRANSACTIONS needs an auto-commit transaction, hence a session's run().
    with driver.session(database=database) as session:
        counters = session.run(relation.sweep_cypher, stamp=stamp).consume().counters
    report.swept = counters.nodes_deleted + counters.relationships_deleted
    report.seconds = time.monotonic() - began
    return report


# -- the asset check: counts on both sides, and a sample of users' neighbourhoods ---------------


def sample_user_ids(engine: Engine, size: int, seed: int | None = None) -> list[int]:
    """Up to ``size`` distinct user ids spread over the id range, by index seeks (no RAND())."""
    rng = random.Random(seed)  # noqa: S311 - a sample, not a secret
    with engine.connect() as conn:
        low, high = conn.execute(text("SELECT MIN(id), MAX(id) FROM users")).one()
        if low is None:
            return []
        pick = text("SELECT id FROM users WHERE id >= :pivot ORDER BY id LIMIT 1")
        pivots = [rng.randint(low, high) for _ in range(size)]
        ids = {conn.execute(pick, {"pivot": pivot}).scalar_one() for pivot in pivots}
    return sorted(ids)


@dataclass
class Comparison:
    relation: str
    mysql_count: int
    neo4j_count: int
    orphans: int = 0  # MySQL rows with a missing endpoint: the graph cannot hold them
    sampled_users: int = 0
    # user id -> (only in MySQL, only in Neo4j), for the users whose neighbourhoods differ
    differences: dict[int, tuple[list[Any], list[Any]]] = field(default_factory=dict)

    @property
    def expected(self) -> int:
        """What Neo4j should hold: MySQL's rows less those pointing at nobody."""
        return self.mysql_count - self.orphans

    @property
    def matches(self) -> bool:
        return self.expected == self.neo4j_count and not self.differences

    @property
    def drift(self) -> float:
        """The count gap as a share of what Neo4j should hold."""
        return abs(self.expected - self.neo4j_count) / max(self.expected, 1)

    def metadata(self) -> dict[str, Any]:
        examples = {
            str(user): {"only_in_mysql": mine[:5], "only_in_neo4j": theirs[:5]}
            for user, (mine, theirs) in list(self.differences.items())[:5]
        }
        return {
            "mysql_count": self.mysql_count,
            "orphan_rows": self.orphans,
            "neo4j_count": self.neo4j_count,
            "count_drift": round(self.drift, 6),
            "sampled_users": self.sampled_users,
            "users_differing": len(self.differences),
            "examples": examples,
        }


def _pairs(rows: Sequence[Mapping[str, Any]]) -> dict[int, set[Any]]:
    grouped: dict[int, set[Any]] = defaultdict(set)
    for row in rows:
        grouped[int(row["u"])].add(row["v"])
    return grouped


def _missing_users(directory: Engine, ids: Sequence[int], chunk: int = 10_000) -> list[int]:
    found: set[int] = set()
    statement = text("SELECT id FROM users WHERE id IN :ids").bindparams(
        bindparam("ids", expanding=True)
    )
    with directory.connect() as conn:
        for start in range(0, len(ids), chunk):
            part = list(ids[start : start + chunk])
            found.update(int(row[0]) for row in conn.execute(statement, {"ids": part}))
    return sorted(set(ids) - found)


def _orphans(relation: Relation, conn: Connection, directory: Engine) -> int:
    orphans = 0
    if relation.orphans_sql is not None:
        orphans += int(conn.execute(text(relation.orphans_sql)).scalar_one())
    if relation.user_ids_sql is not None and relation.rows_of_users_sql is not None:
        ids = [int(row[0]) for row in conn.execute(text(relation.user_ids_sql))]
        missing = _missing_users(directory, ids)
        if missing:
            statement = text(relation.rows_of_users_sql).bindparams(
                bindparam("ids", expanding=True)
            )
            orphans += int(conn.execute(statement, {"ids": missing}).scalar_one())
    return orphans


def compare_relation(
    relation: Relation,
    *,
    engines: Sequence[Engine],
    directory: Engine,
    driver: Driver,
    database: str,
    user_ids: Sequence[int],
) -> Comparison:
    mysql_count = orphans = 0
    mysql_rows: list[Mapping[str, Any]] = []
    for engine in engines:
        with engine.connect() as conn:
            mysql_count += int(conn.execute(text(relation.count_sql)).scalar_one())
            orphans += _orphans(relation, conn, directory)
            if relation.sample_sql is not None and user_ids:
                statement = text(relation.sample_sql).bindparams(bindparam("ids", expanding=True))
                result = conn.execute(statement, {"ids": list(user_ids)})
                mysql_rows += [dict(r._mapping) for r in result]
    records, _, _ = driver.execute_query(relation.count_cypher, database_=database)
    comparison = Comparison(relation.name, mysql_count, int(records[0][0]), orphans)
    if relation.sample_cypher is None or not user_ids:
        return comparison
    records, _, _ = driver.execute_query(
        relation.sample_cypher, ids=list(user_ids), database_=database
    )
    mine, theirs = _pairs(mysql_rows), _pairs([r.data() for r in records])
    comparison.sampled_users = len(user_ids)
    for user in user_ids:
        only_mine = sorted(mine.get(user, set()) - theirs.get(user, set()))
        only_theirs = sorted(theirs.get(user, set()) - mine.get(user, set()))
        if only_mine or only_theirs:
            comparison.differences[user] = (only_mine, only_theirs)
    return comparison
