"""Per-group statistics of a clustering: semantic entropy, consistency, mode and majority
correctness (vectorised over many groups), and template flip rates (docs/statistics.md §1.3, §2)."""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

__all__ = ["EntropyStats", "consistency", "flip", "flip_rates", "group_stats", "semantic_entropy"]


class EntropyStats(NamedTuple):
    """One group's entropy figures, errors (-1 / None) excluded."""

    semantic_entropy: float | None             # SE_d in nats; 0 for N = 1, None for N = 0
    semantic_entropy_normalized: float | None  # SE_d / ln N; None when N < 2 (undefined)
    miller_madow: float | None                 # SE_d + (K_obs − 1)/(2N), small-N bias-corrected
    n_valid: int
    n_clusters: int


def _one_group(ids: Sequence[int | None]) -> dict[str, np.ndarray] | None:
    v = np.asarray([int(i) for i in ids if i is not None and i >= 0], dtype=np.int64)
    if v.size == 0:
        return None
    return group_stats(np.zeros(v.size, dtype=np.int64), v, np.zeros(v.size, dtype=bool), 1)


def _opt(x: float) -> float | None:
    return None if math.isnan(x) else float(x)


def semantic_entropy(ids: Sequence[int | None]) -> EntropyStats:
    """Discrete semantic entropy of one group's cluster ids (§1.3), from `group_stats`."""
    gs = _one_group(ids)
    if gs is None:
        return EntropyStats(None, None, None, 0, 0)
    return EntropyStats(float(gs["semantic_entropy"][0]), _opt(gs["semantic_entropy_normalized"][0]),
                        float(gs["miller_madow"][0]), int(gs["n_valid"][0]), int(gs["n_clusters"][0]))


def consistency(ids: Sequence[int | None]) -> float | None:
    """Share of valid samples in the modal cluster, n_mode / N (§2); None with no valid sample."""
    gs = _one_group(ids)
    return None if gs is None else float(gs["consistency"][0])


def flip(mu: set, mv: set) -> float:
    """Probability that random tie-breaks of two variants' mode sets disagree (§2)."""
    if not mu or not mv:
        return math.nan
    return 1.0 - len(mu & mv) / (len(mu) * len(mv))


def flip_rates(mode_sets: Sequence[set]) -> dict:
    """Anchored (against variant 0) and pairwise flip rate of one item's variants (§2)."""
    R = len(mode_sets)
    if R < 2:
        return {"anchored": None, "pairwise": None}
    anchored = [flip(mode_sets[0], mode_sets[r]) for r in range(1, R)]
    pair = [flip(mode_sets[a], mode_sets[b]) for a in range(R) for b in range(a + 1, R)]
    anchored = [x for x in anchored if not math.isnan(x)]
    pair = [x for x in pair if not math.isnan(x)]
    return {"anchored": (sum(anchored) / len(anchored)) if anchored else None,
            "pairwise": (sum(pair) / len(pair)) if pair else None}


def group_stats(groups: np.ndarray, ids: np.ndarray, correct: np.ndarray, n_groups: int) -> dict[str, np.ndarray]:
    """Vectorised per-group statistics for many groups at once.

    Inputs are aligned per answer: group index, cluster id (-1 = excluded) and
    correctness; answers must be in sample order within each group (cluster ids
    numbered by first appearance, so "lowest id" = "appears first" for ties).
    Returns arrays of length n_groups: n_valid, n_clusters, semantic_entropy,
    semantic_entropy_normalized (NaN if N < 2),
    miller_madow, consistency (NaN if N = 0), mode, n_tied, is_tied, majority_correct,
    and per (group, cluster) `counts`, `rep` (answer index of the first member, -1 if none).
    """
    groups = np.asarray(groups, dtype=np.int64)
    ids = np.asarray(ids, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    G = int(n_groups)
    valid = np.flatnonzero(ids >= 0)
    C = int(ids[valid].max()) + 1 if valid.size else 1
    key = groups[valid] * C + ids[valid]
    counts = np.bincount(key, minlength=G * C).reshape(G, C)
    rep = np.full(G * C, -1, dtype=np.int64)
    uk, first = np.unique(key, return_index=True)
    rep[uk] = valid[first]
    rep = rep.reshape(G, C)
    n_valid = counts.sum(axis=1)
    n_clusters = (counts > 0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = counts / n_valid[:, None]
        plogp = np.where(counts > 0, p * np.log(np.where(counts > 0, p, 1.0)), 0.0)
        se = np.where(n_valid > 0, -plogp.sum(axis=1) + 0.0, np.nan)
        h_norm = np.where(n_valid >= 2, se / np.log(np.maximum(n_valid, 2)), np.nan)
        mm = se + (n_clusters - 1) / (2.0 * n_valid)
        top = counts.max(axis=1)
        cons = np.where(n_valid > 0, top / n_valid, np.nan)
    mode = counts.argmax(axis=1)  # first maximum = lowest id = first to appear
    n_tied = np.where(n_valid > 0, (counts == top[:, None]).sum(axis=1), 0)
    mode_rep = rep[np.arange(G), mode]
    maj = np.where(n_valid > 0, correct[np.maximum(mode_rep, 0)] if correct.size else False, False)
    return {"n_valid": n_valid, "n_clusters": n_clusters, "semantic_entropy": se,
            "semantic_entropy_normalized": h_norm, "miller_madow": mm,
            "consistency": cons, "mode": np.where(n_valid > 0, mode, -1), "n_tied": n_tied,
            "is_tied": n_tied > 1, "majority_correct": maj.astype(bool), "counts": counts, "rep": rep}

