"""`studyhub graph evaluate` against the real Neo4j and GDS: the job's code on an edge list."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from dagster import AssetSelection, materialize
from neo4j import Driver
from typer.testing import CliRunner

from graph_jobs import recommend
from graph_jobs.communities import detect_communities
from graph_jobs.definitions import resources
from graph_jobs.evaluate import scratch_graph, scratch_left
from graph_jobs.sync.assets import graph_weights, relation_assets
from stack.main import app
from tests.utils.api import People, Person

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

DATABASE = "neo4j"


def _befriend(a: Person, b: Person) -> None:
    sent = a.http.post("/friends/requests", json={"to_user_id": b.id})
    assert sent.status_code == 201, sent.text
    assert b.http.post(f"/friends/requests/{sent.json()['id']}/accept").status_code == 200


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


def test_the_snapshot_is_the_graph_neo4j_holds(neo4j: Driver) -> None:
    rng = random.Random(11)
    draws = ((rng.randrange(60), rng.randrange(60)) for _ in range(240))
    edges = sorted({(a, b) for a, b in draws if a < b})
    with scratch_graph(neo4j, DATABASE, 60, edges) as graph:
        detect_communities(neo4j, DATABASE, label=graph.label, rel=graph.rel)
        snap = recommend.snapshot(neo4j, DATABASE, graph)
    assert sorted(snap.ids.tolist()) == list(range(60))
    index = snap.index_of()
    adjacency: dict[int, set[int]] = defaultdict(set)
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    for node in range(60):
        assert {int(snap.ids[f]) for f in snap.friends(index[node])} == adjacency[node]
    assert (snap.community >= 0).all()  # Leiden labelled every node, and the snapshot has it
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


def test_on_the_product_graph_blocks_hide_and_shared_groups_count(
    people: People, neo4j: Driver
) -> None:
    """The scorer over (:User)-[:FRIEND]-(:User) as the sync writes it from the API."""
    alice, bob, carol, dave = (people.register(prefix=f"pymk{i}") for i in range(4))
    for other in (alice, carol, dave):
        _befriend(bob, other)
    assert alice.http.post(f"/blocks/{dave.id}").status_code == 204
    group = alice.http.post("/groups", json={"name": f"pymk {alice.id}", "subject": "Physics"})
    assert group.status_code == 201, group.text
    assert carol.http.post(f"/groups/{group.json()['id']}/join").status_code == 200
    synced = materialize(
        [*relation_assets, graph_weights],
        resources=resources(),
        selection=AssetSelection.assets(
            "graph_users",
            "graph_friendships",
            "graph_blocks",
            "graph_groups",
            "graph_group_members",
        ),
    )
    assert synced.success
    snap = recommend.snapshot(neo4j, DATABASE, recommend.PRODUCT)
    index = snap.index_of()
    top = recommend.Popular.of(snap)
    model = recommend.Model.resource_allocation(recommend.PRODUCT.features)
    (ranked,) = recommend.suggest(snap, model, top, [index[alice.id]], k=1000)
    by_id = {s.candidate_id: s for s in ranked}
    assert carol.id in by_id  # a friend of a friend...
    assert by_id[carol.id].mutual_ids == [bob.id]
    assert by_id[carol.id].shared_groups == 1  # ...who shares her group
    assert dave.id not in by_id  # blocked: never suggested, whatever the path
    assert bob.id not in by_id  # already a friend
    assert alice.id not in by_id
    # Dave does not see Alice either: a block hides each from the other.
    (theirs,) = recommend.suggest(snap, model, top, [index[dave.id]], k=1000)
    assert alice.id not in {s.candidate_id for s in theirs}
