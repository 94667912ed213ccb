"""The inner loop of people you may know, compiled with numba.

Scoring a user walks every path of two friendships from it: at a million users with 50
friends on average that is about 20,000 paths and 10,000 distinct candidates per user, each
with a dozen features. As array operations per user (``recommend.pool``) that cost 6 ms a
user (165 users/s, 101 minutes for 1M); as whole-block sparse products it cost as much, in
passes over arrays of tens of millions of pairs. Compiled, each path is one add into a
per-candidate accumulator and each candidate is scored once and offered to a k-sized
leaderboard, with nothing allocated per user.

It computes exactly ``recommend.pool``'s candidates and features and ``Model.scores``'s score
(tests/unit/test_recommend_kernel.py holds them to each other on random graphs). Every
feature is always computed; a model without a feature gives it weight 0.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

# The features of a pair, in the kernel's order (the module docstring of graph_jobs.recommend
# says what each is); the product graph adds the context features.
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
KERNEL_FEATURES = FEATURES + CONTEXT_FEATURES
MUTUAL_SHOWN = 5
# The columns of the kernel's accumulator (one row per node, see score_users).
CN, RA, AA, SEEN, BANNED, SUBJECTS, DEGREE, COMMUNITY = 0, 1, 2, 3, 4, 5, 6, 7
MASK_SUBJECTS = 52  # up to this many subjects, a node's set is a bit mask held exactly in a float


@njit(cache=True, nogil=True)
def _shared(ptr, items, a, b):  # type: ignore[no-untyped-def]
    """Entities two users share: a merge of their sorted entity lists."""
    i, i_end = ptr[a], ptr[a + 1]
    if i == i_end:  # most users are in no room or group: b's row is never read
        return 0
    j, j_end = ptr[b], ptr[b + 1]
    count = 0
    while i < i_end and j < j_end:
        x, y = items[i], items[j]
        if x == y:
            count += 1
            i += 1
            j += 1
        elif x < y:
            i += 1
        else:
            j += 1
    return count


@njit(cache=True, nogil=True)
def _offer(acc, touched, m, v, i):  # type: ignore[no-untyped-def]
    """Add v to user i's candidates (``touched``, m so far) unless banned or already there."""
    if acc[v, BANNED] != i and acc[v, SEEN] != i:
        acc[v, SEEN] = i
        touched[m] = v
        m += 1
    return m


@njit(cache=True, nogil=True)
def _popcount(bits):  # type: ignore[no-untyped-def]
    count = 0
    while bits:
        bits &= bits - 1
        count += 1
    return count


def scratch(
    parts: int,
    n: int,
    degree: np.ndarray,
    community: np.ndarray,
    subject_user_ptr: np.ndarray,
    subject_user_items: np.ndarray,
    masks: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Each thread's accumulator, built once per run (see ``_fill``), and its friend marks."""
    acc = np.zeros((parts, n, 8))
    for t in range(parts):
        _fill(
            acc[t],
            degree,
            community,
            subject_user_ptr,
            subject_user_items,
            masks,
        )
    friend = np.full((parts, n), -1, np.int64)
    return acc, friend


@njit(cache=True, nogil=True)
def _fill(acc, degree, community, subject_user_ptr, subject_user_items, masks):  # type: ignore[no-untyped-def]
    """One 64-byte row per node, so that a path or a candidate costs one cache miss, not
    seven: the common friends, resource allocation and Adamic-Adar sums, two marks (== the
    user's stamp) seen (a candidate already) and banned (the user, a friend, blocked either
    way), and the node's subjects (a bit mask), degree and community (all exact as floats
    below 2**53)."""
    for v in range(len(degree)):
        acc[v, SEEN] = -1.0
        acc[v, BANNED] = -1.0
        acc[v, DEGREE] = degree[v]
        acc[v, COMMUNITY] = community[v]
        bits = 0
        if masks:
            for p in range(subject_user_ptr[v], subject_user_ptr[v + 1]):
                bits |= 1 << subject_user_items[p]
        acc[v, SUBJECTS] = bits


@njit(cache=True, nogil=True)
def tables(top_degree, floor):  # type: ignore[no-untyped-def]
    """The logarithms of a candidate with one common friend z depend on deg(z) only, and those
    of counts and degrees on an integer: tables, looked up by exact integers."""
    log_count = np.empty(top_degree + 2)  # log1p(c)
    log_ra_one = np.empty(top_degree + 2)  # log(1/d + floor)
    log_aa_one = np.empty(top_degree + 2)  # log(1/log(d) + floor); d = 1 adds nothing
    for d in range(top_degree + 2):
        log_count[d] = math.log1p(d)
        log_ra_one[d] = math.log(1.0 / d + floor) if d > 0 else 0.0
        log_aa_one[d] = math.log(1.0 / math.log(d) + floor) if d > 1 else math.log(floor)
    return log_count, log_ra_one, log_aa_one


@njit(cache=True, parallel=True, nogil=True)
def score_users(users, base, graph, context, model, out, scratch_acc, scratch_friend):  # type: ignore[no-untyped-def]
    """Rank the candidates of each of ``users`` (indices) and write the ``k`` best of user i
    to rows i*k .. i*k+k-1 of the ``out`` arrays, best first (equal scores: smaller id first),
    one contiguous share of the users per thread (``scratch_acc`` holds one accumulator per
    thread). ``base`` + i is user i's stamp in the accumulator: unique over a run.

    graph: indptr, indices, degree, community, ids, blocked_ptr, blocked_idx.
    context: overall, popular_keys, popular_ptr, popular_idx, then rooms and groups (user_ptr,
    user_items, item_ptr, item_users each), subjects (user_ptr, user_items, masks: whether
    ``scratch`` put them in bit masks).
    model: order, weights, mean, scale, floor, co_members, k, and the three ``tables``.
    ``order`` gives, for each of the model's features in its order, its position in
    ``KERNEL_FEATURES``: the score adds the terms in the model's order, as ``Model.scores``.
    out: cand, score, cn, shared (rooms, groups, subjects), same, mutual (up to five common
    friends, indices, -1 padded), count (suggestions per user).
    """
    parts = scratch_acc.shape[0]
    for t in prange(parts):
        lo = t * len(users) // parts
        hi = (t + 1) * len(users) // parts
        _score_range(
            users, lo, hi, base, graph, context, model, out, scratch_acc[t], scratch_friend[t]
        )


@njit(cache=True, nogil=True)
def _score_range(users, lo, hi, base, graph, context, model, out, acc, friend):  # type: ignore[no-untyped-def]  # noqa: PLR0912, PLR0915
    indptr, indices, degree, community, ids, blocked_ptr, blocked_idx = graph
    (
        overall, popular_keys, popular_ptr, popular_idx,
        room_user_ptr, room_user_items, room_item_ptr, room_item_users,
        group_user_ptr, group_user_items, group_item_ptr, group_item_users,
        subject_user_ptr, subject_user_items, masks,
    ) = context  # fmt: skip
    order, weights, mean, scale, floor, co_members, k, log_count, log_ra_one, log_aa_one = model
    out_cand, out_score, out_cn, out_shared, out_same, out_mutual, out_count = out
    touched = np.empty(len(indptr) - 1, np.int64)
    x = np.zeros(len(KERNEL_FEATURES))
    top_cand = np.empty(k, np.int64)
    top_score = np.empty(k)
    for j_user in range(lo, hi):
        u = users[j_user]
        i = base + j_user  # the stamp
        acc[u, BANNED] = i
        for p in range(indptr[u], indptr[u + 1]):
            acc[indices[p], BANNED] = i
            friend[indices[p]] = i
        for p in range(blocked_ptr[u], blocked_ptr[u + 1]):
            acc[blocked_idx[p], BANNED] = i
        m = 0
        # Two hops: each friend z adds 1, 1/deg(z) and 1/log(deg(z)) to each of its friends.
        for p in range(indptr[u], indptr[u + 1]):
            z = indices[p]
            dz = float(degree[z])
            w_ra = 1.0 / dz
            w_aa = 1.0 / math.log(dz) if dz > 1.0 else 0.0  # deg 1: z reaches only u
            for q in range(indptr[z], indptr[z + 1]):
                v = indices[q]
                if acc[v, BANNED] == i:
                    continue
                if acc[v, SEEN] != i:
                    acc[v, SEEN] = i
                    acc[v, CN] = 0.0
                    acc[v, RA] = 0.0
                    acc[v, AA] = 0.0
                    touched[m] = v
                    m += 1
                acc[v, CN] += 1.0
                acc[v, RA] += w_ra
                acc[v, AA] += w_aa
        # The candidates no path reaches: the most befriended overall and in u's community,
        # and the first co_members members of each of u's rooms and groups.
        fof = m
        for p in range(len(overall)):
            m = _offer(acc, touched, m, overall[p], i)
        own = community[u]
        if own >= 0 and len(popular_keys) > 0:
            at = np.searchsorted(popular_keys, own)
            if at < len(popular_keys) and popular_keys[at] == own:
                for p in range(popular_ptr[at], popular_ptr[at + 1]):
                    m = _offer(acc, touched, m, popular_idx[p], i)
        for which in range(2):
            user_ptr = room_user_ptr if which == 0 else group_user_ptr
            user_items = room_user_items if which == 0 else group_user_items
            item_ptr = room_item_ptr if which == 0 else group_item_ptr
            item_users = room_item_users if which == 0 else group_item_users
            for p in range(user_ptr[u], user_ptr[u + 1]):
                item = user_items[p]
                end = min(item_ptr[item + 1], item_ptr[item] + co_members)
                for q in range(item_ptr[item], end):
                    m = _offer(acc, touched, m, item_users[q], i)
        for j in range(fof, m):
            acc[touched[j], CN] = 0.0
            acc[touched[j], RA] = 0.0
            acc[touched[j], AA] = 0.0
        # Score every candidate; keep the k best in top_*, sorted best first.
        du = float(degree[u])
        own_log = math.log1p(du)
        filled = 0
        for j in range(m):
            v = touched[j]
            dv = acc[v, DEGREE]
            same = 1.0 if (own >= 0 and acc[v, COMMUNITY] == own) else 0.0
            common = acc[v, CN]
            if common == 1.0:  # ra = 1/d(z) exactly, aa = 1/log(d(z)): d(z) is 1/ra
                via = int(1.0 / acc[v, RA] + 0.5)
                x[0] = log_ra_one[via]
                x[1] = log_aa_one[via]
            else:
                x[0] = math.log(acc[v, RA] + floor)
                x[1] = math.log(acc[v, AA] + floor)
            x[2] = log_count[int(common)]
            x[3] = common / math.sqrt(max(du, 1.0) * max(dv, 1.0))
            x[4] = log_count[int(dv)]
            x[5] = same
            x[6] = x[4] / (1.0 + own_log)
            x[7] = x[0] * own_log
            x[8] = same * own_log
            x[9] = float(_shared(room_user_ptr, room_user_items, u, v))
            x[10] = float(_shared(group_user_ptr, group_user_items, u, v))
            if masks:
                x[11] = float(_popcount(int(acc[u, SUBJECTS]) & int(acc[v, SUBJECTS])))
            else:
                x[11] = float(_shared(subject_user_ptr, subject_user_items, u, v))
            s = 0.0
            for f in range(len(order)):
                c = order[f]
                term = (x[c] - mean[f]) / scale[f] * weights[f]
                s = term if f == 0 else s + term
            if filled == k:
                worst = top_score[k - 1]
                if s < worst or (s == worst and ids[v] > ids[top_cand[k - 1]]):
                    continue
                slot = k - 1
            else:
                slot = filled
                filled += 1
            while slot > 0 and (
                top_score[slot - 1] < s
                or (top_score[slot - 1] == s and ids[top_cand[slot - 1]] > ids[v])
            ):
                top_score[slot] = top_score[slot - 1]
                top_cand[slot] = top_cand[slot - 1]
                slot -= 1
            top_score[slot] = s
            top_cand[slot] = v
        out_count[j_user] = filled
        for r in range(filled):
            v = top_cand[r]
            row = j_user * k + r
            out_cand[row] = v
            out_score[row] = top_score[r]
            out_cn[row] = acc[v, CN]
            out_same[row] = own >= 0 and community[v] == own
            out_shared[row, 0] = _shared(room_user_ptr, room_user_items, u, v)
            out_shared[row, 1] = _shared(group_user_ptr, group_user_items, u, v)
            out_shared[row, 2] = _shared(subject_user_ptr, subject_user_items, u, v)
            shown = 0
            for q in range(indptr[v], indptr[v + 1]):
                if shown == MUTUAL_SHOWN:
                    break
                if friend[indices[q]] == i:
                    out_mutual[row, shown] = indices[q]
                    shown += 1
            for q in range(shown, MUTUAL_SHOWN):
                out_mutual[row, q] = -1
