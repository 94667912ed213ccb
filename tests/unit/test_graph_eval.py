"""The evaluation's pure parts: edge files, the split, NMI and ARI, the baselines and the fit."""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pytest

from graph_jobs.communities import planted_partition_gamma
from graph_jobs.evaluate import (
    EdgeFileError,
    _baselines,
    _metrics,
    ari,
    index_nodes,
    nmi,
    read_edges,
    read_labels,
    split,
)
from graph_jobs.recommend import (
    FLOOR,
    GraphRef,
    Memberships,
    Model,
    Popular,
    Snapshot,
    fit,
    pool,
    suggest,
)


def test_edge_files_take_spaces_commas_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "g.edges"
    path.write_text("# a comment\n% another\n1 2\n2,3\n3\t1\n2 1\n4 4\n\n", encoding="utf-8")
    # 2-1 repeats 1-2 and 4-4 is a self-loop: both dropped.
    assert read_edges(path) == [("1", "2"), ("2", "3"), ("1", "3")]


def test_a_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "g.edges"
    path.write_text("1 2\nlonely\n", encoding="utf-8")
    with pytest.raises(EdgeFileError, match=r"g\.edges:2: expected two node ids"):
        read_edges(path)
    empty = tmp_path / "empty.edges"
    empty.write_text("# nothing\n", encoding="utf-8")
    with pytest.raises(EdgeFileError, match="no edges"):
        read_edges(empty)
    labels = tmp_path / "g.labels"
    labels.write_text("1 a\n2\n", encoding="utf-8")
    with pytest.raises(EdgeFileError, match=r"g\.labels:2"):
        read_labels(labels)


def test_the_split_is_seeded_disjoint_and_sized() -> None:
    _, pairs = index_nodes([(str(i), str(i + 1)) for i in range(100)])
    train, test = split(pairs, 0.1, seed=7)
    assert len(test) == 10
    assert len(train) == 90
    assert not set(train) & set(test)
    assert split(pairs, 0.1, seed=7) == (train, test)
    assert split(pairs, 0.1, seed=8) != (train, test)
    with pytest.raises(ValueError, match="between 0 and 1"):
        split(pairs, 1.5, seed=7)


def test_nmi_and_ari_against_worked_values() -> None:
    same = [0, 0, 1, 1, 2, 2]
    assert nmi(same, same) == pytest.approx(1.0)
    assert nmi(same, [5, 5, 3, 3, 9, 9]) == pytest.approx(1.0)  # names do not matter
    assert ari(same, [5, 5, 3, 3, 9, 9]) == pytest.approx(1.0)
    # b refines a: I(a;b) = H(a) = ln 2, H(b) = 1.5 ln 2, so NMI = 2 ln2 / 2.5 ln2 = 0.8.
    assert nmi([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(0.8)
    # ARI: index 1, expected 1 * 2 / 6, max 1.5 -> (1 - 1/3) / (1.5 - 1/3) = 4/7.
    assert ari([0, 0, 1, 1], [0, 0, 1, 2]) == pytest.approx(4 / 7)
    # Independent partitions: nothing shared.
    assert nmi([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(0.0, abs=1e-12)
    assert ari([0, 0, 1, 1], [0, 1, 0, 1]) < 0


def test_the_baselines_by_hand() -> None:
    # 0 - 1, 0 - 2, 1 - 3, 2 - 3, 2 - 4: user 0 reaches 3 through 1 and 2, and 4 through 2.
    adjacency = {0: {1, 2}, 1: {0, 3}, 2: {0, 3, 4}, 3: {1, 2}, 4: {2}}
    cn, aa, ra = _baselines(adjacency, 0)
    assert dict(cn) == {3: 2, 4: 1}
    assert ra[3] == pytest.approx(1 / 2 + 1 / 3)
    assert ra[4] == pytest.approx(1 / 3)
    assert aa[3] == pytest.approx(1 / math.log(2) + 1 / math.log(3))


def test_the_fit_learns_what_predicts_the_left_out_friend() -> None:
    features = GraphRef().features
    column = {f: i for i, f in enumerate(features)}
    groups = []
    for _ in range(200):
        # The friend shares a community and has a middling ra; decoys have a higher ra.
        x = np.zeros((21, len(features)))
        x[0, column["ra"]], x[0, column["same_community"]] = 1.0, 1.0
        x[1:, column["ra"]] = 2.0 + np.arange(20) / 10
        groups.append((x, 0))
    model = fit(groups, features)
    assert model.fitted_on == 200
    weights = dict(zip(model.features, model.weights, strict=True))
    assert weights["same_community"] > 0
    x, _ = groups[0]
    assert int(model.scores(x).argmax()) == 0  # the friend ranks first
    # Resource allocation alone ranks it last: the fit moved away from where it started.
    assert int(Model.resource_allocation(features).scores(x).argmin()) == 0


def test_no_usable_group_falls_back_to_resource_allocation() -> None:
    features = GraphRef().features
    model = fit([], features)
    assert model.fitted_on == 0
    assert dict(zip(model.features, model.weights, strict=True))["ra"] == 1.0


def _random_graph(n: int, m: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    draws = ((rng.randrange(n), rng.randrange(n)) for _ in range(m))
    return sorted({(min(a, b), max(a, b)) for a, b in draws if a != b})


def test_the_array_features_are_the_textbook_scores() -> None:
    ids = [1000 + i for i in range(80)]  # user ids are not indices
    edges = _random_graph(80, 320, seed=11)
    snap = Snapshot.from_edges(ids, [(ids[a], ids[b]) for a, b in edges])
    adjacency: dict[int, set[int]] = {i: set() for i in range(80)}
    for a, b in edges:
        adjacency[a].add(b)
        adjacency[b].add(a)
    features = GraphRef().features
    column = {f: i for i, f in enumerate(features)}
    top = Popular.of(snap)
    for user in range(80):
        found = pool(snap, top, user, features)
        cn, aa, ra = _baselines(adjacency, user)
        reached = {int(c): row for row, c in enumerate(found.candidates) if found.mutual[row] > 0}
        assert set(reached) == set(cn), user
        for cand, row in reached.items():
            assert found.mutual[row] == cn[cand]
            assert found.x[row, column["ra"]] == pytest.approx(math.log(ra[cand] + FLOOR))
            assert found.x[row, column["aa"]] == pytest.approx(math.log(aa[cand] + FLOOR))
        # Never a friend, never the user; the popular ones fill in without common friends.
        assert not set(found.candidates.tolist()) & (adjacency[user] | {user})
        assert set(top.overall.tolist()) - adjacency[user] - {user} <= set(
            found.candidates.tolist()
        )


def test_left_out_friendships_leave_both_ends() -> None:
    snap = Snapshot.from_edges([10, 11, 12, 13], [(10, 11), (11, 12), (10, 12), (12, 13)])
    left = snap.without([(0, 1)])
    assert left.friends(0).tolist() == [2]
    assert left.friends(1).tolist() == [2]
    assert left.friends(2).tolist() == [0, 1, 3]
    assert snap.friends(0).tolist() == [1, 2]  # the original is untouched
    # Left out, 11 is a candidate of 10 again, through 12.
    found = pool(left, Popular.of(left), 0, GraphRef().features)
    assert 1 in found.candidates.tolist()


def test_blocks_hide_and_shared_memberships_count() -> None:
    # 0 and 2 share friend 1; 3 is a friend of 1 too but blocked by 0.
    snap = Snapshot.from_edges([0, 1, 2, 3, 4], [(0, 1), (1, 2), (1, 3)])
    snap.blocked = {0: {3}, 3: {0}}
    # Rooms: 0, 2 and 4 sit in room 0; groups: 0 and 2 in group 0 and group 1.
    snap.rooms = Memberships.build(np.array([0, 2, 4]), np.array([0, 0, 0]), 5)
    snap.groups = Memberships.build(np.array([0, 2, 0, 2]), np.array([0, 0, 1, 1]), 5)
    snap.subjects = Memberships.build(np.array([0, 4]), np.array([0, 0]), 5)
    features = GraphRef(context=True).features
    column = {f: i for i, f in enumerate(features)}
    found = pool(snap, Popular.of(snap), 0, features)
    rows = {int(c): r for r, c in enumerate(found.candidates)}
    assert 3 not in rows  # blocked
    assert 4 in rows  # no friend in common, but a room: a candidate from the room
    assert found.x[rows[2], column["shared_rooms"]] == 1
    assert found.x[rows[2], column["shared_groups"]] == 2
    assert found.x[rows[4], column["shared_subjects"]] == 1
    assert found.x[rows[4], column["shared_groups"]] == 0
    model = Model.resource_allocation(features)
    (ranked,) = suggest(snap, model, Popular.of(snap), [0], k=5)
    first = ranked[0]
    assert first.candidate_id == 2
    assert first.mutual_ids == [1]
    assert first.shared_groups == 2
    assert 3 not in {s.candidate_id for s in ranked}


def test_graph_names_are_identifiers_only() -> None:
    with pytest.raises(ValueError, match="not a label"):
        GraphRef(label="User) DETACH DELETE (n")


def test_precision_recall_and_mrr_of_one_ranking() -> None:
    order = np.array([5, 3, 9, 1, 7])
    assert _metrics(order, {9, 1}, 2) == pytest.approx((0.0, 0.0, 1 / 3))
    assert _metrics(order, {9, 1}, 4) == pytest.approx((0.5, 1.0, 1 / 3))
    assert _metrics(order, {5}, 1) == (1.0, 1.0, 1.0)
    assert _metrics(order, {42}, 3) == (0.0, 0.0, 0.0)  # never ranked: no reciprocal rank


def test_the_planted_partition_resolution() -> None:
    # Two communities of degree sum 100 each, 80 of 100 edges inside: omega_in = 160 / 100,
    # omega_out = 40 / 100, so gamma = (1.6 - 0.4) / ln 4.
    assert planted_partition_gamma(80, 100, 2 * 100**2) == pytest.approx(1.2 / math.log(4))
    # Ten small communities (degree sums of 20) with the same share inside: gamma above 1,
    # where modularity's fixed gamma of 1 would merge them.
    many = planted_partition_gamma(80, 100, 10 * 20**2)
    assert many == pytest.approx((8 - 40 / 180) / math.log(8 * 180 / 40))
    assert many is not None
    assert many > 2
    # Nothing to measure: everything inside, nothing inside, or one community.
    assert planted_partition_gamma(100, 100, 20000) is None
    assert planted_partition_gamma(0, 100, 20000) is None
    assert planted_partition_gamma(50, 100, 200**2) is None
