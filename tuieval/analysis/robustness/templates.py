"""Template sensitivity: how much of a score is the prompt template rather than the model.

Input: a cases × templates matrix of per-(case, template) accuracy (the share of that pair's
samples that are correct; error samples count as wrong). Only cases that have every
template (complete blocks) enter, so every figure is paired.

- Per template: accuracy with its interval (`stats.mean_ci_items`, the case as the unit).
- Spread: best − worst template accuracy, with a paired bootstrap interval over cases (the
  best and worst are re-chosen in every resample, so the interval includes the selection;
  the spread is ≥ 0 even with no true difference, which is why the test below is reported).
- The test that the templates differ: Cochran's Q (χ² with T−1 df) when each pair has one
  sample (0/1 scores); otherwise its permutation analogue — the between-template sum of
  squares of column means, with each case's T scores permuted among the templates
  (p = (1 + #{stat ≥ observed}) / (B + 1)).
- Flip rate: the share of cases whose verdict (majority correct: accuracy ≥ 0.5) is not the
  same under every template, with a Wilson interval; those cases are listed.

See docs/statistics.md §2 (templates).
"""

from __future__ import annotations

import zlib
from typing import Any, Sequence

import numpy as np

from tuieval.analysis.distributions import chi2_sf
from tuieval.analysis.stats import mean_ci_items, wilson


def _rng(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(tag.encode("utf-8"))])


def cochran_q(x: np.ndarray) -> tuple[float | None, float]:
    """Cochran's Q and its χ²(T−1) p-value for a cases × templates 0/1 matrix.

    Q = (T−1)·(T·Σ_j C_j² − N²) / (T·N − Σ_i R_i²), with C_j the column totals, R_i the
    row totals and N the grand total. Rows that are all 0 or all 1 carry no information
    (they add equally to both sums); with no other row Q is undefined: (None, 1.0)."""
    x = np.asarray(x, dtype=float)
    n, t = x.shape
    rows = x.sum(axis=1)
    cols = x.sum(axis=0)
    total = rows.sum()
    denom = t * total - float((rows ** 2).sum())
    if t < 2 or denom <= 0:
        return None, 1.0
    q = (t - 1) * (t * float((cols ** 2).sum()) - total ** 2) / denom
    return float(q), chi2_sf(q, t - 1)


def _between_ss(x: np.ndarray) -> np.ndarray:
    """Σ_j (mean of column j − grand mean)² for x of shape (..., n, T)."""
    means = x.mean(axis=-2)
    return ((means - means.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)


def permutation_test(x: np.ndarray, B: int, rng: np.random.Generator) -> tuple[float, float]:
    """(statistic, p) of the within-case permutation test that the template columns differ."""
    x = np.asarray(x, dtype=float)
    observed = float(_between_ss(x))
    hits = 0
    chunk = max(1, 2_000_000 // max(1, x.size))
    done = 0
    while done < B:
        b = min(chunk, B - done)
        keys = rng.random((b, *x.shape))
        perm = np.take_along_axis(np.broadcast_to(x, keys.shape), np.argsort(keys, axis=-1), axis=-1)
        hits += int((_between_ss(perm) >= observed - 1e-12 * max(1.0, observed)).sum())
        done += b
    return observed, (1.0 + hits) / (B + 1.0)


def spread_ci(x: np.ndarray, B: int, rng: np.random.Generator, alpha: float) -> tuple[float, float]:
    """Percentile interval of max − min column mean over a bootstrap of cases (rows)."""
    n = x.shape[0]
    reps = np.empty(B)
    chunk = max(1, 2_000_000 // max(1, x.size))
    done = 0
    while done < B:
        b = min(chunk, B - done)
        idx = rng.integers(0, n, size=(b, n))
        means = x[idx].mean(axis=1)
        reps[done:done + b] = means.max(axis=1) - means.min(axis=1)
        done += b
    lo, hi = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(lo), float(hi)


def template_sensitivity(scores: np.ndarray, case_ids: Sequence[Any], templates: Sequence[str], *,
                         binary: bool, alpha: float = 0.05, B: int = 2000, rng_seed: int = 0) -> dict[str, Any] | None:
    """The `robustness.templates` section for a cases × templates accuracy matrix (NaN: missing).

    `binary` says each (case, template) had one sample, so its score is 0/1 and Cochran's Q
    applies. None with fewer than two templates."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[1] < 2:
        return None
    complete = ~np.isnan(scores).any(axis=1)
    x = scores[complete]
    ids = [c for c, keep in zip(case_ids, complete.tolist()) if keep]
    n, t = x.shape
    out: dict[str, Any] = {"n_cases": n, "n_templates": t, "n_incomplete_cases": int((~complete).sum()),
                           "templates": [], "spread": None, "test": None, "flip_rate": None, "dependent_cases": []}
    if n == 0:
        return out
    for j, name in enumerate(templates):
        ci = mean_ci_items(x[:, j], alpha)
        out["templates"].append({"template": str(name), "n_cases": n, "accuracy": float(ci["mean"]),
                                 "accuracy_ci": [float(v) for v in ci["ci"]] if ci["ci"] else None})
    means = x.mean(axis=0)
    best, worst = int(np.argmax(means)), int(np.argmin(means))
    lo, hi = spread_ci(x, B, _rng(rng_seed, "template-spread"), alpha)
    out["spread"] = {"best": str(templates[best]), "worst": str(templates[worst]),
                     "value": float(means[best] - means[worst]), "ci": [lo, hi], "method": "paired bootstrap of cases"}
    if binary:
        q, p = cochran_q(x)
        out["test"] = {"name": "cochran_q", "statistic": q, "df": t - 1, "p_value": p}
    else:
        stat, p = permutation_test(x, B, _rng(rng_seed, "template-permutation"))
        out["test"] = {"name": "permutation", "statistic": stat, "B": B, "p_value": p}
    verdict = x >= 0.5
    depends = verdict.any(axis=1) & ~verdict.all(axis=1)
    k = int(depends.sum())
    out["flip_rate"] = {"value": k / n, "ci": list(wilson(k, n, alpha)), "n_cases": n, "n_flipped": k}
    out["dependent_cases"] = [
        {"id": ids[i], "accuracy": {str(templates[j]): float(x[i, j]) for j in range(t)},
         "verdict": {str(templates[j]): bool(verdict[i, j]) for j in range(t)}}
        for i in np.flatnonzero(depends).tolist()
    ]
    return out
