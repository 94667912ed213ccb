"""Generate a synthetic population and bulk-load it into the MariaDB shards.

    .venv/bin/python -m bench.populate --users 100000 --avg-degree 50 --rooms 5000 --seed 1

Phases: users with their study profiles, the friend graph (both directions of every friendship),
study rooms on their shards. Each phase shows a progress bar; the run ends with rows and rows/s
per table. A population is identified by its generator id (ids carry it, see core.ids), so it
can be replaced (``--replace``) or removed (``--remove``) without touching other rows.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Annotated, TypeVar

import numpy as np
import pymysql
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import bindparam, text
from sqlalchemy.exc import DBAPIError

from bench.bulk import (
    LOAD_METHODS,
    BulkLoader,
    BulkLoadError,
    LoadMethod,
    TableStats,
    generator_predicate,
    population_counts,
    truncate_population,
)
from bench.population import (
    DEFAULT_GENERATOR_ID,
    Int64Array,
    Population,
    PopulationConfig,
    SyntheticUser,
)
from core.db.sharding import DIRECTORY_SHARD, ShardRouter
from core.settings import Settings, get_settings

log = logging.getLogger("bench.populate")
_T = TypeVar("_T")
console = Console()

LOAD_ORDER = ("users", "study_profiles", "study_profile_subjects", "friendships", "study_rooms")
# Users per transaction (profiles ride along): communities are merged up to this many.
USERS_PER_CHUNK = 20_000
ROOMS_PER_CHUNK = 5_000

# PopulationConfig's field names, as this command spells them, for its error messages.
_OPTION_NAMES = {
    "avg_degree": "--avg-degree",
    "users": "--users",
    "rooms": "--rooms",
    "generator_id": "--generator-id",
    "username_prefix": "--username-prefix",
    "seed": "--seed",
}


class PopulateError(RuntimeError):
    """The run cannot go ahead; the message says why and what to do."""


@dataclass
class PopulateReport:
    config: PopulationConfig
    method: LoadMethod
    structure_seconds: float = 0.0
    generate_seconds: float = 0.0  # users, profiles, edges and rooms, outside the loader
    removed: dict[str, int] = field(default_factory=dict)
    remove_seconds: float = 0.0
    tables: dict[str, TableStats] = field(default_factory=dict)
    in_database: dict[str, int] = field(default_factory=dict)
    total_seconds: float = 0.0


class _RateColumn(ProgressColumn):
    """Items (users, rows, rooms) per second of a task, from rich's moving estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f}/s" if speed else "", style="progress.data.speed")


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description:<26}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
    )


class _Clock:
    """Adds up the time spent inside an iterator's ``next`` (the generator's share of a phase)."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def wrap(self, iterator: Iterator[_T]) -> Iterator[_T]:
        while True:
            started = time.perf_counter()
            try:
                item = next(iterator)
            except StopIteration:
                self.seconds += time.perf_counter() - started
                return
            self.seconds += time.perf_counter() - started
            yield item


def _user_chunks(population: Population) -> Iterator[list[SyntheticUser]]:
    chunk: list[SyntheticUser] = []
    for users in population.iter_users():
        chunk.extend(users)
        if len(chunk) >= USERS_PER_CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _friendship_chunks(
    population: Population, rows_per_chunk: int
) -> Iterator[tuple[Int64Array, Int64Array]]:
    firsts: list[Int64Array] = []
    seconds: list[Int64Array] = []
    size = 0
    for user1, user2 in population.friendship_rows():
        firsts.append(user1)
        seconds.append(user2)
        size += user1.size
        if size >= rows_per_chunk:
            yield np.concatenate(firsts), np.concatenate(seconds)
            firsts, seconds, size = [], [], 0
    if size:
        yield np.concatenate(firsts), np.concatenate(seconds)


def check_target(router: ShardRouter, config: PopulationConfig, *, replace: bool) -> dict[str, int]:
    """Refuse to load over an existing population (unless replacing) or into taken usernames."""
    counts = population_counts(router, config.generator_id)
    if any(counts.values()) and not replace:
        held = ", ".join(f"{table} {count:,}" for table, count in counts.items() if count)
        raise PopulateError(
            f"the target tables already hold a population of generator id "
            f"{config.generator_id} ({held} rows). Pass --replace to delete it and load anew, "
            "or --remove to delete it only."
        )
    # Usernames are unique: a hand-made user or another population with the same prefix
    # would fail the load halfway, so look before loading.
    prefix = config.username_prefix
    probes = sorted({f"{prefix}0", f"{prefix}{config.users // 2}", f"{prefix}{config.users - 1}"})
    ours = generator_predicate("id")
    sql = f"SELECT username FROM users WHERE username IN :names AND NOT {ours}"  # noqa: S608
    query = text(sql).bindparams(bindparam("names", expanding=True))
    with router.engine(DIRECTORY_SHARD).connect() as connection:
        taken = connection.execute(
            query, {"names": probes, "generator_id": config.generator_id}
        ).scalars()
        clash = sorted(taken)
    if clash:
        raise PopulateError(
            f"usernames {', '.join(clash)} already exist and do not belong to this population; "
            "choose another --username-prefix"
        )
    return counts


def remove(router: ShardRouter, generator_id: int, counts: dict[str, int]) -> dict[str, int]:
    with _progress() as progress:
        task = progress.add_task(
            f"removing generator {generator_id}", total=sum(counts.values()) or None
        )
        return truncate_population(
            router, generator_id, progress=lambda _table, n: progress.advance(task, n)
        )


def populate(
    settings: Settings,
    config: PopulationConfig,
    *,
    replace: bool = False,
    method: LoadMethod = "load-data",
    rows_per_chunk: int = 200_000,
) -> PopulateReport:
    """Generate ``config``'s population and load it; the steps the command shows, as a function."""
    started = time.perf_counter()
    report = PopulateReport(config=config, method=method)
    router = ShardRouter(settings)
    try:
        counts = check_target(router, config, replace=replace)
        if any(counts.values()):
            t0 = time.perf_counter()
            report.removed = remove(router, config.generator_id, counts)
            report.remove_seconds = time.perf_counter() - t0

        t0 = time.perf_counter()
        with console.status("generating communities, degrees and ids"):
            population = Population(config)
        report.structure_seconds = time.perf_counter() - t0
        log.info(
            "%d communities (%d..%d users), %s friendship rows expected",
            population.communities,
            int(population.community_sizes.min()),
            int(population.community_sizes.max()),
            f"{population.expected_friendship_rows:,}",
        )

        clock = _Clock()
        with BulkLoader(settings, method=method) as loader, _progress() as progress:
            users = progress.add_task("users + study profiles", total=config.users)
            for chunk in clock.wrap(_user_chunks(population)):
                t0 = time.perf_counter()
                user_rows = [u.user_row() for u in chunk]
                profile_rows = [u.profile_row() for u in chunk]
                clock.seconds += time.perf_counter() - t0
                loader.users(user_rows)
                loader.study_profiles(profile_rows)
                progress.advance(users, len(chunk))

            edges = progress.add_task("friendships", total=population.expected_friendship_rows)
            for user1, user2 in clock.wrap(_friendship_chunks(population, rows_per_chunk)):
                progress.advance(edges, loader.friendships(user1, user2))

            rooms = progress.add_task("study rooms", total=config.rooms)
            t0 = time.perf_counter()
            room_rows = [room.room_row() for room in population.rooms]
            clock.seconds += time.perf_counter() - t0
            for start in range(0, len(room_rows), ROOMS_PER_CHUNK):
                batch = room_rows[start : start + ROOMS_PER_CHUNK]
                progress.advance(rooms, loader.study_rooms(batch))
            report.tables = dict(loader.stats)
        report.generate_seconds = clock.seconds

        with console.status("counting what arrived"):
            report.in_database = population_counts(router, config.generator_id)
        missing = {
            table: (report.tables[table].rows, report.in_database[table])
            for table in report.tables
            if report.tables[table].rows != report.in_database.get(table)
        }
        if missing:
            raise PopulateError(f"rows loaded and rows found differ (loaded, found): {missing}")
    finally:
        router.dispose()
    report.total_seconds = time.perf_counter() - started
    return report


def print_report(report: PopulateReport) -> None:
    config = report.config
    table = Table(
        title=(
            f"population: {config.users:,} users, avg degree {config.avg_degree:g}, "
            f"{config.rooms:,} rooms, seed {config.seed}, generator id {config.generator_id}, "
            f"method {report.method}"
        )
    )
    table.add_column("table")
    table.add_column("rows", justify="right")
    table.add_column("load s", justify="right")
    table.add_column("rows/s", justify="right")
    for name in LOAD_ORDER:
        stats = report.tables.get(name, TableStats())
        table.add_row(
            name, f"{stats.rows:,}", f"{stats.seconds:.1f}", f"{stats.rows_per_second:,.0f}"
        )
    loaded = sum(s.rows for s in report.tables.values())
    load_seconds = sum(s.seconds for s in report.tables.values())
    table.add_row(
        "all",
        f"{loaded:,}",
        f"{load_seconds:.1f}",
        f"{loaded / load_seconds:,.0f}" if load_seconds else "",
        style="bold",
    )
    console.print(table)
    if report.removed:
        removed = sum(report.removed.values())
        console.print(
            f"removed the previous population first: {removed:,} rows in "
            f"{report.remove_seconds:.1f} s"
        )
    console.print(
        f"generation {report.structure_seconds + report.generate_seconds:.1f} s "
        f"(structure {report.structure_seconds:.1f} s), loading {load_seconds:.1f} s, "
        f"total {report.total_seconds:.1f} s; row counts checked in the database"
    )


def _option_names(message: str) -> str:
    for field_name, option in _OPTION_NAMES.items():
        message = re.sub(rf"\b{field_name}\b", option, message)
    return message


app = typer.Typer(pretty_exceptions_show_locals=False, add_completion=False)


@app.command(
    help="Generate a synthetic population (users, study profiles, a heavy-tailed friend graph "
    "with communities, study rooms) from a seed and bulk-load it into the MariaDB shards. "
    "Refuses to load over an existing population unless --replace."
)
def main(
    users: Annotated[int, typer.Option(help="Number of users.")] = 100_000,
    avg_degree: Annotated[
        float, typer.Option(help="Average friends per user (directed rows = users x this).")
    ] = 50.0,
    rooms: Annotated[int, typer.Option(help="Number of study rooms.")] = 5_000,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same population.")] = 1,
    replace: Annotated[
        bool, typer.Option("--replace", help="Delete this generator id's population first.")
    ] = False,
    remove_only: Annotated[
        bool,
        typer.Option("--remove", help="Only delete this generator id's population, then exit."),
    ] = False,
    generator_id: Annotated[
        int,
        typer.Option(help="Id generator of the population (1000-1010, reserved for this)."),
    ] = DEFAULT_GENERATOR_ID,
    username_prefix: Annotated[
        str, typer.Option(help="Usernames are <prefix><n>, n = 0..users-1.")
    ] = "u",
    method: Annotated[
        str, typer.Option(help=f"Load path: {' or '.join(LOAD_METHODS)} (multi-row INSERT).")
    ] = "load-data",
    chunk_rows: Annotated[
        int, typer.Option(help="Friendship rows per LOAD/transaction.", min=1_000)
    ] = 200_000,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    if method not in LOAD_METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(LOAD_METHODS)}", param_hint="--method")
    load_method: LoadMethod = "insert" if method == "insert" else "load-data"
    try:
        config = PopulationConfig(
            users=users,
            avg_degree=avg_degree,
            rooms=rooms,
            seed=seed,
            generator_id=generator_id,
            username_prefix=username_prefix,
        )
    except ValueError as error:
        console.print(f"[red]error:[/red] {_option_names(str(error))}")
        raise typer.Exit(2) from error

    settings = get_settings()
    try:
        if remove_only:
            router = ShardRouter(settings)
            try:
                counts = population_counts(router, generator_id)
                removed = remove(router, generator_id, counts)
            finally:
                router.dispose()
            console.print(
                f"removed {sum(removed.values()):,} rows of generator {generator_id}: "
                + ", ".join(f"{t} {n:,}" for t, n in removed.items())
            )
            return
        report = populate(
            settings, config, replace=replace, method=load_method, rows_per_chunk=chunk_rows
        )
    except (PopulateError, BulkLoadError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from error
    except (DBAPIError, pymysql.err.MySQLError) as error:
        cause = error.orig if isinstance(error, DBAPIError) else error
        console.print(f"[red]error:[/red] MariaDB said: {cause}. Is the stack up (`make status`)?")
        raise typer.Exit(1) from error
    print_report(report)


if __name__ == "__main__":
    app()
