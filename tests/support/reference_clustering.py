"""Reference implementations that check the real clustering (`cluster_groups`, `group_stats`).

Each clusters ONE group the direct way — collapse canonical duplicates, then the docs/statistics.md
§1.2 leader loop or agglomerative clustering over the distinct forms — with none of the
batch path's vectorised bookkeeping (chunks, form ranks, shared caches across groups).
Tests assert that the batch path gives exactly these partitions; the scalar mode and
majority functions do the same for `group_stats`.  Test-only: the product has one
implementation per tier, in tuieval.analysis.variance.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np

from tuieval.analysis.variance import (DEFAULT_EMBEDDING_THRESHOLD, DEFAULT_LEXICAL_THRESHOLD, DEFAULT_LINKAGE,
                                       ClusterResult, EntailmentOracle, LexicalFeatures, canonical_answer,
                                       cluster_by_similarity, embed_rows, l2_normalize)


def _renumber(ids: list[int]) -> list[int]:
    seen: dict[int, int] = {}
    return [-1 if c < 0 else seen.setdefault(c, len(seen)) for c in ids]


def _collapse(answers: Sequence[str | None]) -> tuple[list[str], list[int], list[int]]:
    """(unique canonical forms in order, position of each unique's first answer, unique index per answer or -1)."""
    table: dict[str, int] = {}
    uniques: list[str] = []
    first: list[int] = []
    local: list[int] = []
    for pos, a in enumerate(answers):
        c = canonical_answer(a)
        if c is None:
            local.append(-1)
            continue
        if c not in table:
            table[c] = len(uniques)
            uniques.append(c)
            first.append(pos)
        local.append(table[c])
    return uniques, first, local


def _leader(n: int, equivalent: Callable[[int, int], bool]) -> list[int]:
    reps: list[int] = []
    assign = []
    for j in range(n):
        for ci, r in enumerate(reps):
            if equivalent(r, j):
                assign.append(ci)
                break
        else:
            assign.append(len(reps))
            reps.append(j)
    return assign


def _expand(assign: list[int], local: list[int]) -> list[int]:
    return _renumber([-1 if u < 0 else assign[u] for u in local])


def cluster_canonical(answers: Sequence[str | None]) -> list[int]:
    return _collapse(answers)[2]


def lexical_similarity(answers: Sequence[str]) -> np.ndarray:
    """The tier-2 similarity matrix (without guards) of raw answers, N × N in [0, 1]."""
    return LexicalFeatures([canonical_answer(a) or "" for a in answers]).similarity()


def cluster_lexical(answers: Sequence[str | None], threshold: float = DEFAULT_LEXICAL_THRESHOLD) -> list[int]:
    uniques, _, local = _collapse(answers)
    if len(uniques) <= 1:
        return local
    feats = LexicalFeatures(uniques)
    S = feats.similarity()

    def eq(a: int, b: int) -> bool:
        if not feats.guard_ok(a, b):
            return False
        return bool(S[a, b] >= threshold) or feats.contains(a, b)

    return _expand(_leader(len(uniques), eq), local)


def cosine_similarity_matrix(E: np.ndarray) -> np.ndarray:
    En = l2_normalize(np.asarray(E, dtype=np.float64))
    return np.clip(En @ En.T, -1.0, 1.0)


def cluster_embeddings(answers: Sequence[str | None], embed, threshold: float = DEFAULT_EMBEDDING_THRESHOLD,
                       linkage: str = DEFAULT_LINKAGE) -> ClusterResult:
    uniques, first, local = _collapse(answers)
    if len(uniques) <= 1:
        return ClusterResult.from_ids(local, "embeddings")
    E = embed_rows(embed, [str(answers[p]) for p in first]).astype(np.float64)
    return ClusterResult.from_ids(_expand(cluster_by_similarity(E @ E.T, threshold, linkage), local), "embeddings")


def cluster_entailment(question: str, answers: Sequence[str | None], judge, rule: str = "strict",
                       oracle: EntailmentOracle | None = None) -> ClusterResult:
    oracle = oracle or EntailmentOracle(judge, question, rule)
    uniques, first, local = _collapse(answers)
    texts = [str(answers[p]) for p in first]
    assign = _leader(len(uniques), lambda r, j: oracle.equivalent(texts[r], texts[j]))
    return ClusterResult.from_ids(_expand(assign, local), "entailment", stats={"rule": oracle.rule,
                                                                               **oracle.counters()})


def cluster_hybrid(answers: Sequence[str | None], S: np.ndarray, tau_low: float, tau_high: float, judge,
                   question: str = "", rule: str = "strict") -> ClusterResult:
    """S is N × N over `answers`; below τ_low different, every other pair judged."""
    S = np.asarray(S, dtype=float)
    oracle = EntailmentOracle(judge, question, rule)
    uniques, first, local = _collapse(answers)
    texts = [str(answers[p]) for p in first]
    counts = {"exact": sum(1 for u in local if u >= 0) - len(uniques), "below_low": 0, "band": 0, "above_high": 0}

    def eq(r: int, j: int) -> bool:
        s = S[first[r], first[j]]
        if s < tau_low:
            counts["below_low"] += 1
            return False
        counts["above_high" if s >= tau_high else "band"] += 1
        return oracle.equivalent(texts[r], texts[j])

    assign = _leader(len(uniques), eq)
    return ClusterResult.from_ids(_expand(assign, local), "hybrid", stats={"bands": counts, **oracle.counters()})


class Mode(NamedTuple):
    mode: int | None
    is_tied: bool
    tied: list[int]
    count: int


def modal_cluster(ids: Sequence[int | None]) -> Mode:
    """Modal cluster with lm-eval's tie rule: the first cluster to appear wins (§2)."""
    counts: dict[int, int] = {}
    for i in ids:  # dict keeps first-appearance order
        if i is not None and i >= 0:
            counts[int(i)] = counts.get(int(i), 0) + 1
    if not counts:
        return Mode(None, False, [], 0)
    top = max(counts.values())
    tied = [c for c, k in counts.items() if k == top]
    return Mode(tied[0], len(tied) > 1, tied, top)


def majority_correct(ids: Sequence[int | None], correct: Sequence[bool]) -> bool:
    """Correctness of the modal cluster's first member; no valid sample → False."""
    mode = modal_cluster(ids).mode
    if mode is None:
        return False
    for i, c in zip(ids, correct):
        if i == mode:
            return bool(c)
    return False


def adjusted_rand_index(labels_true: Sequence[int], labels_pred: Sequence[int]) -> float:
    """Hubert–Arabie adjusted Rand index (1 = identical partitions, ≈ 0 = chance); trivial
    partitions agreeing give 1.0, as in scikit-learn.  Scores the tiers on labelled groups."""
    a = np.asarray(labels_true)
    b = np.asarray(labels_pred)
    if a.shape != b.shape:
        raise ValueError("label arrays differ in length")
    n = a.size
    if n < 2:
        return 1.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    table = np.zeros((ai.max() + 1, bi.max() + 1), dtype=np.int64)
    np.add.at(table, (ai.reshape(-1), bi.reshape(-1)), 1)

    def comb2(x):
        x = np.asarray(x, dtype=float)
        return (x * (x - 1.0) / 2.0).sum()

    index = comb2(table)
    sa, sb = comb2(table.sum(axis=1)), comb2(table.sum(axis=0))
    expected = sa * sb / (n * (n - 1) / 2.0)
    maximum = (sa + sb) / 2.0
    if maximum == expected:
        return 1.0
    return float((index - expected) / (maximum - expected))
