"""Tail latency: nearest-rank percentiles, censored timeouts, accuracy within an SLO (docs/statistics.md §6).

Percentiles are nearest-rank (Hyndman & Fan type 1, numpy's `inverted_cdf`): the value
at 1-indexed rank ⌈pN⌉, which is always a latency that was actually observed.  SLO
reporting wants that property (a p99 of "1234.5 ms" that no request ever had is a
fiction), and it matches HdrHistogram.

Timeouts are right-censored: the true latency is only known to exceed the timeout T.
They are sorted after every observed latency; when a percentile's rank lands on one,
the figure is reported as T with the key listed under "censored" and a "> T" string
under "display", so nobody reads a lower bound as a measurement.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from tuieval.analysis.stats import wilson, z_value

METHOD = "nearest_rank"
DEFAULT_QUANTILES = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def nearest_rank_index(q: float, n: int) -> int:
    """0-based index of the nearest-rank q-quantile among n sorted values (n ≥ 1).

    The small epsilon stops float noise (0.07·100 = 7.000000000000001) bumping the rank.
    """
    if n < 1:
        raise ValueError("no values")
    return min(n, max(1, math.ceil(q * n - 1e-9))) - 1


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank q-quantile (q in [0, 1]) of the non-NaN values; None when there are none."""
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    if x.size == 0:
        return None
    return float(x[nearest_rank_index(q, x.size)])


class LatencyIndex:
    """Latencies sorted once, so that per-slice summaries cost one masked gather each.

    The report asks for p50/p95/p99/max on dozens of slices; sorting 100k samples per
    slice would dominate its run time.  Here the global order is computed once and a
    slice's sorted latencies are `sorted[mask[order]]`, already in order.
    """

    def __init__(self, latencies: Sequence[float] | np.ndarray, censored: Sequence[bool] | np.ndarray | None = None,
                 timeout: float | None = None, *, keep_order: bool = True) -> None:
        lat = np.asarray(latencies, dtype=float)
        cens = np.zeros(lat.shape, dtype=bool) if censored is None else np.asarray(censored, dtype=bool)
        if cens.shape != lat.shape:
            raise ValueError("censored mask must match latencies")
        # A censored sample is known to exceed T: its sort key is +inf so it ranks after
        # every observed latency, and it counts towards n even without a recorded time.
        usable = (~np.isnan(lat)) | cens
        key = np.where(cens, np.inf, lat)
        idx = np.flatnonzero(usable)
        any_cens = bool(cens.any())
        # Samples with equal keys have the same value and, but for an observed +inf beside a
        # censored sample, the same censoring: then any order of them gives every selection the
        # same sorted values and flags, and numpy's unstable sort is ~3× faster than "stable".
        tie_safe = not any_cens or not np.isposinf(lat[~cens]).any()
        if not keep_order and tie_safe:
            # only summaries are asked for (no selection by sample): the sorted keys suffice,
            # a censored sample's +inf standing where its flag says "> T"
            self.order = None
            self.values = np.sort(key[idx])
            self.cens = np.isposinf(self.values) if any_cens else np.zeros(idx.size, dtype=bool)
        else:
            self.order = idx[np.argsort(key[idx], kind=None if tie_safe else "stable")]
            self.values = lat[self.order]
            self.cens = cens[self.order]
        self.size = lat.size
        if timeout is None and cens.any():
            # best available lower bound: the longest time a censored request was seen running
            seen = lat[cens]
            seen = seen[~np.isnan(seen)]
            timeout = float(seen.max()) if seen.size else None
        self.timeout = timeout
        self._n_cens = int(self.cens.sum())
        self._cens_tail = not self.cens[:self.cens.size - self._n_cens].any()

    def summary(self, mask: np.ndarray | None = None, quantiles: dict[str, float] | None = None,
                with_max: bool = True, *, selected: np.ndarray | None = None) -> dict:
        """p50/p95/p99/max, n, censoring markers for the samples selected by `mask`; or by
        `selected`, the same selection already in the index's order (`mask[index.order]`: a
        caller selecting by case maps its case mask straight to the sorted samples)."""
        quantiles = quantiles or DEFAULT_QUANTILES
        if selected is None and mask is not None:
            if self.order is None:
                raise ValueError("an index made with keep_order=False selects no samples")
            selected = np.asarray(mask, dtype=bool)[self.order]
        if selected is None:
            vals, cens = self.values, self.cens
            n_cens = int(cens.sum())
        else:
            # the selected positions, then only the few picked values read: a boolean gather of
            # the whole value and flag arrays costs ~8× the positions at a million samples
            at = np.flatnonzero(selected)
            vals, cens = _Picked(self.values, at), _Picked(self.cens, at)
            # the censored samples sort last (+inf): when they are all of the tail, count its selected
            tail = self.cens.size - self._n_cens
            n_cens = (int(np.count_nonzero(selected[tail:])) if self._cens_tail
                      else int(np.count_nonzero(self.cens[at])))
        n = int(vals.size)
        out: dict = {k: None for k in quantiles}
        if with_max:
            out["max"] = None
        out.update(n=n, n_censored=n_cens, method=METHOD, p99_is_max=n < 100)
        if n == 0:
            return out
        censored_keys: list[str] = []
        picks = {name: nearest_rank_index(q, n) for name, q in quantiles.items()}
        if with_max:
            picks["max"] = n - 1
        for name, i in picks.items():
            if cens[i]:
                censored_keys.append(name)
                out[name] = None if self.timeout is None else float(self.timeout)
            else:
                out[name] = float(vals[i])
        if censored_keys:
            out["censored"] = censored_keys
            shown = "?" if self.timeout is None else f"{self.timeout:g}"
            out["display"] = {k: f"> {shown}" for k in censored_keys}
            out["timeout_ms"] = self.timeout
        return out


class _Picked:
    """`values[at]` read lazily: its size, and an element by position."""

    __slots__ = ("values", "at", "size")

    def __init__(self, values: np.ndarray, at: np.ndarray) -> None:
        self.values, self.at, self.size = values, at, at.size

    def __getitem__(self, i: int):
        return self.values[self.at[i]]


def latency_summary(latencies: Sequence[float], censored_mask: Sequence[bool] | None = None,
                    timeout: float | None = None) -> dict:
    """Nearest-rank summary of one latency array.

    Returns {"p50", "p95", "p99", "max", "n", "n_censored", "method", "p99_is_max"}; with
    n < 100, p99 is the maximum and `p99_is_max` says so.  NaN latencies (never measured)
    are left out of n unless censored.  When a figure's rank lands on a censored value
    the figure is the timeout T (a lower bound), its name is listed in "censored" and
    "display" carries "> T".  Without `timeout`, T is the longest censored time recorded.
    """
    return LatencyIndex(latencies, censored_mask, timeout).summary()


def accuracy_within_slo(correct: Sequence[bool], latency: Sequence[float], slo_ms: float,
                        alpha: float = 0.05) -> dict:
    """Latency-adjusted correctness acc@SLO = mean(correct AND latency ≤ SLO) with Wilson CI (§6.3).

    Every sample stays in the denominator: errors and timeouts (no latency, or NaN)
    count as g = 0, because dropping them would inflate the figure.  `slo_attainment` is
    the share of samples that met the SLO at all.  This is the sample-level figure; the
    report computes it per item first (item as the unit).
    """
    c = np.asarray(correct, dtype=bool)
    lat = np.asarray(latency, dtype=float)
    with np.errstate(invalid="ignore"):
        met = lat <= slo_ms  # NaN compares False
    g = c & met
    n = int(g.size)
    k = int(g.sum())
    return {"value": (k / n) if n else None, "ci": list(wilson(k, n, alpha)), "k": k, "n": n,
            "slo_ms": float(slo_ms), "slo_attainment": (float(met.mean()) if n else None)}


def deadline_curve(correct: Sequence[bool], latency: Sequence[float],
                   slo_grid: Sequence[float] | None = None, n_points: int = 20) -> list[dict]:
    """acc@SLO as a function of the SLO: the latency CDF of correct answers scaled by accuracy.

    Default grid: nearest-rank quantiles (1/n_points … 1) of the correct answers'
    latencies, so the curve's steps fall where the data are.  The denominator is every
    sample, errors included, so the curve tops out at plain accuracy.
    """
    c = np.asarray(correct, dtype=bool)
    lat = np.asarray(latency, dtype=float)
    n = c.size
    ok = np.sort(lat[c & ~np.isnan(lat)])
    if slo_grid is None:
        if ok.size == 0:
            return []
        qs = np.arange(1, n_points + 1) / n_points
        slo_grid = sorted({float(ok[nearest_rank_index(q, ok.size)]) for q in qs})
    grid = np.asarray(slo_grid, dtype=float)
    hits = np.searchsorted(ok, grid, side="right")
    return [{"slo_ms": float(s), "accuracy": (float(h) / n if n else None)} for s, h in zip(grid, hits)]


def tpot(e2e_ms: Sequence[float], ttft_ms: Sequence[float], output_tokens: Sequence[float]) -> np.ndarray:
    """Time per output token, (E2E − TTFT)/(tokens − 1), as vLLM defines it (§6.1).

    NaN where it is undefined: a single token (or none), or a missing timing.
    """
    e = np.asarray(e2e_ms, dtype=float)
    t = np.asarray(ttft_ms, dtype=float)
    k = np.asarray(output_tokens, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (e - t) / (k - 1.0)
    out[~(k > 1.0)] = np.nan
    return out


def order_statistic_ci(values: Sequence[float], q: float, alpha: float = 0.05) -> tuple[float | None, float | None]:
    """Distribution-free CI for the q-quantile from order statistics (normal approximation).

    Ranks l = ⌊Nq − z√(Nq(1−q))⌋ and u = ⌈Nq + z√(Nq(1−q))⌉ + 1 (1-indexed); a side
    whose rank falls outside 1..N is unbounded and returned as None.
    """
    x = np.sort(np.asarray(values, dtype=float))
    x = x[~np.isnan(x)]
    n = x.size
    if n == 0:
        return (None, None)
    z = z_value(alpha)
    s = z * math.sqrt(n * q * (1.0 - q))
    lo_rank = math.floor(n * q - s)
    hi_rank = math.ceil(n * q + s) + 1
    lo = float(x[lo_rank - 1]) if lo_rank >= 1 else None
    hi = float(x[hi_rank - 1]) if hi_rank <= n else None
    return (lo, hi)
