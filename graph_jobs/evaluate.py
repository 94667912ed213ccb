"""Evaluation on any graph: the job's own recommender and community detection on an edge list.

    studyhub graph evaluate recommend --edges FILE [--holdout 0.1] [--seed 42] [--k 10] [--json]
    studyhub graph evaluate communities --edges FILE --labels FILE [--json]

The edge list goes into a scratch graph in the running Neo4j (its own label and relationship
type, removed afterwards), and the same Cypher and GDS calls as the Dagster assets run on it
(``graph_jobs.recommend``, ``graph_jobs.communities``). The baselines are computed here, in
plain Python over the same training edges, from their textbook definitions.

Recommendation protocol: a share of the edges (``--holdout``) is held out at random with the
seed. Every user with a held-out edge and a training edge (up to 1,000, sampled with the seed)
ranks every node that is not already a training neighbour; precision@k, recall@k and MRR count
the held-out neighbours found. Ties are broken in one random order of the nodes drawn with the
seed, the same for every method, so no method profits from how the file numbers its nodes.
studyhub's weights are fitted on the training edges only (left out one at a time, see
``graph_jobs.recommend``): the held-out edges are never seen before they are scored.
"""

from __future__ import annotations

import math
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from neo4j import Driver

from graph_jobs import recommend
from graph_jobs.communities import detect_communities

LOAD_BATCH = 10_000
MAX_USERS = 1000
METHODS = ("studyhub", "resource_allocation", "adamic_adar", "common_neighbours", "popularity")


class EdgeFileError(ValueError):
    """A line of an edge or label file that is not what it should be."""


def _fields(line: str) -> list[str]:
    return line.replace(",", " ").replace("\t", " ").split()


def _rows(path: Path, expected: str) -> Iterator[tuple[str, str]]:
    """The first two fields of each line that is not blank or a comment (# or %); raises
    EdgeFileError naming the first line with fewer."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            text = line.strip()
            if not text or text.startswith(("#", "%")):
                continue
            parts = _fields(text)
            if len(parts) < 2:
                raise EdgeFileError(f"{path}:{number}: expected {expected}, got {text!r}")
            yield parts[0], parts[1]


def read_edges(path: Path) -> list[tuple[str, str]]:
    """Undirected pairs, each once; self-loops dropped."""
    seen: set[tuple[str, str]] = set()
    edges: list[tuple[str, str]] = []
    for a, b in _rows(path, "two node ids"):
        key = (a, b) if a < b else (b, a)
        if a != b and key not in seen:
            seen.add(key)
            edges.append(key)
    if not edges:
        raise EdgeFileError(f"{path}: no edges")
    return edges


def read_labels(path: Path) -> dict[str, str]:
    labels = dict(_rows(path, "'node label'"))
    if not labels:
        raise EdgeFileError(f"{path}: no labels")
    return labels


def index_nodes(edges: Sequence[tuple[str, str]]) -> tuple[dict[str, int], list[tuple[int, int]]]:
    ids: dict[str, int] = {}
    for a, b in edges:
        ids.setdefault(a, len(ids))
        ids.setdefault(b, len(ids))
    return ids, [(ids[a], ids[b]) for a, b in edges]


def split(
    edges: Sequence[tuple[int, int]], holdout: float, seed: int
) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """(training, held out): ``holdout`` of the edges drawn at random with the seed."""
    if not 0 < holdout < 1:
        raise ValueError(f"--holdout must be between 0 and 1, got {holdout}")
    order = list(edges)
    random.Random(seed).shuffle(order)  # noqa: S311  (seeded on purpose: reproducible)
    cut = max(1, round(len(order) * holdout))
    return order[cut:], order[:cut]


# -- the scratch graph ---------------------------------------------------------------------


@contextmanager
def scratch_graph(
    driver: Driver, database: str, nodes: int, edges: Sequence[tuple[int, int]]
) -> Iterator[recommend.GraphRef]:
    """Nodes 0..nodes-1 and the edges under a label and type of their own, removed after."""
    tag = uuid.uuid4().hex[:10]
    graph = recommend.GraphRef(label=f"Eval_{tag}", rel=f"EVAL_{tag}")
    constraint = f"eval_{tag}"
    driver.execute_query(
        f"CREATE CONSTRAINT {constraint} IF NOT EXISTS "
        f"FOR (n:{graph.label}) REQUIRE n.id IS UNIQUE",
        database_=database,
    )
    try:
        for start in range(0, nodes, LOAD_BATCH):
            driver.execute_query(
                f"UNWIND $ids AS i CREATE (:{graph.label} {{id: i}})",
                ids=list(range(start, min(nodes, start + LOAD_BATCH))),
                database_=database,
            )
        for start in range(0, len(edges), LOAD_BATCH):
            driver.execute_query(
                f"UNWIND $pairs AS p MATCH (a:{graph.label} {{id: p[0]}}), "
                f"(b:{graph.label} {{id: p[1]}}) CREATE (a)-[:{graph.rel} {{weight: 1.0}}]->(b)",
                pairs=[list(e) for e in edges[start : start + LOAD_BATCH]],
                database_=database,
            )
        yield graph
    finally:
        with driver.session(database=database) as session:
            session.run(
                f"MATCH (n:{graph.label}) CALL (n) {{ DETACH DELETE n }} "
                "IN TRANSACTIONS OF 10000 ROWS"
            ).consume()
        driver.execute_query(f"DROP CONSTRAINT {constraint} IF EXISTS", database_=database)


def scratch_left(driver: Driver, database: str) -> int:
    """Nodes of evaluation graphs still in Neo4j (none, unless a run was killed)."""
    records, _, _ = driver.execute_query(
        "MATCH (n) WHERE any(l IN labels(n) WHERE l STARTS WITH 'Eval_') RETURN count(n) AS n",
        database_=database,
    )
    return int(records[0]["n"])


# -- recommendation ------------------------------------------------------------------------


@dataclass
class Scores:
    method: str
    precision: float
    recall: float
    mrr: float


def _metrics(order: np.ndarray, relevant: set[int], k: int) -> tuple[float, float, float]:
    found = np.isin(order, np.fromiter(relevant, dtype=order.dtype))
    hits = int(found[:k].sum())
    first = int(found.argmax()) if found.any() else None
    return hits / k, hits / len(relevant), 0.0 if first is None else 1.0 / (first + 1)


def _baselines(
    adjacency: dict[int, set[int]], user: int
) -> tuple[dict[int, int], dict[int, float], dict[int, float]]:
    cn: dict[int, int] = defaultdict(int)
    aa: dict[int, float] = defaultdict(float)
    ra: dict[int, float] = defaultdict(float)
    friends = adjacency[user]
    for z in friends:
        dz = len(adjacency[z])
        for v in adjacency[z]:
            if v == user or v in friends:
                continue
            cn[v] += 1
            aa[v] += 1.0 / math.log(dz)
            ra[v] += 1.0 / dz
    return cn, aa, ra


def _ordered(scores: np.ndarray, tiebreak: np.ndarray, excluded: Sequence[int]) -> np.ndarray:
    """Node ids by score (best first), ties in the shared random order; excluded left out."""
    keep = np.ones(len(scores), dtype=bool)
    keep[list(excluded)] = False
    nodes = np.nonzero(keep)[0]
    return nodes[np.lexsort((tiebreak[nodes], -scores[nodes]))]


def evaluate_recommend(
    driver: Driver,
    database: str,
    edges: Sequence[tuple[str, str]],
    *,
    holdout: float = 0.1,
    seed: int = 42,
    k: int = 10,
    max_users: int = MAX_USERS,
    progress: Any = None,
) -> dict[str, Any]:
    say = progress or (lambda message: print(message, file=sys.stderr))  # noqa: T201
    ids, pairs = index_nodes(edges)
    train, test = split(pairs, holdout, seed)
    n = len(ids)
    adjacency: dict[int, set[int]] = {i: set() for i in range(n)}
    for a, b in train:
        adjacency[a].add(b)
        adjacency[b].add(a)
    held: dict[int, set[int]] = defaultdict(set)
    for a, b in test:
        held[a].add(b)
        held[b].add(a)
    eligible = sorted(u for u in held if adjacency[u])
    rng = random.Random(seed)  # noqa: S311  (seeded on purpose: reproducible)
    users = sorted(rng.sample(eligible, min(max_users, len(eligible))))
    tiebreak = np.random.default_rng(seed).permutation(n)
    degree = np.array([len(adjacency[i]) for i in range(n)], dtype=np.float64)
    say(
        f"{n} nodes, {len(pairs)} edges: {len(train)} for training, {len(test)} held out; "
        f"scoring {len(users)} users"
    )
    started = time.monotonic()
    with scratch_graph(driver, database, n, train) as graph:
        say(f"loaded into Neo4j as :{graph.label} in {time.monotonic() - started:.1f} s")
        community = detect_communities(driver, database, label=graph.label, rel=graph.rel)
        snap = recommend.snapshot(driver, database, graph)
        model = recommend.learn(driver, database, graph, snap, seed=seed)
        say(f"weights fitted on {model.fitted_on} left-out training edges: {model.as_dict()}")
    top = recommend.Popular.of(snap)
    index = snap.index_of()  # the scratch graph's ids are this file's node numbers
    say(f"fitted in {time.monotonic() - started:.1f} s")

    totals: dict[str, list[float]] = {m: [0.0, 0.0, 0.0] for m in METHODS}
    for user in users:
        excluded = [user, *adjacency[user]]
        relevant = held[user]
        cn, aa, ra = _baselines(adjacency, user)
        orders: dict[str, np.ndarray] = {}
        for name, table in (
            ("common_neighbours", cn),
            ("adamic_adar", aa),
            ("resource_allocation", ra),
        ):
            scores = np.zeros(n)
            if table:
                scores[list(table)] = list(table.values())
            orders[name] = _ordered(scores, tiebreak, excluded)
        orders["popularity"] = _ordered(degree, tiebreak, excluded)
        found = recommend.pool(snap, top, index[user], model.features)
        scores = np.full(n, -np.inf)
        scores[snap.ids[found.candidates]] = model.scores(found.x)
        orders["studyhub"] = _ordered(scores, tiebreak, excluded)
        for name, order in orders.items():
            p, r, mrr = _metrics(order, relevant, k)
            totals[name][0] += p
            totals[name][1] += r
            totals[name][2] += mrr
    count = max(len(users), 1)
    results = [
        Scores(name, round(p / count, 4), round(r / count, 4), round(mrr / count, 4))
        for name, (p, r, mrr) in totals.items()
    ]
    return {
        "task": "recommend",
        "nodes": n,
        "edges": len(pairs),
        "held_out": len(test),
        "users_scored": len(users),
        "holdout": holdout,
        "seed": seed,
        "k": k,
        "model": model.as_dict(),
        "communities_in_training_graph": community.communities,
        "results": [asdict(s) for s in results],
    }


# -- communities ---------------------------------------------------------------------------


def nmi(truth: Sequence[Any], found: Sequence[Any]) -> float:
    """Normalised mutual information, arithmetic-mean normalisation (scikit-learn's default)."""
    total = len(truth)
    joint = Counter(zip(truth, found, strict=True))
    a, b = Counter(truth), Counter(found)
    mutual = sum(c / total * math.log(c * total / (a[x] * b[y])) for (x, y), c in joint.items())
    ha = -sum(c / total * math.log(c / total) for c in a.values())
    hb = -sum(c / total * math.log(c / total) for c in b.values())
    if ha + hb == 0:
        return 1.0
    return 2 * mutual / (ha + hb)


def ari(truth: Sequence[Any], found: Sequence[Any]) -> float:
    """Adjusted Rand index (Hubert and Arabie)."""

    def pairs(x: float) -> float:
        return x * (x - 1) / 2

    joint = Counter(zip(truth, found, strict=True))
    index = sum(pairs(c) for c in joint.values())
    rows = sum(pairs(c) for c in Counter(truth).values())
    cols = sum(pairs(c) for c in Counter(found).values())
    expected = rows * cols / pairs(len(truth)) if len(truth) > 1 else 0.0
    top = (rows + cols) / 2
    if top == expected:
        return 1.0
    return (index - expected) / (top - expected)


def evaluate_communities(
    driver: Driver,
    database: str,
    edges: Sequence[tuple[str, str]],
    labels: dict[str, str],
    *,
    seed: int = 42,
    progress: Any = None,
) -> dict[str, Any]:
    say = progress or (lambda message: print(message, file=sys.stderr))  # noqa: T201
    ids, pairs = index_nodes(edges)
    missing = [node for node in ids if node not in labels]
    if missing:
        raise EdgeFileError(
            f"{len(missing)} nodes of the edge list have no label, e.g. {missing[:5]}"
        )
    names = {i: node for node, i in ids.items()}
    truth = [labels[names[i]] for i in range(len(ids))]
    say(f"{len(ids)} nodes, {len(pairs)} edges, {len(set(truth))} labelled groups")
    results = []
    with scratch_graph(driver, database, len(ids), pairs) as graph:
        methods: tuple[tuple[str, Literal["leiden", "louvain"]], ...] = (
            ("studyhub", "leiden"),
            ("louvain", "louvain"),
        )
        for method, algorithm in methods:
            report = detect_communities(
                driver, database, algorithm=algorithm, seed=seed, label=graph.label, rel=graph.rel
            )
            records, _, _ = driver.execute_query(
                f"MATCH (n:{graph.label}) RETURN n.id AS id, n.community AS c",
                database_=database,
            )
            found = dict.fromkeys(range(len(ids)), -1)
            found.update({int(r["id"]): int(r["c"]) for r in records})
            assigned = [found[i] for i in range(len(ids))]
            results.append(
                {
                    "method": method,
                    "algorithm": algorithm,
                    "nmi": round(nmi(truth, assigned), 4),
                    "ari": round(ari(truth, assigned), 4),
                    "modularity": round(report.modularity, 4),
                    "communities": report.communities,
                    "resolution": report.resolution,
                }
            )
            say(f"{method}: {results[-1]}")
    return {
        "task": "communities",
        "nodes": len(ids),
        "edges": len(pairs),
        "groups": len(set(truth)),
        "seed": seed,
        "results": results,
    }
