"""The compiled ranking (``recommend.suggest`` through ``graph_jobs.rank_kernel``) against the
array version it replaced: ``recommend.pool``'s candidates and features, ``Model.scores``, the
best k by score then user id, and the mutual friends as ``np.intersect1d`` gives them."""

from __future__ import annotations

import numpy as np
import pytest

from graph_jobs import recommend
from graph_jobs.rank_kernel import MASK_SUBJECTS


def _graph(seed: int, n: int, *, subjects: int, context: bool) -> recommend.Snapshot:
    """A random graph with hubs, isolated users, communities, blocks and memberships."""
    rng = np.random.default_rng(seed)
    weight = rng.pareto(1.5, n) + 1.0
    weight[rng.choice(n, n // 20, replace=False)] = 0.0  # isolated users
    edges = set()
    p = weight / weight.sum()
    for a, b in rng.choice(n, size=(n * 6, 2), p=p):
        if a != b:
            edges.add((int(min(a, b)), int(max(a, b))))
    ids = rng.choice(10 * n, n, replace=False) + 1  # not in index order: ties go by id
    pairs = [(int(ids[a]), int(ids[b])) for a, b in sorted(edges)]
    community = rng.integers(-1, 6, n)  # -1: no community
    snap = recommend.Snapshot.from_edges(ids.tolist(), pairs, community.tolist())
    for a, b in rng.integers(0, n, (n // 10, 2)):
        if a != b:
            snap.blocked.setdefault(int(a), set()).add(int(b))
            snap.blocked.setdefault(int(b), set()).add(int(a))
    if context:

        def members(share: float, items: int, per_user: int) -> recommend.Memberships:
            users = np.nonzero(rng.random(n) < share)[0]
            who = np.repeat(users, per_user)
            return recommend.Memberships.build(who, rng.integers(0, items, who.size), n)

        snap.rooms = members(0.3, 8, 1)
        snap.groups = members(0.4, 5, 2)
        snap.subjects = members(0.9, subjects, 3)
    return snap


def _model(features: tuple[str, ...], seed: int) -> recommend.Model:
    rng = np.random.default_rng(seed)
    return recommend.Model(
        features,
        rng.normal(size=len(features)).tolist(),
        rng.normal(size=len(features)).tolist(),
        (rng.random(len(features)) + 0.5).tolist(),
    )


def _reference(
    snap: recommend.Snapshot, model: recommend.Model, top: recommend.Popular, user: int, k: int
) -> list[tuple[int, float, int, list[int], int, int, int, bool]]:
    found = recommend.pool(snap, top, user, model.features)
    scores = model.scores(found.x)
    best = np.lexsort((snap.ids[found.candidates], -scores))[:k]
    column = {name: i for i, name in enumerate(model.features)}

    def count(name: str, row: int) -> int:
        return int(found.x[row, column[name]]) if name in column else 0

    rows = []
    for row in best:
        cand = int(found.candidates[row])
        mutual = np.intersect1d(snap.friends(user), snap.friends(cand))[:5]
        rows.append(
            (
                int(snap.ids[cand]),
                round(float(scores[row]), 4),
                int(found.mutual[row]),
                [int(snap.ids[m]) for m in mutual],
                count("shared_rooms", row),
                count("shared_groups", row),
                count("shared_subjects", row),
                bool(found.x[row, column["same_community"]] > 0),
            )
        )
    return rows


@pytest.mark.parametrize(
    ("seed", "subjects", "context"),
    [(1, 12, True), (2, MASK_SUBJECTS + 8, True), (3, 0, False)],
    ids=["subjects as bit masks", "subjects merged", "no context (evaluation graphs)"],
)
def test_the_kernel_ranks_as_the_arrays_do(seed: int, subjects: int, context: bool) -> None:
    snap = _graph(seed, 600, subjects=subjects, context=context)
    features = recommend.PRODUCT.features if context else recommend.FEATURES
    model = _model(features, seed)
    top = recommend.Popular.of(snap)
    users = list(range(snap.size))
    k = 7
    got = list(recommend.suggest(snap, model, top, users, k=k))
    assert len(got) == snap.size
    compared = 0
    for user, ranked in zip(users, got, strict=True):
        want = _reference(snap, model, top, user, k)
        mine = [
            (
                s.candidate_id,
                s.score,
                s.mutual_friends,
                s.mutual_ids,
                s.shared_rooms,
                s.shared_groups,
                s.shared_subjects,
                s.same_community,
            )
            for s in ranked
        ]
        assert mine == want, f"user index {user}"
        assert [s.rank for s in ranked] == list(range(1, len(ranked) + 1))
        assert all(s.user_id == int(snap.ids[user]) for s in ranked)
        compared += len(want)
    assert compared > snap.size * 3  # most users have candidates: the comparison is not empty


def test_batches_and_repeated_users_keep_their_stamps_apart() -> None:
    """Across kernel calls and threads the marks of one user must not leak into another's:
    scoring users in any order, in batches, gives each the same list as scoring it alone."""
    snap = _graph(4, 400, subjects=10, context=True)
    model = _model(recommend.PRODUCT.features, 4)
    top = recommend.Popular.of(snap)
    order = np.random.default_rng(4).permutation(snap.size).tolist()
    saved = recommend.KERNEL_BATCH
    recommend.KERNEL_BATCH = 37
    try:
        together = dict(zip(order, recommend.suggest(snap, model, top, order, k=5), strict=True))
    finally:
        recommend.KERNEL_BATCH = saved
    for user in order[:50]:
        (alone,) = recommend.suggest(snap, model, top, [user], k=5)
        assert alone == together[user]


def test_no_slots_is_refused() -> None:
    snap = _graph(5, 50, subjects=4, context=True)
    model = _model(recommend.PRODUCT.features, 5)
    with pytest.raises(ValueError, match="k must be at least 1"):
        list(recommend.suggest(snap, model, recommend.Popular.of(snap), [0], k=0))
