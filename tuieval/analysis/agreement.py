"""Agreement between raters (judges, humans): Cohen's κ, Fleiss' κ, Krippendorff's α, confusion matrices.

Pure functions over category labels (any hashable; None is a missing rating). Each returns
None when the statistic is undefined (no items, or chance agreement of 1 — every rating in
one category), never a confident number from nothing.

* Cohen's κ (two raters, same items): κ = (p_o − p_e) / (1 − p_e), p_o the share of items
  they agree on, p_e = Σ_k p_a(k)·p_b(k) from each rater's own marginals.
* Fleiss' κ (m raters per item, the same m for every item): P_i = (Σ_j n_ij² − m) / (m(m − 1)),
  P̄ their mean, P̄_e = Σ_j p_j² with p_j the share of all ratings in category j;
  κ = (P̄ − P̄_e) / (1 − P̄_e).
* Krippendorff's α (nominal, missing ratings allowed): from the coincidence matrix
  o_ck = Σ_u (number of c–k pairs of ratings in unit u) / (m_u − 1) over units with m_u ≥ 2
  ratings, n_c its marginals and n = Σ n_c: α = 1 − (n − 1) · Σ_{c≠k} o_ck / Σ_{c≠k} n_c·n_k.

Checked against statsmodels' `cohens_kappa` / `fleiss_kappa` and the `krippendorff` package
(golden vectors in the tests).
"""

from __future__ import annotations

from collections import Counter
from typing import Hashable, Sequence

Label = Hashable


def _categories(*columns: Sequence[Label | None]) -> list[Label]:
    seen: dict[Label, None] = {}
    for col in columns:
        for v in col:
            if v is not None:
                seen.setdefault(v, None)
    try:
        return sorted(seen)  # type: ignore[type-var]
    except TypeError:
        return list(seen)


def confusion_matrix(truth: Sequence[Label | None], predicted: Sequence[Label | None],
                     labels: Sequence[Label] | None = None) -> dict:
    """{"labels": [...], "matrix": rows = truth, columns = predicted, "n": pairs counted}.

    Pairs with a missing side are left out."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predicted must have the same length")
    pairs = [(t, p) for t, p in zip(truth, predicted) if t is not None and p is not None]
    labels = list(labels) if labels is not None else _categories([t for t, _ in pairs], [p for _, p in pairs])
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in pairs:
        if t in index and p in index:
            matrix[index[t]][index[p]] += 1
    return {"labels": labels, "matrix": matrix, "n": sum(map(sum, matrix))}


def cohen_kappa(a: Sequence[Label | None], b: Sequence[Label | None]) -> float | None:
    """Cohen's κ of two raters over the items both rated; None when undefined."""
    if len(a) != len(b):
        raise ValueError("both raters must rate the same items")
    pairs = [(x, y) for x, y in zip(a, b) if x is not None and y is not None]
    n = len(pairs)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in pairs) / n
    ca, cb = Counter(x for x, _ in pairs), Counter(y for _, y in pairs)
    p_e = sum(ca[k] * cb[k] for k in ca) / (n * n)
    if p_e >= 1.0:
        return None
    return (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa(ratings: Sequence[Sequence[Label]]) -> float | None:
    """Fleiss' κ of items × raters (every item rated by the same number m ≥ 2 of raters)."""
    rows = [list(r) for r in ratings]
    if not rows:
        return None
    m = len(rows[0])
    if m < 2 or any(len(r) != m for r in rows) or any(v is None for r in rows for v in r):
        raise ValueError("Fleiss' kappa needs the same number (at least 2) of ratings for every item, none missing")
    cats = _categories(*rows)
    N = len(rows)
    counts = [Counter(r) for r in rows]
    P_bar = sum((sum(c[k] ** 2 for k in cats) - m) / (m * (m - 1)) for c in counts) / N
    p = [sum(c[k] for c in counts) / (N * m) for k in cats]
    P_e = sum(x * x for x in p)
    if P_e >= 1.0:
        return None
    return (P_bar - P_e) / (1.0 - P_e)


def krippendorff_alpha(ratings: Sequence[Sequence[Label | None]]) -> float | None:
    """Krippendorff's α (nominal) of units × raters; None marks a missing rating."""
    units = [[v for v in r if v is not None] for r in ratings]
    units = [u for u in units if len(u) >= 2]
    if not units:
        return None
    coincidence: Counter = Counter()
    for u in units:
        m = len(u)
        counts = Counter(u)
        for c in counts:
            for k in counts:
                pairs = counts[c] * (counts[k] - (1 if c == k else 0))
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    n_c: Counter = Counter()
    for (c, _k), v in coincidence.items():
        n_c[c] += v
    n = sum(n_c.values())
    disagree = sum(v for (c, k), v in coincidence.items() if c != k)
    expected = sum(n_c[c] * n_c[k] for c in n_c for k in n_c if c != k)
    if expected == 0:
        return None
    return 1.0 - (n - 1) * disagree / expected
