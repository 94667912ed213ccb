"""`studyhub stack up|down|status|logs|reset|init-env`: the local stack as plain processes."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from core.db.migrate import upgrade_all
from core.settings import REPO_ROOT, get_settings
from stack.env_file import ensure_env_file
from stack.errors import StackError
from stack.install import ensure_debian_packages
from stack.services import Service, all_services, start_waves

app = typer.Typer(
    pretty_exceptions_show_locals=False,
    help="Run the local studyhub stack (MariaDB shards, Redis, Kafka, Neo4j, "
    "InfluxDB, Flink) as plain processes on 127.0.0.1.",
    no_args_is_help=True,
)
console = Console(stderr=True)
log = logging.getLogger("studyhub.stack")

ServiceNames = Annotated[
    list[str] | None,
    typer.Argument(help="Services to act on (default: all). See `studyhub stack status`."),
]


def _select(names: list[str] | None) -> list[Service]:
    services = all_services(get_settings())
    if not names:
        return services
    known = {service.name: service for service in services}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise typer.BadParameter(
            f"unknown service(s) {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return [known[name] for name in names]


def _fail(error: StackError) -> None:
    console.print(f"[bold red]error:[/] {error}")
    raise typer.Exit(1)


@app.command("init-env")
def init_env() -> None:
    """Create .env with random secrets if it is missing (run by `make up`/`make test`)."""
    added = ensure_env_file(REPO_ROOT / ".env")
    if added:
        console.print(f"wrote {len(added)} new secret(s) to .env: {', '.join(added)}")


@app.command("install-browser")
def install_browser() -> None:
    """Install Debian's chromium for the web client's browser tests (run by `make test`)."""
    try:
        ensure_debian_packages({"chromium": "chromium"})
    except StackError as error:
        _fail(error)


@app.command()
def up(
    names: ServiceNames = None,
    migrate: Annotated[bool, typer.Option(help="Apply Alembic migrations to every shard.")] = True,
) -> None:
    """Install what is missing, start every service and wait until each answers a health check."""
    ensure_env_file(REPO_ROOT / ".env")
    get_settings.cache_clear()
    services = _select(names)
    started = time.monotonic()
    try:
        for service in services:
            console.print(f"[dim]install[/] {service.name}")
            service.install()
        for wave in start_waves(services):
            with ThreadPoolExecutor(max_workers=len(wave)) as pool:
                futures = {service.name: pool.submit(_start_one, service) for service in wave}
                failures: list[tuple[str, StackError]] = []
                for name, future in futures.items():
                    try:
                        future.result()
                    except StackError as failure:
                        failures.append((name, failure))
                if failures:
                    for name, problem in failures:
                        console.print(f"[bold red]{name} failed:[/] {problem}")
                    raise typer.Exit(1)
            # The schema must be current before anything that uses it (the API) starts.
            if migrate and any(s.name.startswith("mariadb") for s in wave):
                console.print("[dim]migrate[/] alembic upgrade head on every shard")
                upgrade_all(get_settings())
    except StackError as error:
        _fail(error)
    console.print(f"[green]stack up[/] in {time.monotonic() - started:.1f}s")
    _print_status(services)
    _print_addresses()


def _print_addresses() -> None:
    s = get_settings()
    shards = ", ".join(str(s.mysql_port(shard)) for shard in range(s.mysql_shards))
    Console().print(
        "\n".join(
            [
                f"  MySQL shards   {s.mysql_host} ports {shards}  (user {s.mysql_user}, .env)",
                f"  Redis          {s.redis_url}",
                f"  Kafka          {s.kafka_bootstrap}",
                f"  Neo4j          {s.neo4j_uri}  (user {s.neo4j_user}, .env)",
                f"  InfluxDB       {s.influx_url}  (db {s.influx_database})",
                f"  Flink UI       {s.flink_rest_url}",
                f"  API            http://{s.api_host}:{s.api_port}  (docs: /docs)",
                f"  Web client     http://{s.api_host}:{s.api_port}/app/",
                f"  Chat socket    ws://{s.api_host}:{s.api_port}/ws?token=<JWT>",
                f"  Dagster UI     http://{s.bind_host}:{s.dagster_port}  (graph jobs, checks)",
                f"  Dashboards     http://{s.bind_host}:{s.dashboard_port}  (community managers:"
                " sign in as a moderator, admin, or room/group owner)",
                "  logs           studyhub stack logs <service>   stop: make down",
            ]
        )
    )


def _start_one(service: Service) -> None:
    begin = time.monotonic()
    service.start()
    console.print(f"[green]ready[/] {service.name} ({time.monotonic() - begin:.1f}s)")


@app.command()
def down(names: ServiceNames = None) -> None:
    """Stop exactly what `up` started (tracked by pid files), newest first."""
    services = list(reversed(_select(names)))
    for service in services:
        if service.stop():
            console.print(f"stopped {service.name}")


def _mib(value: int) -> str:
    return f"{value / 1_048_576:.0f} MiB" if value else "-"


def _print_status(services: list[Service]) -> bool:
    statuses = [service.status() for service in services]
    table = Table(title="studyhub stack")
    for column in ("service", "state", "port", "pid", "version", "rss"):
        table.add_column(column)
    colors = {"running": "green", "unhealthy": "yellow", "stopped": "red"}
    for st in statuses:
        table.add_row(
            st.name,
            f"[{colors[st.state]}]{st.state}[/]",
            str(st.port),
            str(st.pid or "-"),
            st.version,
            _mib(st.rss_bytes),
        )
    Console(width=max(Console().width, 110)).print(table)
    total = sum(st.rss_bytes for st in statuses)
    Console().print(f"total RSS {_mib(total)}")
    return all(st.state == "running" for st in statuses)


@app.command()
def status(
    names: ServiceNames = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """State, port, pid, version and memory of each service. Exit 1 unless all are healthy."""
    services = _select(names)
    if as_json:
        statuses = [service.status() for service in services]
        print(json.dumps([st.__dict__ for st in statuses], indent=2))  # noqa: T201 - CLI output
        healthy = all(st.state == "running" for st in statuses)
    else:
        healthy = _print_status(services)
    raise typer.Exit(0 if healthy else 1)


@app.command()
def logs(
    name: Annotated[str, typer.Argument(help="Service name, e.g. kafka or mariadb-0.")],
    lines: Annotated[int, typer.Option("-n", "--lines", help="How many lines to show.")] = 50,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing.")] = False,
) -> None:
    """Show a service's log (under .stack/logs/)."""
    (service,) = _select([name])
    if not service.log_path.exists():
        console.print(f"no log yet at {service.log_path}")
        raise typer.Exit(1)
    argv = ["tail", f"-n{lines}", *(["-F"] if follow else []), str(service.log_path)]
    sys.exit(subprocess.call(argv))


@app.command()
def reset(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Stop everything and delete all local data (.stack/). Downloaded tools are kept."""
    settings = get_settings()
    if not yes:
        typer.confirm(f"delete {settings.stack_dir} with all local data?", abort=True)
    down(None)
    shutil.rmtree(settings.stack_dir, ignore_errors=True)
    console.print(f"removed {settings.stack_dir}")
