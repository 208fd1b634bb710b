"""The lexical tier's rule applied to many groups at once: the same clusters as
`leader_clusters(m, lexical_equivalence(...))` group by group, in numpy passes.

Groups with the same number m of distinct forms are stacked, so one batched product gives
every group's m × m similarities, the guards and the threshold become boolean arrays, and
the leader loop (docs/statistics.md §1.2) runs once per position j = 0 … m−1 for all the
stacked groups together instead of once per group.

Why the clusters stay exactly the per-group rule's although the float32 sums may be added in
another order: a float32 dot product of two rows of length D (each of norm 1) is within
γ_D = D·u/(1 − D·u), u = 2⁻²⁴, of the exact value whatever the order of its additions
(Higham, *Accuracy and Stability of Numerical Algorithms*, ch. 3), so the per-group product and
the batched one differ by at most 2γ_D (< 1e-4 for D = 768). A pair whose batched similarity
is farther than that from the threshold falls on the same side in both; a group with any pair
closer than `MARGIN` is clustered by the per-group rule itself (rare: a tie with the
threshold to four decimals).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from tuieval.analysis.variance.lexical import CONTAINMENT_MAX_TOKENS, LexicalFeatures, lexical_equivalence
from tuieval.analysis.variance.partition import leader_clusters

__all__ = ["MARGIN", "GroupGuards", "lexical_clusters_stacked"]

_U = 2.0 ** -24
#: twice γ_D for the feature width, with room to spare (see the module docstring)
MARGIN = 1e-4
STACK_FORMS = 1 << 15  # forms (rows of m) stacked at once: ~100 MB of float32 features at most


class GroupGuards:
    """The guards of `LexicalFeatures` as arrays over its rows, for comparing many pairs at once:
    structured (JSON), negated, the number set as an id (0: no numbers), the token count."""

    def __init__(self, feats: LexicalFeatures) -> None:
        ids: dict[frozenset, int] = {frozenset(): 0}
        self.numbers = np.fromiter((ids.setdefault(s, len(ids)) for s in feats.numbers), dtype=np.int64,
                                   count=len(feats.numbers))
        self.structured = np.asarray(feats.structured, dtype=bool)
        self.negated = np.asarray(feats.negated, dtype=bool)
        self.n_tokens = np.asarray(feats.n_tokens, dtype=np.int64)


def _check_margin(width: int) -> None:
    gamma = width * _U / (1 - width * _U)
    if 2 * gamma >= MARGIN:  # a wider feature space would need a wider margin
        raise AssertionError(f"MARGIN {MARGIN} too small for feature width {width}")


def lexical_clusters_stacked(feats: LexicalFeatures, rows: np.ndarray, threshold: float,
                             guards: GroupGuards | None = None) -> tuple[np.ndarray, int]:
    """Cluster G groups of m forms each: rows[g] are group g's feature rows in sample order.

    Returns (cluster ids, shape (G, m), numbered by first appearance; the number of groups that
    were near the threshold and so clustered by the per-group rule)."""
    rows = np.asarray(rows, dtype=np.int64)
    G, m = rows.shape
    out = np.zeros((G, m), dtype=np.int64)
    if G == 0 or m < 2:
        return out, 0
    _check_margin(feats.matrix.shape[1])
    guards = guards or GroupGuards(feats)
    sims = _pair_similarities(feats, rows)
    per = max(1, STACK_FORMS // m)
    exact = 0
    for lo in range(0, G, per):
        exact += _stacked(feats, guards, rows[lo: lo + per], threshold, out[lo: lo + per], sims[lo: lo + per])
    return out, exact


def _pair_codes(a: np.ndarray, b: np.ndarray, n_rows: int) -> np.ndarray:
    """One integer per unordered pair of feature rows (the similarity and containment are symmetric)."""
    return np.minimum(a, b) * n_rows + np.maximum(a, b)


def _pair_similarities(feats: LexicalFeatures, rows: np.ndarray) -> np.ndarray:
    """(G, P): the similarity of every pair r < j of each group (np.triu_indices order), each
    distinct pair of feature rows computed once (answers repeat across groups: a million
    samples' 541,754 pairs were 137,961 distinct ones). A dot product in any order of its
    additions is within γ_D of the exact value, as the per-group product is (module docstring)."""
    G, m = rows.shape
    iu, ju = np.triu_indices(m, 1)
    R = feats.matrix.shape[0]
    codes = _pair_codes(rows[:, iu], rows[:, ju], R)
    uniq, inv = np.unique(codes, return_inverse=True)
    structure = getattr(feats, "_nonzeros", None)
    if structure is None:  # made once per set of features (the tier asks once per group size)
        structure = feats._nonzeros = nonzero_structure(feats.matrix)
    dots = sparse_pair_dots(feats.matrix, uniq // R, uniq % R, structure)
    return np.clip(dots, 0.0, 1.0)[inv.reshape(codes.shape)]


#: products gathered at once by `sparse_pair_dots` (~100 MB of temporaries at most)
SPARSE_TERMS = 1 << 22


def nonzero_structure(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns of the nonzero entries, row by row; each row's start in them), as CSR holds them."""
    nz_row, nz_col = np.nonzero(matrix)                      # row-major: each row's columns together
    return nz_col, np.searchsorted(nz_row, np.arange(matrix.shape[0] + 1))


def sparse_pair_dots(matrix: np.ndarray, a: np.ndarray, b: np.ndarray,
                     structure: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """float32 dot products of rows a[k] and b[k] of `matrix`, summed over the nonzero columns
    of the sparser of the two rows only (a short answer fills ~20 of the 768 columns): the
    zeros add nothing, and a sum of at most D products in any order is within γ_D of the exact
    value, as a dense product is (module docstring), so the threshold's side is the same."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    out = np.zeros(a.size, dtype=np.float32)
    if a.size == 0:
        return out
    nz_col, indptr = structure if structure is not None else nonzero_structure(matrix)
    nnz = np.diff(indptr)
    swap = nnz[b] < nnz[a]
    a, b = np.where(swap, b, a), np.where(swap, a, b)        # a: the sparser row of each pair
    terms = nnz[a]
    lo = 0
    while lo < a.size:
        # pairs lo … hi−1 hold at most SPARSE_TERMS products (one pair alone may hold more)
        hi = int(np.searchsorted(np.cumsum(terms[lo:]), SPARSE_TERMS, side="right")) + lo
        hi = max(hi, lo + 1)
        t = terms[lo:hi]
        has = np.flatnonzero(t > 0)
        if has.size:
            t_has = t[has]
            pair = np.repeat(has, t_has)
            first = np.r_[0, np.cumsum(t_has)[:-1]]
            offset = np.arange(pair.size) - np.repeat(first, t_has)
            col = nz_col[indptr[a[lo + pair]] + offset]
            prod = matrix[a[lo + pair], col] * matrix[b[lo + pair], col]
            out[lo + has] = np.add.reduceat(prod, first)
        lo = hi
    return out


def _stacked(feats: LexicalFeatures, guards: GroupGuards, rows: np.ndarray, threshold: float,
             out: np.ndarray, pair_sims: np.ndarray) -> int:
    G, m = rows.shape
    iu, ju = np.triu_indices(m, 1)
    S = np.zeros((G, m, m), dtype=np.float32)                 # only pairs (leader r, later j), r < j, are read
    S[:, iu, ju] = pair_sims
    upper = np.triu(np.ones((m, m), dtype=bool), 1)           # pairs (leader r, later j), r < j
    near = ((np.abs(S.astype(np.float64) - threshold) < MARGIN) & upper).any(axis=(1, 2))
    similar = S >= threshold
    num = guards.numbers[rows]
    neg = guards.negated[rows]
    struct = guards.structured[rows]
    ok = ~(struct[:, :, None] | struct[:, None, :])
    ok &= ~((num[:, :, None] > 0) & (num[:, None, :] > 0) & (num[:, :, None] != num[:, None, :]))
    ok &= neg[:, :, None] == neg[:, None, :]
    ok &= upper
    eq = ok & similar
    # containment, only where it can decide: guards pass, not similar, the shorter of ≤ 4 tokens;
    # asked once per distinct pair of forms
    tok = guards.n_tokens[rows]
    shorter = np.minimum(tok[:, :, None], tok[:, None, :])
    ask = ok & ~similar & (shorter > 0) & (shorter <= CONTAINMENT_MAX_TOKENS) & ~near[:, None, None]
    g_at, r_at, j_at = np.nonzero(ask)
    if g_at.size:
        codes = _pair_codes(rows[g_at, r_at], rows[g_at, j_at], feats.matrix.shape[0])
        uniq, inv = np.unique(codes, return_inverse=True)
        R = feats.matrix.shape[0]
        got = np.fromiter((feats.contains(a, b) for a, b in zip((uniq // R).tolist(), (uniq % R).tolist())),
                          dtype=bool, count=uniq.size)
        eq[g_at, r_at, j_at] = got[inv.reshape(-1)]
    # the leader loop for every group at once: item j joins the cluster of the first leader
    # r < j it is equivalent to, else founds the next cluster
    leader = np.zeros((G, m), dtype=bool)
    leader[:, 0] = True
    n_clusters = np.ones(G, dtype=np.int64)
    out[:, 0] = 0
    for j in range(1, m):
        cand = eq[:, :j, j] & leader[:, :j]
        joins = cand.any(axis=1)
        first = cand.argmax(axis=1)
        out[:, j] = np.where(joins, out[np.arange(G), first], n_clusters)
        leader[:, j] = ~joins
        n_clusters += ~joins
    slow = np.flatnonzero(near)
    for g in slow.tolist():
        group_rows = rows[g].tolist()
        out[g] = leader_clusters(m, lexical_equivalence(feats, group_rows, threshold))
    return int(slow.size)


def stack_by_size(starts: np.ndarray, counts: np.ndarray, chunk: Sequence[int]) -> dict[int, np.ndarray]:
    """The groups of `chunk` by their number of forms: m → the groups (indices into starts/counts)."""
    chunk = np.asarray(chunk, dtype=np.int64)
    sizes = counts[chunk]
    return {int(m): chunk[sizes == m] for m in np.unique(sizes).tolist()}
