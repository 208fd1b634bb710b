"""Drift between two distributions of one categorical feature (docs/statistics.md §17).

Used by `tuieval drift` to say how far production traffic has moved from what a suite
tests, and between two windows of traffic.  Pure functions over counts per level; the
streaming reader that produces the counts lives in tuieval/traffic/drift.py.

- `psi`: population stability index, Σ (q_i − p_i) · ln(q_i / p_i), with a stated ε
  added to every bin so an empty bin is finite, after sparse levels are merged.
- `chi2_homogeneity`: Pearson's χ² test that the two samples come from one
  distribution (2 × k table), sparse columns merged until every expected count is ≥ 5.
- `compare_counts`: both, plus the shares, for one feature.
- `under_covered`: the slices the suite holds fewer than `min_cases` cases of, with the
  share of traffic that falls in each (Wilson interval).
"""

from __future__ import annotations

import math
from typing import Any, Hashable, Mapping, Sequence

from tuieval.analysis.distributions import chi2_sf
from tuieval.analysis.stats import wilson

#: added to every bin's share before renormalising, so a level absent from one sample gives a
#: large but finite term (ln(q/ε)) instead of an infinite one
PSI_EPSILON = 1e-4
#: conventions from credit-scoring practice, not derived from a test: below 0.1 stable,
#: 0.1–0.25 moderate shift, above 0.25 shifted
PSI_MODERATE = 0.1
PSI_SHIFTED = 0.25
#: levels whose share is below this in both samples are pooled into one "(other)" bin for PSI
SPARSE_SHARE = 0.01
#: Cochran's rule for the χ² approximation: every expected count at least 5
MIN_EXPECTED = 5.0
OTHER = "(other)"


def psi(reference: Sequence[float], current: Sequence[float], eps: float = PSI_EPSILON) -> float | None:
    """Population stability index of `current` against `reference` (counts or shares per bin).

    Each sample is normalised to shares, `eps` is added to every share and the shares are
    renormalised; PSI = Σ (q_i − p_i) · ln(q_i / p_i).  None when a sample is empty.  With
    eps = 0 an empty bin in one sample only makes the index infinite.
    """
    if len(reference) != len(current):
        raise ValueError("reference and current need the same bins")
    tp, tq = float(sum(reference)), float(sum(current))
    if tp <= 0 or tq <= 0:
        return None
    k = len(reference)
    p = [(x / tp + eps) / (1 + k * eps) for x in reference]
    q = [(x / tq + eps) / (1 + k * eps) for x in current]
    total = 0.0
    for pi, qi in zip(p, q):
        if pi == qi:
            continue
        if pi == 0 or qi == 0:
            return math.inf
        total += (qi - pi) * math.log(qi / pi)
    return total


def psi_band(value: float | None) -> str | None:
    """"stable" (< 0.1), "moderate" (0.1–0.25) or "shifted" (> 0.25): conventions, not a test."""
    if value is None:
        return None
    if value < PSI_MODERATE:
        return "stable"
    if value <= PSI_SHIFTED:
        return "moderate"
    return "shifted"


def psi_if_same(k: int, n_reference: float, n_current: float) -> float | None:
    """The PSI two samples of these sizes show on average when nothing moved: ≈ (k − 1)(1/n₁ + 1/n₂).

    PSI is the symmetric Kullback–Leibler divergence; for small differences it is the
    Pearson χ² statistic divided by n₁n₂/(n₁+n₂), whose mean under no drift is k − 1.
    A PSI near this floor is sampling noise, whatever band it falls in.
    """
    if k < 2 or n_reference <= 0 or n_current <= 0:
        return None
    return (k - 1) * (1.0 / n_reference + 1.0 / n_current)


def merge_sparse(levels: Sequence[Hashable], reference: Sequence[float], current: Sequence[float],
                 share: float = SPARSE_SHARE) -> tuple[list[Any], list[float], list[float]]:
    """Pool the levels below `share` in both samples into one OTHER bin (kept apart when only one).

    A long tail of rare levels would each add ε-noise to PSI and empty cells to χ²; a level
    frequent in either sample keeps its own bin, so a level new in traffic is never hidden.
    """
    tp, tq = float(sum(reference)) or 1.0, float(sum(current)) or 1.0
    sparse = [i for i in range(len(levels)) if reference[i] / tp < share and current[i] / tq < share]
    if len(sparse) < 2:
        return list(levels), list(reference), list(current)
    drop = set(sparse)
    keep = [i for i in range(len(levels)) if i not in drop]
    out_l = [levels[i] for i in keep] + [OTHER]
    out_p = [reference[i] for i in keep] + [sum(reference[i] for i in sparse)]
    out_q = [current[i] for i in keep] + [sum(current[i] for i in sparse)]
    return out_l, out_p, out_q


def chi2_homogeneity(reference: Sequence[float], current: Sequence[float],
                     min_expected: float = MIN_EXPECTED) -> dict[str, Any]:
    """Pearson's χ² test of homogeneity on the 2 × k table of counts.

    Columns empty in both rows are dropped.  While a column's smaller expected count
    (row total × column total / N) is below `min_expected` and more than two columns
    remain, the two smallest columns are merged.  df = columns − 1.  Returns {"statistic",
    "df", "p_value", "bins", "sparse"} ("sparse": an expected count is still below the
    rule, the p-value is approximate); statistic and p_value are None with a "reason" when
    a row is empty or only one column is left.
    """
    cols = [(float(a), float(b)) for a, b in zip(reference, current) if a + b > 0]
    r1, r2 = sum(a for a, _ in cols), sum(b for _, b in cols)
    if r1 <= 0 or r2 <= 0:
        return {"statistic": None, "df": 0, "p_value": None, "bins": len(cols), "sparse": False,
                "reason": "a sample is empty"}
    n = r1 + r2
    small = min(r1, r2)
    cols.sort(key=lambda c: c[0] + c[1])
    while len(cols) > 2 and (cols[0][0] + cols[0][1]) * small / n < min_expected:
        a, b = cols.pop(0), cols.pop(0)
        merged = (a[0] + b[0], a[1] + b[1])
        cols.append(merged)
        cols.sort(key=lambda c: c[0] + c[1])
    if len(cols) < 2:
        return {"statistic": None, "df": 0, "p_value": None, "bins": len(cols), "sparse": False,
                "reason": "one level in both samples: nothing to compare"}
    stat = 0.0
    sparse = False
    for a, b in cols:
        c = a + b
        for obs, row in ((a, r1), (b, r2)):
            e = row * c / n
            sparse = sparse or e < min_expected
            stat += (obs - e) ** 2 / e
    df = len(cols) - 1
    return {"statistic": stat, "df": df, "p_value": chi2_sf(stat, df), "bins": len(cols), "sparse": sparse}


def compare_counts(reference: Mapping[Any, float], current: Mapping[Any, float], *,
                   eps: float = PSI_EPSILON, share: float = SPARSE_SHARE) -> dict[str, Any]:
    """One feature's drift: the levels with their counts and shares in each sample, PSI and χ².

    Levels are the union of both samples', most frequent (pooled) first.  PSI is computed
    on the bins after `merge_sparse`; χ² on the raw levels with its own merging rule.
    """
    levels = sorted(set(reference) | set(current),
                    key=lambda v: (-(reference.get(v, 0) + current.get(v, 0)), str(v)))
    p = [float(reference.get(v, 0)) for v in levels]
    q = [float(current.get(v, 0)) for v in levels]
    n_p, n_q = sum(p), sum(q)
    bins_l, bins_p, bins_q = merge_sparse(levels, p, q, share)
    value = psi(bins_p, bins_q, eps) if levels else None
    return {
        "n_reference": int(n_p), "n_current": int(n_q),
        "levels": [{"value": v, "reference": int(a), "current": int(b),
                    "reference_share": a / n_p if n_p else None, "current_share": b / n_q if n_q else None}
                   for v, a, b in zip(levels, p, q)],
        "psi": value, "psi_band": psi_band(value), "psi_bins": len(bins_l),
        "psi_if_same": psi_if_same(len(bins_l), n_p, n_q),
        "chi2": chi2_homogeneity(p, q),
    }


def under_covered(suite: Mapping[tuple[str, Any], int], traffic: Mapping[tuple[str, Any], int], n_traffic: int,
                  min_cases: int, alpha: float = 0.05) -> list[dict[str, Any]]:
    """Slices (feature, level) with traffic in them and fewer than `min_cases` suite cases.

    Each with the suite's count, the traffic count, its share of `n_traffic` and the share's
    Wilson interval; the largest traffic share first (the slice to grow first).  A missing value
    (None) is never under-covered: a field the log did not record is no slice a suite can grow.
    """
    out = []
    for (key, value), k in traffic.items():
        n_suite = int(suite.get((key, value), 0))
        if value is None or k <= 0 or n_suite >= min_cases or n_traffic <= 0:
            continue
        lo, hi = wilson(k, n_traffic, alpha)
        out.append({"key": key, "value": value, "suite_cases": n_suite, "traffic": int(k),
                    "traffic_share": k / n_traffic, "traffic_share_ci": [lo, hi]})
    out.sort(key=lambda r: (-r["traffic"], r["key"], str(r["value"])))
    return out
