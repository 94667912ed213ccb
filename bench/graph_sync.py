"""The graph jobs at the size of whatever population MySQL holds: every asset of the
``social_graph`` group (the sync, communities, influence, people you may know) and every
check on them (the MySQL comparisons and the Great Expectations rules), materialised as the
Dagster job does it, timed and measured.

    .venv/bin/python -m bench.graph_sync [--fresh | --derived-only | --only-suggestions]
        [--without-suggestions] [--without-mysql-rules]

``--fresh`` empties the graph first (every node with a label the sync owns), so the run measures
the first sync of a new deployment; without it, the run is the nightly re-sync over a graph that
is already there. ``--derived-only`` leaves the copy out and runs what is derived from the graph
already in Neo4j (weights, communities, influence, people you may know) with their checks: at
a million users the copy takes over 20 minutes and the symmetry check on MySQL 25
(``--without-mysql-rules`` leaves that check out). ``--only-suggestions`` runs people you may
know and its check alone.

Per asset: rows, seconds, rows/s. For the run: wall time, this process's CPU
(the client: MySQL reads, packing rows for Bolt), Neo4j's CPU and its peak resident memory.
The report goes to bench/results/graph-<timestamp>.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import resource
import threading
import time
from datetime import UTC, datetime
from typing import Any

import psutil
from dagster import AssetSelection, DagsterInstance, materialize
from dagster._core.execution.plan.objects import StepSuccessData
from rich.console import Console
from sqlalchemy import text

from bench.stats import stack_process, tree_usage
from core.clients import neo4j_driver
from core.db.sharding import DIRECTORY_SHARD, ShardRouter
from core.graph import GROUP, ROOM, SUBJECT, USER
from core.settings import REPO_ROOT, get_settings
from graph_jobs.community_assets import community_assets, community_checks
from graph_jobs.definitions import resources
from graph_jobs.suggestion_assets import suggestion_assets, suggestion_checks
from graph_jobs.sync.assets import (
    friendship_rules,
    graph_weights,
    relation_assets,
    relation_checks,
)

RESULTS = REPO_ROOT / "bench" / "results"
console = Console()


class _PeakRss(threading.Thread):
    """Samples a process tree's resident memory twice a second and keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0, threading.Event()

    def run(self) -> None:
        import psutil  # noqa: PLC0415 - only the sampler needs it

        process = psutil.Process(self.pid)
        while not self._done.wait(0.5):
            self.peak = max(self.peak, tree_usage(process)[1])

    def stop(self) -> int:
        self._done.set()
        self.join()
        return self.peak


def _empty_graph() -> None:
    driver = neo4j_driver(get_settings())
    with driver.session() as session:
        # Relationships first, in bounded transactions: a DETACH DELETE of hubs with thousands
        # of friends each would blow the transaction memory pool.
        for label in (USER, ROOM, GROUP, SUBJECT):
            session.run(
                f"MATCH (:{label})-[x]-() CALL (x) {{ DELETE x }} IN TRANSACTIONS OF 50000 ROWS"
            ).consume()
            session.run(
                f"MATCH (n:{label}) CALL (n) {{ DELETE n }} IN TRANSACTIONS OF 50000 ROWS"
            ).consume()
    driver.close()


def _running_heap(neo4j: psutil.Process, configured: str) -> str:
    """The -Xmx Neo4j's JVM runs with: the stack may have been started with an override
    (STUDYHUB_NEO4J_HEAP) this process's settings do not see."""
    with contextlib.suppress(psutil.Error):
        for process in (neo4j, *neo4j.children(recursive=True)):
            for arg in process.cmdline():
                if arg.startswith("-Xmx"):
                    return arg.removeprefix("-Xmx")
    return configured


def _population() -> dict[str, int]:
    router = ShardRouter(get_settings())
    with router.engine(DIRECTORY_SHARD).connect() as conn:
        users = int(conn.execute(text("SELECT COUNT(*) FROM users")).scalar_one())
        rows = int(conn.execute(text("SELECT COUNT(*) FROM friendships")).scalar_one())
    router.dispose()
    return {"users": users, "friendship_rows": rows}


def run(
    fresh: bool,
    *,
    suggestions: bool = True,
    derived_only: bool = False,
    mysql_rules: bool = True,
    only_suggestions: bool = False,
) -> dict[str, Any]:
    settings = get_settings()
    neo4j = stack_process(settings, "neo4j")
    if neo4j is None:
        raise SystemExit("neo4j is not running: start the stack with `make up`")
    if fresh:
        console.print("emptying the graph (--fresh)")
        _empty_graph()
    population = _population()
    console.print(
        f"syncing {population['users']:,} users and {population['friendship_rows']:,} "
        "friendship rows into Neo4j"
    )
    sampler = _PeakRss(neo4j.pid)
    sampler.start()
    neo4j_cpu_before = tree_usage(neo4j)[0]
    cpu_before = time.process_time()
    began = time.monotonic()
    with DagsterInstance.ephemeral() as instance:
        # In process, one step at a time: the client's CPU is this process's, and the order
        # is the dependency order the job would follow.
        derived_assets = [
            graph_weights,
            *community_assets,
            *(suggestion_assets if suggestions or only_suggestions else []),
        ]
        selected = list(suggestion_assets) if only_suggestions else derived_assets
        derived = [
            *derived_assets,
            *community_checks,
            *(suggestion_checks if suggestions or only_suggestions else []),
        ]
        copy = [*relation_assets, *relation_checks, *(friendship_rules if mysql_rules else [])]
        result = materialize(
            [*copy, *derived],
            resources=resources(),
            instance=instance,
            # The copy's assets stay in the definitions (the derived ones depend on them); the
            # selection leaves them out, as if already materialised.
            selection=(
                AssetSelection.assets(*selected) | AssetSelection.checks_for_assets(*selected)
            )
            if derived_only or only_suggestions
            else None,
        )
        assets: list[dict[str, Any]] = []
        for event in result.get_asset_materialization_events():
            materialization = event.step_materialization_data.materialization
            meta = {k: v.value for k, v in materialization.metadata.items()}
            assets.append({"asset": materialization.asset_key.to_user_string(), **meta})
        checks: dict[str, bool] = {}
        for c in result.get_asset_check_evaluations():
            key = c.asset_key.to_user_string()
            checks[key] = checks.get(key, True) and c.passed
        # Each step's own duration, as Dagster measured it (assets and checks alike).
        steps: dict[str, float] = {}
        for event in result.all_events:
            data = event.event_specific_data
            if isinstance(data, StepSuccessData) and event.step_key:
                steps[event.step_key] = round(data.duration_ms / 1000, 2)
        for entry in assets:
            entry["step_seconds"] = steps.get(entry["asset"])
    wall = time.monotonic() - began
    peak = sampler.stop()
    return {
        "command": "python -m bench.graph_sync"
        + (" --fresh" if fresh else "")
        + (" --derived-only" if derived_only else "")
        + (" --only-suggestions" if only_suggestions else "")
        + ("" if suggestions or only_suggestions else " --without-suggestions")
        + ("" if mysql_rules else " --without-mysql-rules"),
        "kind": "first sync into an empty graph"
        if fresh
        else "people you may know over the graph already in Neo4j"
        if only_suggestions
        else "derived assets over the graph already in Neo4j"
        if derived_only
        else "re-sync over the existing graph",
        "population": population,
        "success": result.success,
        "wall_s": round(wall, 1),
        "client_cpu_s": round(time.process_time() - cpu_before, 1),
        "client_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "neo4j_cpu_s": round(tree_usage(neo4j)[0] - neo4j_cpu_before, 1),
        "neo4j_peak_rss_mib": round(peak / 2**20),
        "neo4j_heap": _running_heap(neo4j, settings.neo4j_heap),
        "assets": assets,
        "checks_passed": checks,
    }


def table(report: dict[str, Any]) -> list[str]:
    lines = [
        f"# Graph sync: {report['kind']}",
        "",
        f"`{report['command']}` on {report['population']['users']:,} users, "
        f"{report['population']['friendship_rows']:,} friendship rows. "
        f"Success: {report['success']}. Wall {report['wall_s']} s; client CPU "
        f"{report['client_cpu_s']} s (peak RSS {report['client_peak_rss_mib']} MiB); Neo4j CPU "
        f"{report['neo4j_cpu_s']} s, peak RSS {report['neo4j_peak_rss_mib']} MiB "
        f"(heap {report['neo4j_heap']}).",
        "",
        "| asset | rows | seconds | rows/s | stale removed | check |",
        "|---|---|---|---|---|---|",
    ]
    for a in report["assets"]:
        check = report["checks_passed"].get(a["asset"])
        rows = a.get("rows", a.get("friendships_weighed", a.get("users", "-")))
        lines.append(
            f"| {a['asset']} | {f'{rows:,}' if isinstance(rows, int) else rows} "
            f"| {a.get('step_seconds', '-')} | {a.get('rows_per_second', '-')} "
            f"| {a.get('stale_removed', a.get('co_present_removed', '-'))} "
            f"| {'-' if check is None else ('passed' if check else 'FAILED')} |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--fresh", action="store_true", help="empty the graph first: measure a first sync"
    )
    parser.add_argument(
        "--without-suggestions",
        action="store_true",
        help="leave out people you may know (the longest asset: about 8 minutes at 100k users)",
    )
    parser.add_argument(
        "--derived-only",
        action="store_true",
        help="leave the copy out: weights, communities, influence and suggestions (with their "
        "checks) from the graph already in Neo4j",
    )
    parser.add_argument(
        "--without-mysql-rules",
        action="store_true",
        help="leave out the Great Expectations rules on MySQL's friendships (symmetric, no "
        "self-friendship): their anti-join takes about 25 minutes at 1M users",
    )
    parser.add_argument(
        "--only-suggestions",
        action="store_true",
        help="people you may know and its check alone, from the graph already in Neo4j",
    )
    args = parser.parse_args(argv)
    if args.fresh and (args.derived_only or args.only_suggestions):
        parser.error("--fresh empties the graph that --derived-only works from: pick one")
    report = run(
        args.fresh,
        suggestions=not args.without_suggestions,
        derived_only=args.derived_only,
        mysql_rules=not args.without_mysql_rules,
        only_suggestions=args.only_suggestions,
    )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"graph-{stamp}.json").write_text(json.dumps(report, indent=2, default=str))
    lines = table(report)
    (RESULTS / f"graph-{stamp}.md").write_text("\n".join(lines) + "\n")
    console.print("\n".join(lines))
    if not report["success"] or not all(report["checks_passed"].values()):
        raise SystemExit("the sync or one of its checks failed: see the table above")


if __name__ == "__main__":
    main()
