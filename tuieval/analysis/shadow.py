"""Shadow-evaluation statistics: candidate vs baseline answers on the same logged prompts (docs/statistics.md §16).

Pure functions over per-prompt arrays (numpy only, no I/O):

- `disagreement_sequence`: the disagreement rate with its anytime-valid interval (the
  normal-mixture confidence sequence of §7.2), valid however often it is looked at, so the
  replay may stop as soon as the interval is narrower than the precision asked for;
- `slice_disagreement`: the rate per (column = value) slice with Wilson intervals, and slice
  discovery on disagreement (tuieval.analysis.slices);
- `quantile_shift`: candidate − baseline latency quantile (nearest rank) with a paired
  bootstrap interval (prompts resampled, both latencies of a prompt kept together);
- `mean_shift` and `rate_shift`: the same for answer length and refusal rate;
- `is_refusal`: a phrase heuristic for "the model declined to answer".
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.latency import nearest_rank_index
from tuieval.analysis.slices import column_levels, discover_slices_columns, distinct_levels, level_name
from tuieval.analysis.stats import bootstrap_ci, normal_mixture_halfwidth, paired_bootstrap, wilson

QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}
#: the name of the pairwise judge scorer a shadow run gets with `--judge`
JUDGE_NAME = "shadow_judge"
#: bootstrap replicates for the shift intervals
B = 2000

# Openings and phrases with which assistants decline; matched case-insensitively in the first
# 200 characters (a refusal says so up front; a long answer quoting "I cannot" later is not one).
_REFUSAL = re.compile(
    r"\b(i\s*(?:'m|am)\s+(?:sorry|unable|not able)|i\s+(?:can(?:'|no)t|cannot|won't|will not)\s+"
    r"(?:help|assist|provide|answer|comply|do that|share)|as an ai\b|i\s+must\s+decline|"
    r"i\s+(?:do not|don't)\s+(?:feel comfortable|have (?:access|enough information)))",
    re.IGNORECASE)


def is_refusal(text: str | None) -> bool:
    """True when an answer opens by declining ("I'm sorry, I can't help with that")."""
    if not text:
        return False
    return bool(_REFUSAL.search(text[:200].replace("\u2019", "'")))


def sequence_halfwidth(t: int, planned: int, alpha: float = 0.05) -> float:
    """Half-width of the anytime-valid interval after t prompts, tuned for `planned` prompts."""
    return float(normal_mixture_halfwidth(t, max(planned, 1) / 4.0, alpha))


def disagreement_sequence(disagree: Sequence[float], planned: int, alpha: float = 0.05) -> dict[str, Any]:
    """The disagreement rate of the prompts so far (in replay order) and its confidence sequence.

    {"n", "k", "rate", "cs": [lo, hi], "width"}; the interval is clipped to [0, 1]. With n = 0
    the rate is None and the interval [0, 1]."""
    x = np.asarray(disagree, dtype=float)
    n = int(x.size)
    if n == 0:
        return {"n": 0, "k": 0, "rate": None, "cs": [0.0, 1.0], "width": 1.0}
    rate = float(x.mean())
    hw = sequence_halfwidth(n, planned, alpha)
    lo, hi = max(0.0, rate - hw), min(1.0, rate + hw)
    return {"n": n, "k": int(x.sum()), "rate": rate, "cs": [lo, hi], "width": hi - lo}


def precise_enough(disagree: Sequence[float], planned: int, precision: float | None, alpha: float = 0.05) -> bool:
    """The stopping rule: the anytime-valid interval is narrower than `precision`."""
    if precision is None or len(disagree) == 0:
        return False
    return disagreement_sequence(disagree, planned, alpha)["width"] < precision


def slice_disagreement(columns: Mapping[str, Sequence[Any]], disagree: Sequence[float], *,
                       alpha: float = 0.05, rng_seed: int = 0) -> dict[str, Any]:
    """Disagreement per slice (every level of every column, Wilson intervals) and slice discovery.

    Columns come metadata first, then derived features, so a metadata name wins over a derived
    alias of the same members (`distinct_levels`)."""
    d = np.asarray(disagree, dtype=float)
    n = int(d.size)
    levels: dict[str, list] = {}
    for key, values in columns.items():
        lv, _why = column_levels(key, list(values))
        if lv:
            levels[key] = lv
    kept, skipped = distinct_levels(levels, n)
    rows = []
    for key, lvls in kept.items():
        for lv in lvls:
            m = lv.mask
            k_s, n_s = float(d[m].sum()), int(m.sum())
            if n_s == 0:
                continue
            lo, hi = wilson(k_s, n_s, alpha)
            rows.append({"slice": level_name(key, lv.value), "key": key, "value": lv.value, "n": n_s,
                         "k": int(k_s), "rate": k_s / n_s, "ci": [lo, hi], "aliases": list(lv.aliases)})
    rows.sort(key=lambda r: (-r["rate"], -r["n"], r["slice"]))
    discovered: list[dict] = []
    if n >= 2:
        disc = discover_slices_columns({k: list(v) for k, v in columns.items()}, d, alpha=alpha, rng_seed=rng_seed)
        discovered = [r.to_dict() for r in disc["results"] if r.flagged]
    return {"slices": rows, "discovered": discovered, "skipped_columns": skipped}


def _quantile_axis1(q: float):
    def stat(x: np.ndarray) -> np.ndarray:
        # x: (b, n, 2) resampled (baseline, candidate) pairs
        idx = nearest_rank_index(q, x.shape[1])
        return np.sort(x[:, :, 1], axis=1)[:, idx] - np.sort(x[:, :, 0], axis=1)[:, idx]
    return stat


def quantile_shift(baseline: Sequence[float], candidate: Sequence[float], q: float, *, alpha: float = 0.05,
                   rng: np.random.Generator | None = None) -> dict[str, Any]:
    """candidate − baseline nearest-rank q-quantile over prompts with both latencies, and a
    paired percentile-bootstrap interval. Fewer than 2 pairs: no interval."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = int(a.size)
    if n == 0:
        return {"n": 0, "baseline": None, "candidate": None, "shift": None, "ci": None}
    i = nearest_rank_index(q, n)
    qa, qb = float(np.sort(a)[i]), float(np.sort(b)[i])
    ci = None
    if n >= 2:
        lo, hi = bootstrap_ci(np.stack([a, b], axis=1), stat=_quantile_axis1(q), B=B, rng=rng, alpha=alpha)
        ci = [lo, hi]
    return {"n": n, "baseline": qa, "candidate": qb, "shift": qb - qa, "ci": ci}


def latency_shift(baseline: Sequence[float], candidate: Sequence[float], *, alpha: float = 0.05,
                  seed: int = 0) -> dict[str, Any]:
    """p50/p95/p99 shifts (ms), each from its own seeded generator so one figure does not move another."""
    return {name: quantile_shift(baseline, candidate, q, alpha=alpha, rng=np.random.default_rng([seed, k]))
            for k, (name, q) in enumerate(QUANTILES.items())}


def mean_shift(baseline: Sequence[float], candidate: Sequence[float], *, alpha: float = 0.05,
               seed: int = 0) -> dict[str, Any]:
    """mean(candidate) − mean(baseline) over complete pairs, paired-bootstrap interval."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    ok = ~(np.isnan(a) | np.isnan(b))
    a, b = a[ok], b[ok]
    n = int(a.size)
    if n == 0:
        return {"n": 0, "baseline": None, "candidate": None, "shift": None, "ci": None}
    out = {"n": n, "baseline": float(a.mean()), "candidate": float(b.mean()), "shift": float((b - a).mean()),
           "ci": None}
    if n >= 2:
        res = paired_bootstrap(b, a, B=B, rng=np.random.default_rng(seed), alpha=alpha)
        out["ci"] = list(res["ci"])
    return out


def rate_shift(baseline: Sequence[bool], candidate: Sequence[bool], *, alpha: float = 0.05,
               seed: int = 0) -> dict[str, Any]:
    """Two paired rates (each with its Wilson interval) and their difference's paired-bootstrap interval."""
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(candidate, dtype=float)
    n = int(a.size)
    if n == 0:
        return {"n": 0, "baseline": None, "candidate": None, "shift": None, "ci": None}
    out = {"n": n, "baseline": {"rate": float(a.mean()), "ci": list(wilson(a.sum(), n, alpha))},
           "candidate": {"rate": float(b.mean()), "ci": list(wilson(b.sum(), n, alpha))},
           "shift": float(b.mean() - a.mean()), "ci": None}
    if n >= 2:
        out["ci"] = list(paired_bootstrap(b, a, B=B, rng=np.random.default_rng(seed), alpha=alpha)["ci"])
    return out
