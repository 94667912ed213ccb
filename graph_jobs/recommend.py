"""People you may know: candidates, features and a learned score over a friendship graph in Neo4j.

The same code scores the product graph ((:User)-[:FRIEND]-(:User), ``PRODUCT``) and the
evaluation's scratch graphs (``studyhub graph evaluate recommend``, ``graph_jobs.evaluate``), so
the numbers in docs/graph.md are the job's numbers.

The graph is read out of Neo4j once per run into arrays (``Snapshot``: a CSR adjacency, degrees,
the GDS communities, and on the product graph blocks, rooms, groups and subjects), and every
user is scored there. One Cypher statement per user expanding two hops costs 20 ms of Neo4j
time at 12 friends each and grows with the square of the degree; the same arithmetic over
arrays costs well under a millisecond, so a whole graph scores in the time Cypher takes for a
few thousand users.

Candidates of a user u: the friends of friends, on the product graph the people u shares a
room or a group with, and the most befriended users overall and in u's community (so that a
user with few friends still gets suggestions). Never u, a friend, or anyone blocked in either
direction.

Features of a pair (u, v):
- ``ra``: log of resource allocation, the sum over common friends z of 1/deg(z);
- ``aa``: log of Adamic-Adar, the sum of 1/log(deg(z));
- ``cn``: log1p of the common friends;
- ``salton``: cn / sqrt(deg(u) deg(v));
- ``popularity``: log1p(deg(v));
- ``same_community``: both in one GDS Leiden community (``User.community``);
- the last three weighed by u's own friends (``popularity_for_few``, ``ra_by_degree``,
  ``community_by_degree``): a linear score ranks each user's candidates alike, but popularity
  says more about a newcomer's next friend, common friends and community more about a
  well-connected user's;
- on the product graph also ``shared_rooms``, ``shared_groups`` and ``shared_subjects``.

The score is linear in the standardised features. Its weights are learned per run on the graph
itself: a sample of friendships is left out (of the arrays, and of the GDS projection the fit's
communities come from), each left-out pair is scored against its user's other candidates, and a
conditional logit (one softmax per user) is fitted by gradient descent, starting from resource
allocation alone.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from neo4j import Driver
from numba import get_num_threads

from core.graph import BLOCKED, FRIEND, IN_ROOM, MEMBER_OF, STUDIES, USER
from graph_jobs import rank_kernel
from graph_jobs.communities import detect_communities
from graph_jobs.rank_kernel import (
    KERNEL_FEATURES,
    MASK_SUBJECTS,
    MUTUAL_SHOWN,
    score_users,
    scratch,
    tables,
)

FEATURES = rank_kernel.FEATURES  # the kernel computes them all; the names are defined there
CONTEXT_FEATURES = rank_kernel.CONTEXT_FEATURES
POPULAR_OVERALL = 50  # the most befriended users, candidates of everyone
POPULAR_PER_COMMUNITY = 20  # the most befriended of each community, candidates of its members
CO_MEMBERS = 200  # members of one room or group taken as candidates, at most
NEGATIVES = 400  # candidates kept per left-out edge when fitting (sampled, seeded)
FIT_SAMPLE = 2000  # left-out edges per fit
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


# -- the graph as arrays -------------------------------------------------------------------


def _csr(rows: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of the sparse rows -> cols, each row's columns sorted and unique."""
    if rows.size:  # one sort of int64 keys, not np.unique(axis=0)'s sort of structured rows
        width = int(cols.max()) + 1
        keys = np.unique(rows.astype(np.int64) * width + cols)
        rows, cols = keys // width, keys % width
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, rows + 1, 1)
    return np.cumsum(indptr), cols.astype(np.int64)


@dataclass
class Memberships:
    """Users to entities (rooms, groups or subjects) and back, as two CSR matrices."""

    user_ptr: np.ndarray
    user_items: np.ndarray
    item_ptr: np.ndarray
    item_users: np.ndarray

    @classmethod
    def build(cls, users: np.ndarray, items: np.ndarray, n_users: int) -> Memberships:
        n_items = int(items.max()) + 1 if items.size else 0
        user_ptr, user_items = _csr(users, items, n_users)
        item_ptr, item_users = _csr(items, users, n_items)
        return cls(user_ptr, user_items, item_ptr, item_users)

    def of(self, user: int) -> np.ndarray:
        return self.user_items[self.user_ptr[user] : self.user_ptr[user + 1]]

    def members(self, item: int) -> np.ndarray:
        return self.item_users[self.item_ptr[item] : self.item_ptr[item + 1]]

    def shared(self, user: int, others: np.ndarray) -> np.ndarray:
        """How many entities each of ``others`` shares with ``user``."""
        mine = self.of(user)
        counts = np.zeros(len(others))
        if mine.size == 0 or others.size == 0:
            return counts
        starts, ends = self.user_ptr[others], self.user_ptr[others + 1]
        lengths = ends - starts
        if lengths.sum() == 0:
            return counts
        owner = np.repeat(np.arange(len(others)), lengths)
        flat = self.user_items[_ranges(starts, lengths)]
        np.add.at(counts, owner[np.isin(flat, mine)], 1.0)
        return counts


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of range(s, s + l) for each start and length, vectorised."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    ranges: np.ndarray = np.arange(total, dtype=np.int64) + offsets
    return ranges


@dataclass
class Snapshot:
    """The friendship graph as arrays, indexed 0..n-1 (``ids`` maps back to user ids)."""

    ids: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    community: np.ndarray  # -1: none
    blocked: dict[int, set[int]] = field(default_factory=dict)  # either direction
    rooms: Memberships | None = None
    groups: Memberships | None = None
    subjects: Memberships | None = None
    _marks: np.ndarray | None = field(default=None, repr=False)
    _degree: np.ndarray | None = field(default=None, repr=False)

    @classmethod
    def from_edges(
        cls,
        ids: Sequence[int],
        edges: Sequence[tuple[int, int]],
        community: Sequence[int] | None = None,
    ) -> Snapshot:
        """From user ids and undirected pairs of them (tests, and the evaluation)."""
        pairs = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
        return cls.from_id_arrays(
            np.asarray(ids, dtype=np.int64), pairs[:, 0], pairs[:, 1], community
        )

    @classmethod
    def from_id_arrays(
        cls,
        ids: np.ndarray,
        src: np.ndarray,
        dst: np.ndarray,
        community: Sequence[int] | np.ndarray | None = None,
    ) -> Snapshot:
        """From user ids and undirected pairs of them as two arrays of user ids (``snapshot``:
        25M pairs at 1M users, mapped to indices by one sort and binary searches instead of a
        dict lookup and a Python tuple per pair)."""
        id_array = np.asarray(ids, dtype=np.int64)
        n = len(id_array)
        order = np.argsort(id_array, kind="stable")
        known = id_array[order]

        def index(users: np.ndarray) -> np.ndarray:
            at = np.minimum(np.searchsorted(known, users), max(n - 1, 0))
            if n == 0 or not np.array_equal(known[at], users):
                raise KeyError("an edge names a user that is not among the ids")
            found: np.ndarray = order[at]
            return found

        a, b = index(np.asarray(src, dtype=np.int64)), index(np.asarray(dst, dtype=np.int64))
        keep = a != b
        a, b = a[keep], b[keep]
        indptr, indices = _csr(np.concatenate([a, b]), np.concatenate([b, a]), n)
        labels = np.full(n, -1, dtype=np.int64) if community is None else np.asarray(community)
        return cls(id_array, indptr, indices, labels.astype(np.int64))

    @property
    def size(self) -> int:
        return len(self.ids)

    def marks(self) -> np.ndarray:
        """A reusable all-False flag per node (``pool`` sets and clears it per user)."""
        if self._marks is None or len(self._marks) != self.size:
            self._marks = np.zeros(self.size, dtype=bool)
        return self._marks

    @property
    def degree(self) -> np.ndarray:
        """Friends per node; computed once (``pool`` asks for it per user)."""
        if self._degree is None or len(self._degree) != self.size:
            self._degree = np.diff(self.indptr)
        return self._degree

    def index_of(self) -> dict[int, int]:
        return {int(u): i for i, u in enumerate(self.ids)}

    def friends(self, i: int) -> np.ndarray:
        return self.indices[self.indptr[i] : self.indptr[i + 1]]

    def without(self, pairs: Sequence[tuple[int, int]]) -> Snapshot:
        """The same graph less some friendships (pairs of indices), for the fit."""
        n = self.size
        rows = np.repeat(np.arange(n, dtype=np.int64), self.degree)
        drop = {a * n + b for a, b in pairs} | {b * n + a for a, b in pairs}
        keys = rows * n + self.indices
        keep = ~np.isin(keys, np.fromiter(drop, dtype=np.int64, count=len(drop)))
        indptr, indices = _csr(rows[keep], self.indices[keep], n)
        return Snapshot(
            self.ids, indptr, indices, self.community, self.blocked,
            self.rooms, self.groups, self.subjects,
        )  # fmt: skip


def _stream(driver: Driver, database: str, query: str) -> Iterator[Any]:
    with driver.session(database=database) as session:
        yield from session.run(query)


def snapshot(
    driver: Driver, database: str, graph: GraphRef, *, community: str = "community"
) -> Snapshot:
    """Read the graph out of Neo4j: one record per node, with its community and the ids at
    the far end of its outgoing relationships (each friendship is stored once, so once)."""
    ids = array("q")
    labels = array("q")
    src = array("q")
    dst = array("q")
    # One record per node, not per relationship: the driver decodes a list of ints far faster
    # than as many records (2.5 million friendships: about a third of the time).
    query = (
        f"MATCH (n:{graph.label}) RETURN n.id AS id, n.{community} AS c, "
        f"[(n)-[:{graph.rel}]->(m:{graph.label}) | m.id] AS out"
    )
    for record in _stream(driver, database, query):
        node = int(record["id"])
        out = record["out"]
        ids.append(node)
        labels.append(-1 if record["c"] is None else int(record["c"]))
        dst.extend(out)
        src.extend(itertools.repeat(node, len(out)))
    snap = Snapshot.from_id_arrays(
        np.frombuffer(ids, dtype=np.int64),
        np.frombuffer(src, dtype=np.int64),
        np.frombuffer(dst, dtype=np.int64),
        np.frombuffer(labels, dtype=np.int64),
    )
    if graph.context:
        index = snap.index_of()
        for record in _stream(
            driver,
            database,
            f"MATCH (a:{USER})-[:{BLOCKED}]->(b:{USER}) RETURN a.id AS a, b.id AS b",
        ):
            a, b = index.get(int(record["a"])), index.get(int(record["b"]))
            if a is not None and b is not None:
                snap.blocked.setdefault(a, set()).add(b)
                snap.blocked.setdefault(b, set()).add(a)
        snap.rooms = _memberships(driver, database, index, IN_ROOM, "id")
        snap.groups = _memberships(driver, database, index, MEMBER_OF, "id")
        snap.subjects = _memberships(driver, database, index, STUDIES, "name")
    return snap


def _memberships(
    driver: Driver, database: str, index: dict[int, int], rel: str, key: str
) -> Memberships:
    items: dict[Any, int] = {}
    users: list[int] = []
    entities: list[int] = []
    query = f"MATCH (u:{USER})-[:{rel}]->(x) RETURN u.id AS u, x.{key} AS x"
    for record in _stream(driver, database, query):
        user = index.get(int(record["u"]))
        if user is None or record["x"] is None:
            continue
        users.append(user)
        entities.append(items.setdefault(record["x"], len(items)))
    return Memberships.build(
        np.asarray(users, dtype=np.int64), np.asarray(entities, dtype=np.int64), len(index)
    )


# -- candidates and features ---------------------------------------------------------------


@dataclass
class Popular:
    overall: np.ndarray  # indices, most befriended first
    per_community: dict[int, np.ndarray]

    @classmethod
    def of(cls, snap: Snapshot) -> Popular:
        degree = snap.degree
        order = np.lexsort((snap.ids, -degree))
        order = order[degree[order] > 0]
        per: dict[int, list[int]] = {}
        for i in order:
            c = int(snap.community[i])
            if c >= 0 and len(per.setdefault(c, [])) < POPULAR_PER_COMMUNITY:
                per[c].append(int(i))
        return cls(
            order[:POPULAR_OVERALL], {c: np.asarray(v, dtype=np.int64) for c, v in per.items()}
        )


@dataclass
class Pool:
    """One user's candidates (indices) and their raw features, one row each."""

    candidates: np.ndarray
    x: np.ndarray
    mutual: np.ndarray  # common friends per candidate


def _extra_candidates(snap: Snapshot, top: Popular, user: int) -> np.ndarray:
    """Candidates no path of two friendships reaches: the popular, and room and group mates."""
    extra = [top.overall]
    own = int(snap.community[user])
    if own >= 0 and own in top.per_community:
        extra.append(top.per_community[own])
    for members in (snap.rooms, snap.groups):
        if members is not None:
            for item in members.of(user):
                extra.append(members.members(int(item))[:CO_MEMBERS])
    return np.concatenate(extra).astype(np.int64)


def pool(snap: Snapshot, top: Popular, user: int, features: tuple[str, ...]) -> Pool:
    """Every candidate of ``user`` (an index) with its features, in the order of ``features``."""
    degree = snap.degree
    friends = snap.friends(user)
    excluded = np.concatenate([friends, [user], list(snap.blocked.get(user, ()))]).astype(np.int64)
    # Two hops: each friend z contributes its own friends, weighted by 1/deg(z) and 1/log deg(z).
    lengths = degree[friends]
    reached = snap.indices[_ranges(snap.indptr[friends], lengths)]
    dz = np.repeat(degree[friends], lengths).astype(np.float64)
    mark = snap.marks()  # a flag per node, set here and cleared below: O(1) membership tests
    mark[excluded] = True
    fof = np.zeros(0, dtype=np.int64)  # so that the clean-up below holds whatever fails
    try:
        keep = ~mark[reached]
        reached, dz = reached[keep], dz[keep]
        fof, inverse = np.unique(reached, return_inverse=True)
        mark[fof] = True
        extra = _extra_candidates(snap, top, user)
        others = np.unique(extra[~mark[extra]])
    finally:
        mark[excluded] = False
        mark[fof] = False
    cn = np.bincount(inverse, minlength=len(fof)).astype(np.float64)
    ra = np.bincount(inverse, weights=1.0 / dz, minlength=len(fof))
    aa = np.bincount(inverse, weights=1.0 / np.log(dz), minlength=len(fof))  # deg(z) >= 2 here
    own = int(snap.community[user])
    cands = np.concatenate([fof, others])
    zeros = np.zeros(len(others))
    cn, ra, aa = (
        np.concatenate([cn, zeros]),
        np.concatenate([ra, zeros]),
        np.concatenate([aa, zeros]),
    )
    du = float(degree[user])
    dv = degree[cands].astype(np.float64)
    same = ((snap.community[cands] == own) & (own >= 0)).astype(np.float64)
    own_log = math.log1p(du)
    columns: dict[str, np.ndarray] = {
        "ra": np.log(ra + FLOOR),
        "aa": np.log(aa + FLOOR),
        "cn": np.log1p(cn),
        "salton": cn / np.sqrt(np.maximum(du, 1.0) * np.maximum(dv, 1.0)),
        "popularity": np.log1p(dv),
        "same_community": same,
    }
    columns["popularity_for_few"] = columns["popularity"] / (1.0 + own_log)
    columns["ra_by_degree"] = columns["ra"] * own_log
    columns["community_by_degree"] = same * own_log
    for name, members in (
        ("shared_rooms", snap.rooms),
        ("shared_groups", snap.groups),
        ("shared_subjects", snap.subjects),
    ):
        if name in features:
            columns[name] = np.zeros(len(cands)) if members is None else members.shared(user, cands)
    x = (
        np.stack([columns[f] for f in features], axis=1)
        if len(cands)
        else np.zeros((0, len(features)))
    )
    return Pool(cands, x, cn)


# -- the model -----------------------------------------------------------------------------


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

    def scores(self, x: np.ndarray) -> np.ndarray:
        """The scores of rows of features (in the order of ``features``)."""
        return self.scores_of({name: x[:, i] for i, name in enumerate(self.features)})

    def scores_of(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """The scores of feature columns by name, added up in the order of ``features`` (so
        that rows and columns of the same features score bit for bit alike)."""
        total: np.ndarray | None = None
        for name, weight, mean, scale in zip(
            self.features, self.weights, self.mean, self.scale, strict=True
        ):
            term = (columns[name] - mean) / scale * weight
            total = term if total is None else total + term
        return np.zeros(0) if total is None else total

    def as_dict(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(w, 4) for w in self.weights],
            "mean": [round(m, 6) for m in self.mean],
            "scale": [round(x, 6) for x in self.scale],
            "fitted_on": self.fitted_on,
        }


def fit(
    groups: Sequence[tuple[np.ndarray, int]],
    features: tuple[str, ...],
    *,
    l2: float = 1e-2,
    steps: int = 400,
    rate: float = 0.05,
) -> Model:
    """A conditional logit: for each group (a feature matrix of candidates, the row of the
    left-out friend), the softmax of the scores should put its mass on the friend. Adam on the
    mean log-loss, starting from resource allocation, so the fit can only move away from it as
    far as the left-out edges reward."""
    usable = [(x, pos) for x, pos in groups if len(x) and 0 <= pos < len(x)]
    if not usable:
        return Model.resource_allocation(features)
    raw = np.concatenate([x for x, _ in usable])
    mean = raw.mean(axis=0)
    scale = raw.std(axis=0)
    scale[scale == 0] = 1.0
    x = (raw - mean) / scale
    sizes = np.array([len(g) for g, _ in usable])
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    positives = starts + np.array([pos for _, pos in usable])
    group_of = np.repeat(np.arange(len(usable)), sizes)
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


def sample_held_out(snap: Snapshot, *, size: int, seed: int) -> list[tuple[int, int]]:
    """Up to ``size`` friendships (u, h) as indices, one per user u, drawn with the seed: the
    edges the weights are fitted on. Users are drawn in proportion to their friends, as a
    random edge picks them (and as a held-out edge does in the evaluation); users with a
    single friend are skipped, since nothing would be left of them."""
    rng = random.Random(seed)  # noqa: S311  (seeded on purpose: reproducible)
    degree = snap.degree
    # Weighted sampling without replacement (Efraimidis and Spirakis): the largest keys win.
    keyed = sorted(
        ((rng.random() ** (1.0 / int(degree[i])), i) for i in range(snap.size) if degree[i] > 1),
        reverse=True,
    )
    chosen = sorted(i for _, i in keyed[:size])
    return [(u, int(snap.friends(u)[rng.randrange(int(degree[u]))])) for u in chosen]


def learn(
    driver: Driver,
    database: str,
    graph: GraphRef,
    snap: Snapshot,
    *,
    sample: int = FIT_SAMPLE,
    seed: int = 42,
) -> Model:
    """Weights fitted on friendships left out of the graph itself (see the module). The
    communities the fit sees come from a GDS projection without those friendships
    (``community_fit``, removed afterwards): with them, a left-out pair would share a
    community because of the very edge left out, and the fit would learn the leak."""
    held = sample_held_out(snap, size=sample, seed=seed)
    if not held:
        return Model.resource_allocation(graph.features)
    ids = snap.ids
    try:
        detect_communities(
            driver,
            database,
            label=graph.label,
            rel=graph.rel,
            without=[(int(ids[u]), int(ids[h])) for u, h in held],
            write_property=FIT_COMMUNITY,
            seed=seed,
        )
        fit_labels = snapshot_communities(driver, database, graph, snap, FIT_COMMUNITY)
    finally:
        with driver.session(database=database) as session:
            session.run(
                f"MATCH (n:{graph.label}) WHERE n.{FIT_COMMUNITY} IS NOT NULL "
                f"CALL (n) {{ REMOVE n.{FIT_COMMUNITY} }} IN TRANSACTIONS OF 10000 ROWS"
            ).consume()
    left = snap.without(held)
    left.community = fit_labels
    top = Popular.of(left)
    rng = random.Random(seed + 1)  # noqa: S311  (seeded on purpose: reproducible)
    groups: list[tuple[np.ndarray, int]] = []
    for user, friend in held:
        found = pool(left, top, user, graph.features)
        where = np.nonzero(found.candidates == friend)[0]
        if where.size == 0:  # out of reach of every candidate source: nothing to learn
            continue
        others = np.delete(np.arange(len(found.candidates)), where[0])
        if len(others) > NEGATIVES:
            others = np.asarray(rng.sample(list(others), NEGATIVES))
        groups.append((found.x[np.concatenate([[where[0]], others]).astype(np.int64)], 0))
    return fit(groups, graph.features)


def snapshot_communities(
    driver: Driver, database: str, graph: GraphRef, snap: Snapshot, prop: str
) -> np.ndarray:
    index = snap.index_of()
    labels = np.full(snap.size, -1, dtype=np.int64)
    query = f"MATCH (n:{graph.label}) WHERE n.{prop} IS NOT NULL RETURN n.id AS id, n.{prop} AS c"
    for record in _stream(driver, database, query):
        i = index.get(int(record["id"]))
        if i is not None:
            labels[i] = int(record["c"])
    return labels


# -- suggestions ---------------------------------------------------------------------------


@dataclass
class Suggestion:
    """One ranked suggestion with the reasons a user is shown."""

    user_id: int
    candidate_id: int
    rank: int
    score: float
    mutual_friends: int
    mutual_ids: list[int]  # up to five of them
    shared_rooms: int = 0
    shared_groups: int = 0
    shared_subjects: int = 0
    same_community: bool = False


KERNEL_BATCH = 4096  # users per kernel call: the unit of progress and of the caller's writes


def _kernel_context(snap: Snapshot, top: Popular) -> tuple[Any, ...]:
    """The candidate sources as the compiled kernel takes them (``rank_kernel.score_users``)."""
    n = snap.size
    pairs = sorted((a, b) for a, others in snap.blocked.items() for b in others)
    blocked = _csr(
        np.asarray([a for a, _ in pairs], dtype=np.int64),
        np.asarray([b for _, b in pairs], dtype=np.int64),
        n,
    )
    keys = sorted(top.per_community)
    popular = (
        np.asarray(keys, dtype=np.int64),
        np.concatenate([[0], np.cumsum([len(top.per_community[c]) for c in keys])]).astype(
            np.int64
        ),
        np.concatenate([top.per_community[c] for c in keys]).astype(np.int64)
        if keys
        else np.zeros(0, dtype=np.int64),
    )
    none = Memberships.build(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), n)
    rooms, groups, subjects = (m or none for m in (snap.rooms, snap.groups, snap.subjects))
    context = (
        top.overall.astype(np.int64),
        *popular,
        *(rooms.user_ptr, rooms.user_items, rooms.item_ptr, rooms.item_users),
        *(groups.user_ptr, groups.user_items, groups.item_ptr, groups.item_users),
        subjects.user_ptr,
        subjects.user_items,
        len(subjects.item_ptr) - 1 <= MASK_SUBJECTS,
    )
    return blocked, tuple(a.astype(np.int64) if isinstance(a, np.ndarray) else a for a in context)


def suggest(
    snap: Snapshot,
    model: Model,
    top: Popular,
    users: Sequence[int],
    *,
    k: int = 20,
) -> Iterator[list[Suggestion]]:
    """The k best candidates of each user (indices), best first (equal scores: the smaller
    user id first), with their reasons: one list per user, in the order given.

    The candidates, features and score are ``pool``'s and ``Model.scores``'s, computed by the
    compiled loop in ``graph_jobs.rank_kernel`` on every core."""
    if k < 1:  # the kernel's leaderboard has k slots; none would be written out of bounds
        raise ValueError(f"k must be at least 1, got {k}")
    chosen = np.asarray(users, dtype=np.int64)
    if len(chosen) == 0:
        return
    n = snap.size
    degree = snap.degree.astype(np.int64)
    community = snap.community.astype(np.int64)
    ids = snap.ids.astype(np.int64)
    blocked, context = _kernel_context(snap, top)
    graph = (
        snap.indptr.astype(np.int64),
        snap.indices.astype(np.int64),
        degree,
        community,
        ids,
        *blocked,
    )
    subject_ptr, subject_items, masks = context[-3:]  # the context ends with the subjects
    parts = max(1, min(get_num_threads(), len(chosen)))
    acc, friend = scratch(parts, n, degree, community, subject_ptr, subject_items, masks)
    ranking = (
        np.asarray([KERNEL_FEATURES.index(f) for f in model.features], dtype=np.int64),
        np.asarray(model.weights, dtype=np.float64),
        np.asarray(model.mean, dtype=np.float64),
        np.asarray(model.scale, dtype=np.float64),
        FLOOR,
        CO_MEMBERS,
        k,
        *tables(int(degree.max(initial=1)), FLOOR),
    )
    for start in range(0, len(chosen), KERNEL_BATCH):
        batch = chosen[start : start + KERNEL_BATCH]
        rows = len(batch) * k
        out = (
            np.zeros(rows, dtype=np.int64),  # candidate
            np.zeros(rows),  # score
            np.zeros(rows),  # common friends
            np.zeros((rows, 3), dtype=np.int64),  # shared rooms, groups, subjects
            np.zeros(rows, dtype=np.bool_),  # same community
            np.zeros((rows, MUTUAL_SHOWN), dtype=np.int64),  # mutual friends
            np.zeros(len(batch), dtype=np.int64),  # suggestions per user
        )
        score_users(batch, start, graph, context, ranking, out, acc, friend)
        cand, score, cn, shared, same, mutual, count = out
        yield from _suggestions(ids, batch, k, count, cand, score, cn, shared, same, mutual)


def _suggestions(
    ids: np.ndarray,
    batch: np.ndarray,
    k: int,
    count: np.ndarray,
    cand: np.ndarray,
    score: np.ndarray,
    cn: np.ndarray,
    shared: np.ndarray,
    same: np.ndarray,
    mutual: np.ndarray,
) -> Iterator[list[Suggestion]]:
    user_ids = ids[batch].tolist()
    cand_ids = ids[cand].tolist()
    scores = np.round(score, 4).tolist()
    cns = cn.astype(np.int64).tolist()
    shared_l = shared.tolist()
    same_l = same.tolist()
    mutual_ids = np.where(mutual >= 0, ids[np.maximum(mutual, 0)], -1).tolist()
    for i, filled in enumerate(count.tolist()):
        ranked = []
        for r in range(filled):
            row = i * k + r
            rooms, groups, subjects = shared_l[row]
            ranked.append(
                Suggestion(
                    user_id=user_ids[i],
                    candidate_id=cand_ids[row],
                    rank=r + 1,
                    score=scores[row],
                    mutual_friends=cns[row],
                    mutual_ids=[m for m in mutual_ids[row] if m >= 0],
                    shared_rooms=rooms,
                    shared_groups=groups,
                    shared_subjects=subjects,
                    same_community=same_l[row],
                )
            )
        yield ranked
