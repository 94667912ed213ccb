"""`studyhub graph`: the graph jobs' code on any edge list, against the running Neo4j."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import typer
from neo4j.exceptions import DriverError, Neo4jError

from core.clients import neo4j_driver
from core.settings import get_settings

DATABASE = "neo4j"  # the Dagster resources' default (graph_jobs.resources)

app = typer.Typer(help="The graph jobs (Neo4j, GDS) from the command line.", no_args_is_help=True)
evaluate_app = typer.Typer(
    help=(
        "Run the job's recommender or community detection on an edge list and score it "
        "against the classic baselines. Needs the stack's Neo4j (`studyhub stack up`)."
    ),
    no_args_is_help=True,
)
app.add_typer(evaluate_app, name="evaluate")

EDGES = typer.Option(
    ...,
    "--edges",
    exists=True,
    dir_okay=False,
    readable=True,
    help="Edge list: one pair of node ids per line, separated by whitespace or a comma.",
)

LABELS = typer.Option(
    ..., "--labels", exists=True, dir_okay=False, help="Known groups: 'node label' per line."
)


def _table(report: dict[str, Any], columns: list[str]) -> str:
    lines = ["| method | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for row in report["results"]:
        lines.append(f"| {row['method']} | " + " | ".join(str(row[c]) for c in columns) + " |")
    return "\n".join(lines)


def _print(
    report: dict[str, Any], edges: Path, header: str, columns: list[str], *, as_json: bool
) -> None:
    report["file"] = str(edges)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    else:
        typer.echo(f"{header}\n")
        typer.echo(_table(report, columns))


def _driver() -> Any:
    # The planner's notes (a two-node MATCH by id is a "cartesian product") are not news here.
    logging.getLogger("neo4j.notifications").setLevel(logging.WARNING)
    settings = get_settings()
    driver = neo4j_driver(settings)
    try:
        driver.verify_connectivity()
    except (DriverError, Neo4jError) as error:
        driver.close()
        typer.echo(
            f"Neo4j at {settings.neo4j_uri} is not reachable ({error}); "
            "start it with `studyhub stack up`",
            err=True,
        )
        raise typer.Exit(2) from None
    return driver


@evaluate_app.command("recommend")
def recommend_command(
    edges: Path = EDGES,
    holdout: float = typer.Option(0.1, min=0.01, max=0.9, help="Share of edges held out."),
    seed: int = typer.Option(42, help="Seed of the split, the user sample and the fit."),
    k: int = typer.Option(10, min=1, help="Suggestions per user (precision@k, recall@k)."),
    users: int = typer.Option(1000, min=1, help="Users scored at most (sampled with the seed)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Precision@k, recall@k and MRR of studyhub's recommender and the baselines."""
    # Imported here: `studyhub stack ...` need not load numpy and the graph code.
    from graph_jobs.evaluate import EdgeFileError, evaluate_recommend, read_edges  # noqa: PLC0415

    try:
        pairs = read_edges(edges)
    except EdgeFileError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    driver = _driver()
    try:
        report = evaluate_recommend(
            driver,
            DATABASE,
            pairs,
            holdout=holdout,
            seed=seed,
            k=k,
            max_users=users,
        )
    finally:
        driver.close()
    header = (
        f"{edges}: {report['nodes']} nodes, {report['edges']} edges, {report['held_out']} held "
        f"out ({holdout:g}, seed {seed}), {report['users_scored']} users scored, k={k}"
    )
    _print(report, edges, header, ["precision", "recall", "mrr"], as_json=as_json)


@evaluate_app.command("communities")
def communities_command(
    edges: Path = EDGES,
    labels: Path = LABELS,
    seed: int = typer.Option(42, help="Seed of Leiden."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """NMI, ARI, modularity and the number of communities: studyhub's Leiden and Louvain."""
    from graph_jobs.evaluate import (  # noqa: PLC0415
        EdgeFileError,
        evaluate_communities,
        read_edges,
        read_labels,
    )

    try:
        pairs, known = read_edges(edges), read_labels(labels)
        driver = _driver()
        try:
            report = evaluate_communities(driver, DATABASE, pairs, known, seed=seed)
        finally:
            driver.close()
    except EdgeFileError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(2) from None
    header = f"{edges}: {report['nodes']} nodes, {report['edges']} edges, {report['groups']} groups"
    columns = ["nmi", "ari", "modularity", "communities", "resolution"]
    _print(report, edges, header, columns, as_json=as_json)
