"""People you may know for every user, stored for serving in MySQL's ``friend_suggestions``.

One run: read the product graph out of Neo4j (``recommend.snapshot``), fit the weights on it
(``recommend.learn``), rank every user's candidates and upsert the top ``k`` of each with its
reasons, then delete what the run did not write (shorter lists, users gone). The API reads one
user's rows by primary key and drops any candidate that has become a friend, a pending
request or a block since the run (domain.social), so a stale row is never shown.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from neo4j import Driver
from sqlalchemy import Connection, Engine, delete, text

from core.db.models import FriendSuggestion
from graph_jobs import recommend

_T = TypeVar("_T")

SUGGESTIONS_PER_USER = 20
WRITE_BATCH = 10_000  # rows per transaction (the driver splits them into multi-row INSERTs)
PROGRESS_EVERY = 50_000  # users between progress lines
UPDATED = (
    "candidate_id",
    "score",
    "mutual_friends",
    "mutual_ids",
    "shared_rooms",
    "shared_groups",
    "shared_subjects",
    "same_community",
    "computed_at",
)


def model_from(metadata: dict[str, Any] | None) -> recommend.Model | None:
    """The model a full run stored in its materialisation's ``model`` metadata, if any."""
    if not metadata or "weights" not in metadata:
        return None
    return recommend.Model(
        features=tuple(metadata["features"]),
        weights=list(metadata["weights"]),
        mean=list(metadata["mean"]),
        scale=list(metadata["scale"]),
        fitted_on=int(metadata.get("fitted_on", 0)),
    )


@dataclass
class SuggestionReport:
    users: int
    scored: int  # users with at least one suggestion
    rows: int
    removed: int
    model: dict[str, Any]
    seconds: dict[str, float] = field(default_factory=dict)


COLUMNS = ("user_id", "rank", *UPDATED)
# Written with the driver's executemany (PyMySQL sends multi-row INSERTs) and plain tuples: at
# 20 rows a user a full run at 1M users writes 20M rows, and building SQLAlchemy's per-row
# parameter dicts cost more client CPU than scoring them. The statement holds identifiers from
# this module and the model only; every value goes as a parameter.
_UPSERT = (
    f"INSERT INTO {FriendSuggestion.__tablename__} ({', '.join(f'`{c}`' for c in COLUMNS)}) "  # noqa: S608
    f"VALUES ({', '.join(['%s'] * len(COLUMNS))}) ON DUPLICATE KEY UPDATE "
    + ", ".join(f"`{c}` = VALUES(`{c}`)" for c in UPDATED)
)


def _row(s: recommend.Suggestion, at: Any) -> tuple[Any, ...]:
    return (
        s.user_id,
        s.rank,
        s.candidate_id,
        s.score,
        s.mutual_friends,
        "[" + ",".join(map(str, s.mutual_ids)) + "]",  # JSON: a list of ints
        min(s.shared_rooms, 32767),
        min(s.shared_groups, 32767),
        min(s.shared_subjects, 32767),
        s.same_community,
        at,
    )


def write_suggestions(conn: Connection, ranked: Iterable[recommend.Suggestion], at: Any) -> int:
    """Upsert suggestions as the job stores them, stamped ``at``; the caller commits. The
    benchmark uses it too, to plant rows of the job's shape (bench/api_latency.py)."""
    rows = [_row(s, at) for s in ranked]
    if rows:
        conn.exec_driver_sql(_UPSERT, rows)
    return len(rows)


def _ahead(items: Iterator[_T], chunk: int) -> Iterator[list[_T]]:
    """``items`` in lists of ``chunk``, produced by a thread one list ahead of the consumer:
    the compiled scoring (which lets go of the GIL) runs while the caller writes."""
    handoff: queue.Queue[list[_T] | BaseException | None] = queue.Queue(maxsize=1)

    def produce() -> None:
        try:
            while batch := list(itertools.islice(items, chunk)):
                handoff.put(batch)
            handoff.put(None)
        except BaseException as error:  # noqa: BLE001  (handed to the consumer, raised there)
            handoff.put(error)

    worker = threading.Thread(target=produce, name="suggestions-scoring", daemon=True)
    worker.start()
    while (got := handoff.get()) is not None:
        if isinstance(got, BaseException):
            raise got
        yield got
    worker.join()


def store_suggestions(
    driver: Driver,
    database: str,
    engine: Engine,
    *,
    k: int = SUGGESTIONS_PER_USER,
    seed: int = 42,
    sample: int = recommend.FIT_SAMPLE,
    users: Sequence[int] | None = None,
    neighbours: bool = False,
    model: recommend.Model | None = None,
    progress: Callable[[str], None] | None = None,
) -> SuggestionReport:
    """Score ``users`` (user ids; every user when None) and store their suggestions. With a
    subset, only those users' rows are replaced and nobody else's are swept; ``neighbours``
    adds their friends (whose friends of friends a change of theirs also changes). With a
    ``model`` the weights are not fitted again."""
    say = progress or (lambda _message: None)
    seconds: dict[str, float] = {}
    started = time.monotonic()
    snap = recommend.snapshot(driver, database, recommend.PRODUCT)
    seconds["read_graph"] = round(time.monotonic() - started, 2)
    say(f"graph read: {snap.size} users, {len(snap.indices) // 2} friendships")
    if model is None:
        mark = time.monotonic()
        model = recommend.learn(driver, database, recommend.PRODUCT, snap, seed=seed, sample=sample)
        seconds["fit"] = round(time.monotonic() - mark, 2)
        say(f"weights fitted on {model.fitted_on} left-out friendships: {model.as_dict()}")
    top = recommend.Popular.of(snap)
    index = snap.index_of()
    if users is None:
        chosen = list(range(snap.size))
    else:
        picked = {index[u] for u in users if u in index}
        if neighbours:
            for i in list(picked):
                picked.update(int(f) for f in snap.friends(i))
        chosen = sorted(picked)
    mark = time.monotonic()
    written = scored = removed = 0
    with engine.connect() as conn:
        at = conn.execute(text("SELECT UTC_TIMESTAMP(6)")).scalar_one()
        done = 0
        ranked_users = recommend.suggest(snap, model, top, chosen, k=k)
        for users_ranked in _ahead(ranked_users, max(1, WRITE_BATCH // max(k, 1))):
            done += len(users_ranked)
            scored += sum(1 for ranked in users_ranked if ranked)
            written += write_suggestions(conn, itertools.chain.from_iterable(users_ranked), at)
            conn.commit()
            if done % PROGRESS_EVERY < len(users_ranked) or done == len(chosen):
                rate = done / max(time.monotonic() - mark, 1e-9)
                say(f"{done}/{len(chosen)} users scored ({rate:,.0f}/s), {written} rows written")
        stale = delete(FriendSuggestion).where(FriendSuggestion.computed_at < at)
        if users is not None:
            ids = [int(snap.ids[i]) for i in chosen]
            stale = stale.where(FriendSuggestion.user_id.in_(ids))
        removed = int(conn.execute(stale).rowcount)
        conn.commit()
    seconds["score_and_write"] = round(time.monotonic() - mark, 2)
    return SuggestionReport(
        users=len(chosen),
        scored=scored,
        rows=written,
        removed=removed,
        model=model.as_dict(),
        seconds=seconds,
    )
