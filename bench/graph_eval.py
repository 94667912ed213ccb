"""The graph jobs' evaluation on the project's own graphs: networkx's and planted partitions.

    .venv/bin/python -m bench.graph_eval [--out DIR] [--quick]

Writes each graph as an edge list (and its known groups as a label file) under ``--out``, runs
``studyhub graph evaluate recommend`` and ``... communities`` on them (the same functions,
against the running Neo4j) and writes a report to bench/results/graph-eval-<time>.md and .json.
Any file of your own goes through the CLI the same way; the files written here are the inputs
of the table in docs/graph.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import networkx as nx

from core.clients import neo4j_driver
from core.settings import get_settings
from graph_jobs.evaluate import evaluate_communities, evaluate_recommend, read_edges, read_labels

RESULTS = Path(__file__).parent / "results"
DATABASE = "neo4j"


def _lfr(n: int, mu: float, seed: int) -> nx.Graph[int]:
    graph = nx.LFR_benchmark_graph(
        n,
        2.5,
        1.5,
        mu,
        average_degree=12,
        max_degree=60,
        min_community=20,
        max_community=200,
        seed=seed,
    )
    for _node, data in graph.nodes(data=True):
        data["group"] = min(data["community"])
    return graph


def _sbm(sizes: list[int], p_in: float, p_out: float, seed: int) -> nx.Graph[int]:
    probs = [[p_in if i == j else p_out for j in range(len(sizes))] for i in range(len(sizes))]
    graph = nx.stochastic_block_model(sizes, probs, seed=seed)
    for _node, data in graph.nodes(data=True):
        data["group"] = data["block"]
    return graph


def _karate() -> nx.Graph[int]:
    graph: nx.Graph[int] = nx.karate_club_graph()
    for _node, data in graph.nodes(data=True):
        data["group"] = data["club"]
    return graph


# name -> (builder, has known groups)
GRAPHS: dict[str, tuple[Callable[[], nx.Graph[int]], bool]] = {
    "karate": (_karate, True),
    "les_miserables": (
        lambda: nx.convert_node_labels_to_integers(nx.les_miserables_graph()),
        False,
    ),
    "florentine_families": (
        lambda: nx.convert_node_labels_to_integers(nx.florentine_families_graph()),
        False,
    ),
    "holme_kim_5000": (lambda: nx.powerlaw_cluster_graph(5000, 6, 0.5, seed=7), False),
    "sbm_2000_p0.05_q0.005": (lambda: _sbm([400] * 5, 0.05, 0.005, seed=7), True),
    "sbm_2000_p0.03_q0.006": (lambda: _sbm([400] * 5, 0.03, 0.006, seed=7), True),
    "lfr_5000_mu0.3": (lambda: _lfr(5000, 0.3, seed=7), True),
    "lfr_5000_mu0.5": (lambda: _lfr(5000, 0.5, seed=7), True),
}
QUICK = ("karate", "les_miserables", "sbm_2000_p0.05_q0.005", "lfr_5000_mu0.3")


def write_graph(name: str, out: Path) -> tuple[Path, Path | None]:
    builder, grouped = GRAPHS[name]
    graph = builder()
    edges = out / f"{name}.edges"
    edges.write_text("".join(f"{a} {b}\n" for a, b in graph.edges()), encoding="utf-8")
    if not grouped:
        return edges, None
    labels = out / f"{name}.labels"
    labels.write_text(
        "".join(f"{node} {data['group']}\n" for node, data in graph.nodes(data=True)),
        encoding="utf-8",
    )
    return edges, labels


def _row(task: dict[str, Any], method: str) -> dict[str, Any]:
    return next(r for r in task["results"] if r["method"] == method)


def report(runs: list[dict[str, Any]]) -> str:
    lines = [
        "# Graph evaluation",
        "",
        "`.venv/bin/python -m bench.graph_eval` (each graph: `studyhub graph evaluate ...`)",
        "",
        "## People you may know (10 % held out, seed 42, precision@10 / recall@10 / MRR)",
        "",
        "| graph | nodes | edges | users | studyhub | resource allocation | Adamic-Adar "
        "| common neighbours | popularity |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in runs:
        rec = run["recommend"]
        cells = []
        for method in (
            "studyhub",
            "resource_allocation",
            "adamic_adar",
            "common_neighbours",
            "popularity",
        ):
            r = _row(rec, method)
            cells.append(f"{r['precision']:.3f} / {r['recall']:.3f} / {r['mrr']:.3f}")
        lines.append(
            f"| {run['graph']} | {rec['nodes']} | {rec['edges']} | {rec['users_scored']} | "
            + " | ".join(cells)
            + " |"
        )
    lines += [
        "",
        "## Communities (NMI / ARI / modularity / communities)",
        "",
        "| graph | groups | studyhub (Leiden) | Louvain |",
        "|---|---|---|---|",
    ]
    for run in runs:
        com = run.get("communities")
        if com is None:
            continue
        cells = []
        for method in ("studyhub", "louvain"):
            r = _row(com, method)
            cells.append(
                f"{r['nmi']:.3f} / {r['ari']:.3f} / {r['modularity']:.3f} / {r['communities']}"
            )
        lines.append(f"| {run['graph']} | {com['groups']} | " + " | ".join(cells) + " |")
    lines += ["", "Learned weights per graph (standardised features):", ""]
    for run in runs:
        model = run["recommend"]["model"]
        pairs = ", ".join(
            f"{f} {w:+.2f}" for f, w in zip(model["features"], model["weights"], strict=True)
        )
        lines.append(f"- {run['graph']}: {pairs} (fitted on {model['fitted_on']} edges)")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=RESULTS / "graphs", help="where graphs go")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--graphs", help="comma-separated names, of: " + ", ".join(GRAPHS))
    args = parser.parse_args(argv)
    logging.getLogger("neo4j.notifications").setLevel(logging.WARNING)
    names = args.graphs.split(",") if args.graphs else list(QUICK if args.quick else GRAPHS)
    unknown = [n for n in names if n not in GRAPHS]
    if unknown:
        parser.error(f"unknown graphs {unknown}; known: {', '.join(GRAPHS)}")
    args.out.mkdir(parents=True, exist_ok=True)
    driver = neo4j_driver(get_settings())
    runs: list[dict[str, Any]] = []
    try:
        for name in names:
            started = time.monotonic()
            edges, labels = write_graph(name, args.out)
            print(f"== {name} ({edges})", flush=True)  # noqa: T201
            pairs = read_edges(edges)
            run: dict[str, Any] = {
                "graph": name,
                "recommend": evaluate_recommend(driver, DATABASE, pairs),
            }
            if labels is not None:
                run["communities"] = evaluate_communities(
                    driver, DATABASE, pairs, read_labels(labels)
                )
            run["seconds"] = round(time.monotonic() - started, 1)
            runs.append(run)
    finally:
        driver.close()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    markdown = report(runs)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"graph-eval-{stamp}.md").write_text(markdown, encoding="utf-8")
    (RESULTS / f"graph-eval-{stamp}.json").write_text(json.dumps(runs, indent=2), "utf-8")
    print(markdown)  # noqa: T201
    print(f"written: {RESULTS / f'graph-eval-{stamp}.md'} and .json")  # noqa: T201


if __name__ == "__main__":
    main()
