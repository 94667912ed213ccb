"""`studyhub graph evaluate` against the real Neo4j and GDS: the job's code on an edge list."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from pathlib import Path

import pytest
from neo4j import Driver
from typer.testing import CliRunner

from graph_jobs import recommend
from graph_jobs.evaluate import _baselines, scratch_graph, scratch_left
from stack.main import app

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

DATABASE = "neo4j"


def _planted(tmp_path: Path, blocks: int = 3, size: int = 30, seed: int = 3) -> tuple[Path, Path]:
    """A planted partition clear enough that any community detection must find it."""
    rng = random.Random(seed)
    nodes = range(blocks * size)
    lines = []
    for a in nodes:
        for b in nodes:
            if a < b and rng.random() < (0.35 if a // size == b // size else 0.01):
                lines.append(f"n{a},n{b}\n")
    edges, labels = tmp_path / "planted.edges", tmp_path / "planted.labels"
    edges.write_text("".join(lines), encoding="utf-8")
    labels.write_text("".join(f"n{a} block{a // size}\n" for a in nodes), encoding="utf-8")
    return edges, labels


def test_the_cypher_features_are_the_textbook_scores(neo4j: Driver) -> None:
    rng = random.Random(11)
    draws = ((rng.randrange(60), rng.randrange(60)) for _ in range(240))
    edges = sorted({(a, b) for a, b in draws if a < b})
    adjacency: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    users = [u for u in range(60) if adjacency[u]][:20]
    with scratch_graph(neo4j, DATABASE, 60, edges) as graph:
        top = recommend.popular(neo4j, DATABASE, graph)
        found = recommend.candidates(neo4j, DATABASE, graph, users, top)
    for user in users:
        cn, aa, ra = _baselines({i: adjacency[i] for i in range(60)}, user)
        reached = {c.candidate: c for c in found[user] if c.mutual_count > 0}
        assert set(reached) == set(cn), user
        for cand, row in reached.items():
            assert row.mutual_count == cn[cand]
            assert row.values["ra"] == pytest.approx(math.log(ra[cand] + recommend.FLOOR))
            assert row.values["aa"] == pytest.approx(math.log(aa[cand] + recommend.FLOOR))
            assert set(row.mutual) <= adjacency[user] & adjacency[cand]
        # Never a friend, never the user.
        assert not {c.candidate for c in found[user]} & (adjacency[user] | {user})
    assert scratch_left(neo4j, DATABASE) == 0


def test_recommend_prints_every_method_and_leaves_nothing_behind(
    tmp_path: Path, neo4j: Driver
) -> None:
    edges, _ = _planted(tmp_path)
    result = CliRunner().invoke(
        app, ["graph", "evaluate", "recommend", "--edges", str(edges), "--json", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    methods = {row["method"]: row for row in report["results"]}
    assert set(methods) == {
        "studyhub",
        "resource_allocation",
        "adamic_adar",
        "common_neighbours",
        "popularity",
    }
    assert report["users_scored"] > 20
    assert report["model"]["fitted_on"] > 20
    for row in methods.values():
        assert 0 <= row["precision"] <= 1
        assert 0 <= row["recall"] <= 1
        assert 0 <= row["mrr"] <= 1
    # Inside planted blocks, common friends find held-out edges far better than popularity.
    assert methods["resource_allocation"]["recall"] > methods["popularity"]["recall"]
    assert methods["studyhub"]["recall"] > methods["popularity"]["recall"]
    assert scratch_left(neo4j, DATABASE) == 0
    fit_left, _, _ = neo4j.execute_query(
        "MATCH (n) WHERE n.community_fit IS NOT NULL RETURN count(n) AS n", database_=DATABASE
    )
    assert fit_left[0]["n"] == 0


def test_communities_recover_a_planted_partition(tmp_path: Path, neo4j: Driver) -> None:
    edges, labels = _planted(tmp_path)
    result = CliRunner().invoke(
        app,
        ["graph", "evaluate", "communities", "--edges", str(edges), "--labels", str(labels)],
    )
    assert result.exit_code == 0, result.output
    table = result.stdout[result.stdout.index("| method") :]
    rows = {line.split("|")[1].strip(): line.split("|")[2:] for line in table.splitlines()[2:]}
    assert set(rows) == {"studyhub", "louvain"}
    assert float(rows["studyhub"][0]) > 0.9  # NMI
    assert int(rows["studyhub"][3]) == 3  # communities
    assert scratch_left(neo4j, DATABASE) == 0


def test_bad_files_get_a_message_naming_the_problem(tmp_path: Path) -> None:
    edges = tmp_path / "bad.edges"
    edges.write_text("1 2\n3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["graph", "evaluate", "recommend", "--edges", str(edges)])
    assert result.exit_code == 2
    assert "bad.edges:2: expected two node ids" in result.output
    good, labels = _planted(tmp_path)
    labels.write_text("n0 block0\n", encoding="utf-8")
    result = CliRunner().invoke(
        app,
        ["graph", "evaluate", "communities", "--edges", str(good), "--labels", str(labels)],
    )
    assert result.exit_code == 2
    assert "have no label" in result.output
    missing = CliRunner().invoke(
        app, ["graph", "evaluate", "recommend", "--edges", str(tmp_path / "nope.edges")]
    )
    assert missing.exit_code == 2
    assert "does not exist" in missing.output
