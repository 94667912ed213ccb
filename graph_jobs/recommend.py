"""People you may know: candidates, features and a learned score over a friendship graph in Neo4j.

The same code scores the product graph ((:User)-[:FRIEND]-(:User), ``PRODUCT``) and the
evaluation's scratch graphs (``studyhub graph evaluate recommend``, ``graph_jobs.evaluate``), so
the numbers in docs/graph.md are the job's numbers.

Candidates of a user u: the friends of friends (2 hops), plus the most befriended users overall
and in u's community (so that a user with few friends still gets suggestions). Friends, u and,
on the product graph, blocked users in either direction are never candidates.

Features of a pair (u, v), all computed by one Cypher statement per batch of users:
- ``ra``: resource allocation, the sum over common friends z of 1/deg(z);
- ``aa``: Adamic-Adar, the sum of 1/log(deg(z));
- ``cn``: common friends (log1p);
- ``salton``: cn / sqrt(deg(u) deg(v));
- ``popularity``: log1p(deg(v));
- ``same_community``: both in one GDS Leiden community (``User.community``);
- the last three weighed by u's own friends (``_derive``): popularity for users with few,
  resource allocation and community for users with many;
- on the product graph also ``shared_rooms``, ``shared_groups`` and ``shared_subjects``.

The score is linear in the standardised features. Its weights are learned, per run, on the
graph itself by leaving edges out: for a sample of friendships (u, h) the pair is scored as if
it did not exist (paths through h are ignored, both degrees lose one), against u's other
candidates, and a conditional logit (one softmax per user) is fitted by gradient descent. The
common-neighbour features of (u, h) do not depend on the edge u-h, so leaving it out costs no
copy of the graph. Resource allocation alone is one point of the model's space; the fit moves
away from it only as far as the left-out edges reward.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from neo4j import Driver

from core.graph import BLOCKED, FRIEND, IN_ROOM, MEMBER_OF, STUDIES, USER
from graph_jobs.communities import detect_communities

FEATURES = (
    "ra",
    "aa",
    "cn",
    "salton",
    "popularity",
    "same_community",
    "popularity_for_few",
    "ra_by_degree",
    "community_by_degree",
)
CONTEXT_FEATURES = ("shared_rooms", "shared_groups", "shared_subjects")
POPULAR_OVERALL = 50  # the most befriended users, candidates of everyone
POPULAR_PER_COMMUNITY = 20  # the most befriended of each community, candidates of its members
BATCH = 200  # users per Cypher statement
NEGATIVES = 400  # candidates kept per left-out edge when fitting (sampled, seeded)
FIT_COMMUNITY = "community_fit"  # written for the fit only, removed after it
FLOOR = 1e-3  # ra and aa enter as log(x + FLOOR): a product of factors, not a sum
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class GraphRef:
    """Which nodes and relationships form the friendship graph."""

    label: str = USER
    rel: str = FRIEND
    context: bool = False  # the product graph: rooms, groups, subjects and blocks exist

    def __post_init__(self) -> None:
        for name in (self.label, self.rel):
            if not _NAME.match(name):  # interpolated into Cypher: identifiers only
                raise ValueError(f"not a label or relationship type: {name!r}")

    @property
    def features(self) -> tuple[str, ...]:
        return FEATURES + CONTEXT_FEATURES if self.context else FEATURES


PRODUCT = GraphRef(USER, FRIEND, context=True)


@dataclass
class Candidate:
    """One suggestion before ranking: the candidate, its features and the reasons behind them."""

    user: int
    candidate: int
    values: dict[str, float]
    mutual: list[int] = field(default_factory=list)  # up to five common friends
    mutual_count: int = 0


def _pair_query(graph: GraphRef, community: str) -> str:
    """Friends of friends of each user, aggregated per candidate; ``held`` (or null) is a
    friend treated as left out: no path through it, and it stays a candidate."""
    label, rel = graph.label, graph.rel
    blocked = (
        f" AND NOT (u)-[:{BLOCKED}]-(v)" if graph.context else ""
    )  # both directions: a block hides each from the other
    context = (
        f", COUNT {{ (u)-[:{IN_ROOM}]->()<-[:{IN_ROOM}]-(v) }} AS shared_rooms"
        f", COUNT {{ (u)-[:{MEMBER_OF}]->()<-[:{MEMBER_OF}]-(v) }} AS shared_groups"
        f", COUNT {{ (u)-[:{STUDIES}]->()<-[:{STUDIES}]-(v) }} AS shared_subjects"
        if graph.context
        else ""
    )
    return (
        "UNWIND $rows AS row "
        f"MATCH (u:{label} {{id: row.user}}) "
        f"OPTIONAL MATCH (h:{label} {{id: row.held}}) "
        "CALL (u, h) { "
        f"  MATCH (u)-[:{rel}]-(z:{label}) WHERE h IS NULL OR z <> h "
        f"  WITH u, h, z, COUNT {{ (z)-[:{rel}]-() }} AS dz "
        f"  MATCH (z)-[:{rel}]-(v:{label}) "
        f"  WHERE v <> u AND (v = h OR NOT (u)-[:{rel}]-(v)){blocked} "
        "  WITH v, count(z) AS cn, sum(1.0 / dz) AS ra, sum(1.0 / log(dz)) AS aa, "
        "       collect(z.id)[..5] AS mutual "
        "  RETURN v, cn, ra, aa, mutual "
        "} "
        f"WITH u, v, cn, ra, aa, mutual, COUNT {{ (u)-[:{rel}]-() }} AS du, "
        f"     COUNT {{ (v)-[:{rel}]-() }} AS dv "
        "RETURN u.id AS user, v.id AS candidate, cn, ra, aa, du, dv, mutual, "
        f"       coalesce(u.{community} = v.{community}, false) AS same_community"
        f"{context}"
    )


def _popular_query(graph: GraphRef, community: str) -> str:
    return (
        f"MATCH (n:{graph.label}) WITH n, COUNT {{ (n)-[:{graph.rel}]-() }} AS d "
        f"WHERE d > 0 RETURN n.id AS id, d, n.{community} AS community ORDER BY d DESC, id"
    )


def _friends_query(graph: GraphRef, community: str) -> str:
    """Each user's degree, community and which of ``ids`` are already friends (or blocked)."""
    blocked = (
        f" + [(u)-[:{BLOCKED}]-(b:{graph.label}) WHERE b.id IN $ids | b.id]"
        if graph.context
        else ""
    )
    return (
        f"UNWIND $users AS uid MATCH (u:{graph.label} {{id: uid}}) "
        f"RETURN uid AS user, u.{community} AS community, COUNT {{ (u)-[:{graph.rel}]-() }} AS du, "
        f"[(u)-[:{graph.rel}]-(f:{graph.label}) WHERE f.id IN $ids | f.id]{blocked} AS excluded"
    )


@dataclass
class Popular:
    """The most befriended users, overall and per community: (id, degree, community)."""

    overall: list[tuple[int, int, int | None]]
    per_community: dict[int, list[tuple[int, int, int | None]]]

    def ids(self) -> list[int]:
        seen = {i for i, _, _ in self.overall}
        for top in self.per_community.values():
            seen.update(i for i, _, _ in top)
        return sorted(seen)


def popular(
    driver: Driver, database: str, graph: GraphRef, *, community: str = "community"
) -> Popular:
    overall: list[tuple[int, int, int | None]] = []
    per: dict[int, list[tuple[int, int, int | None]]] = {}
    with driver.session(database=database) as session:
        for record in session.run(_popular_query(graph, community)):
            row = (int(record["id"]), int(record["d"]), record["community"])
            if len(overall) < POPULAR_OVERALL:
                overall.append(row)
            if row[2] is not None:
                top = per.setdefault(int(row[2]), [])
                if len(top) < POPULAR_PER_COMMUNITY:
                    top.append(row)
    return Popular(overall, per)


def _derive(values: dict[str, float], du: int) -> None:
    """Features that weigh the others by how many friends u has: a linear score ranks each
    user's candidates alike, but popularity says more about a newcomer's next friend, and
    common friends and communities more about a well-connected user's."""
    own = math.log1p(max(du, 0))
    values["popularity_for_few"] = values["popularity"] / (1.0 + own)
    values["ra_by_degree"] = values["ra"] * own
    values["community_by_degree"] = values["same_community"] * own


def _values(record: Any, graph: GraphRef, held: bool, candidate_held: bool) -> dict[str, float]:
    # A left-out friendship still counts in both degrees: take it off.
    du = int(record["du"]) - (1 if held else 0)
    dv = int(record["dv"]) - (1 if candidate_held else 0)
    cn = int(record["cn"])
    values = {
        "ra": math.log(float(record["ra"]) + FLOOR),
        "aa": math.log(float(record["aa"]) + FLOOR),
        "cn": math.log1p(cn),
        "salton": cn / math.sqrt(max(du, 1) * max(dv, 1)),
        "popularity": math.log1p(max(dv, 0)),
        "same_community": 1.0 if record["same_community"] else 0.0,
    }
    _derive(values, du)
    if graph.context:
        for name in CONTEXT_FEATURES:
            values[name] = float(record[name])
    return values


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def candidates(
    driver: Driver,
    database: str,
    graph: GraphRef,
    users: Sequence[int],
    top: Popular,
    *,
    held: dict[int, int] | None = None,
    community: str = "community",
) -> dict[int, list[Candidate]]:
    """Every candidate of each user with its features. ``held`` maps a user to the friend it
    is scored without (fitting); that friend is then a candidate like any stranger."""
    held = held or {}
    found: dict[int, dict[int, Candidate]] = {u: {} for u in users}
    query = _pair_query(graph, community)
    popular_ids = top.ids()
    for chunk in _chunks(list(users), BATCH):
        rows = [{"user": u, "held": held.get(u)} for u in chunk]
        records, _, _ = driver.execute_query(query, rows=rows, database_=database)
        for record in records:
            user, cand = int(record["user"]), int(record["candidate"])
            found[user][cand] = Candidate(
                user,
                cand,
                _values(record, graph, user in held, held.get(user) == cand),
                mutual=[int(m) for m in record["mutual"]],
                mutual_count=int(record["cn"]),
            )
        # Popular users no path reaches: no common friends, only popularity and community.
        info, _, _ = driver.execute_query(
            _friends_query(graph, community), users=list(chunk), ids=popular_ids, database_=database
        )
        for record in info:
            user, own = int(record["user"]), record["community"]
            excluded = set(record["excluded"]) - {held.get(user)}
            pool = list(top.overall)
            if own is not None:
                pool += top.per_community.get(int(own), [])
            for cand, degree, cand_community in pool:
                if cand == user or cand in excluded or cand in found[user]:
                    continue
                values = dict.fromkeys(graph.features, 0.0)
                values["ra"] = values["aa"] = math.log(FLOOR)
                dv = degree - (1 if held.get(user) == cand else 0)
                values["popularity"] = math.log1p(max(dv, 0))
                same = own is not None and cand_community == own
                values["same_community"] = 1.0 if same else 0.0
                _derive(values, int(record["du"]) - (1 if user in held else 0))
                found[user][cand] = Candidate(user, cand, values)
    return {u: list(c.values()) for u, c in found.items()}


@dataclass
class Model:
    """A linear score over standardised features."""

    features: tuple[str, ...]
    weights: list[float]
    mean: list[float]
    scale: list[float]
    fitted_on: int = 0  # left-out edges the weights were fitted on

    @classmethod
    def resource_allocation(cls, features: tuple[str, ...]) -> Model:
        """The starting point and the fallback: the ``ra`` feature alone."""
        weights = [1.0 if f == "ra" else 0.0 for f in features]
        return cls(features, weights, [0.0] * len(features), [1.0] * len(features))

    def matrix(self, rows: Iterable[Candidate]) -> np.ndarray:
        raw = np.array([[c.values[f] for f in self.features] for c in rows], dtype=np.float64)
        if raw.size == 0:
            return raw.reshape(0, len(self.features))
        standardised: np.ndarray = (raw - np.array(self.mean)) / np.array(self.scale)
        return standardised

    def scores(self, rows: Sequence[Candidate]) -> np.ndarray:
        if not rows:
            return np.zeros(0)
        scores: np.ndarray = self.matrix(rows) @ np.array(self.weights)
        return scores

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(w, 4) for w in self.weights],
            "fitted_on": self.fitted_on,
        }


def fit(
    groups: Sequence[tuple[list[Candidate], int]],
    features: tuple[str, ...],
    *,
    l2: float = 1e-2,
    steps: int = 400,
    rate: float = 0.05,
) -> Model:
    """A conditional logit: for each group (candidates, index of the left-out friend), the
    softmax of the scores should put its mass on the friend. Adam on the mean log-loss."""
    usable = [(rows, pos) for rows, pos in groups if rows and 0 <= pos < len(rows)]
    if not usable:
        return Model.resource_allocation(features)
    flat = [c for rows, _ in usable for c in rows]
    raw = np.array([[c.values[f] for f in features] for c in flat], dtype=np.float64)
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0)
    scale[scale == 0] = 1.0
    x = (raw - mean) / scale
    sizes = np.array([len(rows) for rows, _ in usable])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    positives = starts + np.array([pos for _, pos in usable])
    group_of = np.repeat(np.arange(len(usable)), sizes)
    # Start from resource allocation (in standardised units), so the fit can only improve it.
    w = np.array([1.0 if f == "ra" else 0.0 for f in features])
    m, v = np.zeros_like(w), np.zeros_like(w)
    for step in range(1, steps + 1):
        s = x @ w
        top = np.maximum.reduceat(s, starts)
        e = np.exp(s - top[group_of])
        z = np.add.reduceat(e, starts)
        p = e / z[group_of]
        grad = (p[:, None] * x).sum(axis=0) - x[positives].sum(axis=0)
        grad = grad / len(usable) + l2 * w
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w -= rate * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return Model(features, w.tolist(), mean.tolist(), scale.tolist(), fitted_on=len(usable))


def sample_held_out(
    driver: Driver, database: str, graph: GraphRef, *, size: int, seed: int
) -> dict[int, int]:
    """Up to ``size`` friendships (u, h), one per user u, drawn with the seed: the edges the
    weights are fitted on. Users are drawn in proportion to their friends, as a random edge
    picks them (and as a held-out edge does in the evaluation); users with a single friend
    are skipped, since nothing would be left of them."""
    records, _, _ = driver.execute_query(
        f"MATCH (u:{graph.label}) WITH u, COUNT {{ (u)-[:{graph.rel}]-() }} AS d WHERE d > 1 "
        "RETURN u.id AS id, d ORDER BY id",
        database_=database,
    )
    rng = random.Random(seed)  # noqa: S311  (seeded on purpose: reproducible)
    # Weighted sampling without replacement (Efraimidis and Spirakis): the largest keys win.
    keyed = sorted(
        ((rng.random() ** (1.0 / int(r["d"])), int(r["id"])) for r in records), reverse=True
    )
    chosen = sorted(user for _, user in keyed[:size])
    held: dict[int, int] = {}
    for chunk in _chunks(chosen, 1000):
        rows, _, _ = driver.execute_query(
            f"UNWIND $ids AS uid MATCH (u:{graph.label} {{id: uid}})-[:{graph.rel}]-(f) "
            "WITH uid, collect(f.id) AS friends RETURN uid, friends",
            ids=list(chunk),
            database_=database,
        )
        for row in rows:
            friends = sorted(int(f) for f in row["friends"])
            held[int(row["uid"])] = rng.choice(friends)
    return held


def learn(
    driver: Driver,
    database: str,
    graph: GraphRef,
    *,
    sample: int = 2000,
    seed: int = 42,
) -> Model:
    """Weights fitted on left-out friendships of the graph itself (see the module). The
    communities the fit sees are computed without those friendships (``community_fit``): with
    them, a left-out pair would look like one community because of the very edge left out."""
    held = sample_held_out(driver, database, graph, size=sample, seed=seed)
    if not held:
        return Model.resource_allocation(graph.features)
    try:
        detect_communities(
            driver,
            database,
            label=graph.label,
            rel=graph.rel,
            without=list(held.items()),
            write_property=FIT_COMMUNITY,
            seed=seed,
        )
        top = popular(driver, database, graph, community=FIT_COMMUNITY)
        found = candidates(
            driver, database, graph, sorted(held), top, held=held, community=FIT_COMMUNITY
        )
    finally:
        with driver.session(database=database) as session:
            session.run(
                f"MATCH (n:{graph.label}) WHERE n.{FIT_COMMUNITY} IS NOT NULL "
                f"CALL (n) {{ REMOVE n.{FIT_COMMUNITY} }} IN TRANSACTIONS OF 10000 ROWS"
            ).consume()
    rng = random.Random(seed + 1)  # noqa: S311  (seeded on purpose: reproducible)
    groups: list[tuple[list[Candidate], int]] = []
    for user, friend in held.items():
        rows = found.get(user, [])
        positive = next((c for c in rows if c.candidate == friend), None)
        if positive is None:  # out of reach of every candidate source: nothing to learn
            continue
        others = [c for c in rows if c.candidate != friend]
        if len(others) > NEGATIVES:
            others = rng.sample(others, NEGATIVES)
        groups.append(([positive, *others], 0))
    return fit(groups, graph.features)


def rank(model: Model, rows: Sequence[Candidate], k: int) -> list[tuple[Candidate, float]]:
    """The k best candidates, best first; ties by candidate id."""
    scores = model.scores(rows)
    order = sorted(range(len(rows)), key=lambda i: (-scores[i], rows[i].candidate))
    return [(rows[i], float(scores[i])) for i in order[:k]]
