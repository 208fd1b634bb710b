"""Numeric core: proportion intervals, pass@k, standard errors, resampling and tests.

Everything here follows docs/statistics.md (section numbers are quoted in the
docstrings).  numpy and the standard library only: normal quantiles come from
`statistics.NormalDist`, log-gamma from `math.lgamma`, the Student-t tail from a
continued-fraction incomplete beta written below.  Every resampling function takes
an explicit `numpy.random.Generator` so results are reproducible.
"""

from __future__ import annotations

import math
from fractions import Fraction
from statistics import NormalDist
from typing import Callable, Hashable, Iterable, Sequence

import numpy as np

_NORMAL = NormalDist()


def json_float(x: object) -> float | None:
    """A figure as JSON can carry it: None, NaN and ±inf → None; numpy scalars → float;
    −0.0 → 0.0 (a "-0.0" delta or entropy in a report says nothing a reader can use)."""
    if x is None:
        return None
    x = float(x) + 0.0  # −0.0 + 0.0 is 0.0
    return x if math.isfinite(x) else None


def z_value(alpha: float = 0.05) -> float:
    """Two-sided normal quantile z_{1-alpha/2} (1.959964 for alpha=0.05)."""
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return _NORMAL.inv_cdf(1.0 - alpha / 2.0)


# ---------------------------------------------------------------------------------------------
# §4.1 proportions
# ---------------------------------------------------------------------------------------------

def wilson(k: float, n: float, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval for k successes out of n (docs/statistics.md §4.1).

    `k` may be fractional (a sum of per-item scores in [0, 1]); the formula is the same.
    n = 0 carries no information, so the vacuous interval (0.0, 1.0) is returned rather
    than None: callers can always unpack two floats, and [0, 1] is honestly "unknown".
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return (0.0, 1.0)
    z = z_value(alpha)
    z2 = z * z
    p = k / n
    d = 1.0 + z2 / n
    centre = (p + z2 / (2.0 * n)) / d
    half = (z / d) * math.sqrt(max(0.0, p * (1.0 - p) / n + z2 / (4.0 * n * n)))
    # At k = 0 (k = n) the bound is exactly 0 (1); pin it so rounding cannot show 3e-17.
    lo = 0.0 if k == 0 else max(0.0, centre - half)
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def wilson_array(k: np.ndarray, n: np.ndarray, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson interval; entries with n = 0 get (0, 1) like `wilson`."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = z_value(alpha)
    z2 = z * z
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(n > 0, k / n, 0.0)
        nn = np.where(n > 0, n, 1.0)
        d = 1.0 + z2 / nn
        centre = (p + z2 / (2.0 * nn)) / d
        half = (z / d) * np.sqrt(np.maximum(0.0, p * (1.0 - p) / nn + z2 / (4.0 * nn * nn)))
    lo = np.where((n > 0) & (k > 0), np.maximum(0.0, centre - half), 0.0)
    hi = np.where((n > 0) & (k < n), np.minimum(1.0, centre + half), 1.0)
    return lo, hi


def jeffreys(k: float, n: float, alpha: float = 0.05, rng: np.random.Generator | None = None,
             draws: int = 200_000) -> tuple[float, float]:
    """Equal-tailed Jeffreys interval from Beta(k+1/2, n-k+1/2) draws (docs/statistics.md §4.1, optional).

    Monte-Carlo because numpy has no beta quantile; with 200k draws the bounds are
    stable to about 3 decimals.  Like statsmodels, the bound is 0 (1) when k = 0 (k = n).
    """
    if n == 0:
        return (0.0, 1.0)
    rng = rng if rng is not None else np.random.default_rng(0)
    x = rng.beta(k + 0.5, n - k + 0.5, draws)
    lo, hi = np.quantile(x, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (0.0 if k == 0 else float(lo), 1.0 if k == n else float(hi))


# ---------------------------------------------------------------------------------------------
# §3 pass@k and pass^k
# ---------------------------------------------------------------------------------------------

def _check_k(n: int, k: int) -> None:
    if k < 1 or k > n:
        raise ValueError(f"pass@k needs 1 <= k <= n, got n={n}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one task (Chen et al. 2021), the numerically stable product form."""
    _check_k(n, k)
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def pass_hat_k(n: int, c: int, k: int) -> float:
    """pass^k for one task: probability that k draws without replacement are all correct (τ-bench)."""
    _check_k(n, k)
    if c < k:
        return 0.0
    return float(np.prod((c - np.arange(k)) / (n - np.arange(k))))


def _per_task(fn: Callable[[int, int, int], float], ns: np.ndarray, cs: np.ndarray, k: int) -> np.ndarray:
    # Tasks share few distinct (n, c) pairs (n is usually the same everywhere), so
    # evaluate each distinct pair once and scatter back: exact and O(#distinct).
    # one integer key per (n, c) (np.unique over rows sorts a void view: several times slower)
    if ns.size == 0:
        return np.zeros(0, dtype=float)
    lo = int(cs.min())
    span = int(cs.max()) - lo + 1
    keys, inv = np.unique((ns - int(ns.min())) * span + (cs - lo), return_inverse=True)
    pairs = zip((keys // span + int(ns.min())).tolist(), (keys % span + lo).tolist())
    vals = np.array([fn(n, c, k) for n, c in pairs], dtype=float)
    return vals[inv.reshape(-1)]


def per_task_pass_at_k(ns: Sequence[int], cs: Sequence[int], k: int) -> np.ndarray:
    """pass@k for every task (all tasks must have n >= k)."""
    return _per_task(pass_at_k, np.asarray(ns, dtype=np.int64), np.asarray(cs, dtype=np.int64), k)


def per_task_pass_hat_k(ns: Sequence[int], cs: Sequence[int], k: int) -> np.ndarray:
    """pass^k for every task (all tasks must have n >= k)."""
    return _per_task(pass_hat_k, np.asarray(ns, dtype=np.int64), np.asarray(cs, dtype=np.int64), k)


DEFAULT_KS = (1, 2, 3, 5, 10, 20, 50, 100)


def eligible_ks(ns: Sequence[int], ks: Iterable[int] | None = None) -> list[int]:
    """The k values every task allows (k <= min n), as human-eval does; always adds k = min n."""
    ns = np.asarray(ns)
    if ns.size == 0 or ns.min() < 1:
        return []
    n_min = int(ns.min())
    cand = set(DEFAULT_KS if ks is None else ks) | ({n_min} if ks is None else set())
    return sorted(k for k in cand if 1 <= k <= n_min)


def mean_pass_at_k(ns: Sequence[int], cs: Sequence[int], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Task-mean pass@k for each k that every task allows; k values above min(n) are omitted."""
    ns = np.asarray(ns, dtype=np.int64)
    cs = np.asarray(cs, dtype=np.int64)
    return {k: float(per_task_pass_at_k(ns, cs, k).mean()) for k in eligible_ks(ns, ks)}


def mean_pass_hat_k(ns: Sequence[int], cs: Sequence[int], ks: Iterable[int] | None = None) -> dict[int, float]:
    """Task-mean pass^k for each k that every task allows; k values above min(n) are omitted."""
    ns = np.asarray(ns, dtype=np.int64)
    cs = np.asarray(cs, dtype=np.int64)
    return {k: float(per_task_pass_hat_k(ns, cs, k).mean()) for k in eligible_ks(ns, ks)}


# ---------------------------------------------------------------------------------------------
# §4.3 standard errors with the item (or its cluster) as the unit
# ---------------------------------------------------------------------------------------------

def clt_se(values: Sequence[float]) -> float | None:
    """CLT standard error of the mean, sqrt(Σ(s_i - s̄)² / (n(n-1))); None when n < 2."""
    s = np.asarray(values, dtype=float)
    n = s.size
    if n < 2:
        return None
    return float(math.sqrt(float(((s - s.mean()) ** 2).sum()) / (n * (n - 1))))


def _codes(ids: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Integer codes for arbitrary hashable ids (None is a cluster of its own)."""
    arr = np.asarray(ids)
    if arr.dtype.kind in "iub":
        _, inv = np.unique(arr, return_inverse=True)
        return inv.reshape(-1), int(inv.max()) + 1 if inv.size else 0
    table: dict = {}
    codes = np.fromiter((table.setdefault(x, len(table)) for x in ids), dtype=np.int64, count=len(ids))
    return codes, len(table)


def clustered_se(values: Sequence[float], cluster_ids: Sequence[Hashable]) -> float | None:
    """Cluster-robust SE of the mean (Miller 2024 App. A) with Inspect's C/(C-1) correction.

    SE² = C/(C-1) · (1/n²) Σ_c (Σ_{i∈c} (s_i - s̄))².  Returns None when there are fewer
    than two clusters (the correction is undefined and the variance is not estimable).
    """
    s = np.asarray(values, dtype=float)
    n = s.size
    if n == 0:
        return None
    codes, C = _codes(cluster_ids)
    if C < 2:
        return None
    sums = np.bincount(codes, weights=s - s.mean(), minlength=C)
    var = (C / (C - 1)) * float((sums ** 2).sum()) / (n * n)
    return float(math.sqrt(var))


def mean_ci_items(values: Sequence[float], alpha: float = 0.05, cluster_ids: Sequence[Hashable] | None = None,
                  ) -> dict:
    """Mean of per-item scores with an interval that treats the item as the unit (§4.3).

    Method choice (returned under "method"):
      - "clustered": cluster ids given and at least two clusters → mean ± z·SE_cl;
      - "wilson": every item score is 0 or 1 (one sample per item, or unanimous grading);
        Wilson beats the CLT on small n and at 0% / 100% (§4.1);
      - "clt": fractional per-item means → mean ± z·SE (the CLT SE of item means already
        contains the within-item sampling variance, §4.3);
      - "wilson-fallback": fractional scores whose CLT SE is 0 or undefined (n = 1, or all
        items equal): a zero-width interval would be false confidence, so Wilson on the
        fractional count is used instead.
    Intervals are clipped to [0, 1].  n = 0 → mean and ci are None.
    """
    s = np.asarray(values, dtype=float)
    n = int(s.size)
    out: dict = {"n": n, "mean": None, "ci": None, "se": None, "method": None}
    if n == 0:
        return out
    mean = float(s.mean())
    out["mean"] = mean
    z = z_value(alpha)
    if cluster_ids is not None:
        se = clustered_se(s, cluster_ids)
        n_clusters = _codes(cluster_ids)[1]
        out["n_clusters"] = n_clusters
        if se is not None:
            out.update(se=se, method="clustered",
                       ci=[max(0.0, mean - z * se), min(1.0, mean + z * se)])
            if n_clusters < 30:
                out["warning"] = f"only {n_clusters} clusters: clustered SE is unstable below ~30"
            return out
    total = float(s.sum())
    if bool(np.all((s == 0.0) | (s == 1.0))):
        out.update(method="wilson", ci=list(wilson(total, n, alpha)))
        out["se"] = clt_se(s)
        return out
    se = clt_se(s)
    if se is None or se == 0.0:
        out.update(se=se, method="wilson-fallback", ci=list(wilson(min(total, n), n, alpha)))
        return out
    out.update(se=se, method="clt", ci=[max(0.0, mean - z * se), min(1.0, mean + z * se)])
    return out


# ---------------------------------------------------------------------------------------------
# §4.2 / §5.2 resampling
# ---------------------------------------------------------------------------------------------

def _default_rng(rng: np.random.Generator | None) -> np.random.Generator:
    # Determinism over convenience: no rng means a fixed seed, never OS entropy.
    return rng if rng is not None else np.random.default_rng(0)


def _mean_axis1(x: np.ndarray) -> np.ndarray:
    return x.mean(axis=1)


def bootstrap_ci(values: Sequence[float] | np.ndarray, stat: Callable[[np.ndarray], np.ndarray] | None = None,
                 B: int = 2000, rng: np.random.Generator | None = None, alpha: float = 0.05,
                 cluster_ids: Sequence[Hashable] | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval resampling items (or whole clusters) (§4.2).

    `stat` is vectorised: it receives an array of shape (b, n, ...) of resampled items and
    returns shape (b,); the default is the mean.  Replicates are drawn in chunks so that
    memory stays bounded for large n.  With `cluster_ids`, whole clusters are drawn
    (the statistic then sees a ragged selection, so it is applied per replicate).
    """
    x = np.asarray(values)
    n = x.shape[0]
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    rng = _default_rng(rng)
    stat = stat or _mean_axis1
    if cluster_ids is not None:
        codes, C = _codes(cluster_ids)
        members = [np.flatnonzero(codes == c) for c in range(C)]
        reps = np.empty(B)
        picks = rng.integers(0, C, (B, C))
        for b in range(B):
            idx = np.concatenate([members[c] for c in picks[b]])
            reps[b] = stat(x[idx][None, ...])[0]
    else:
        chunk = max(1, min(B, 4_000_000 // max(1, n)))
        parts = []
        done = 0
        while done < B:
            b = min(chunk, B - done)
            parts.append(np.asarray(stat(x[rng.integers(0, n, (b, n))]), dtype=float))
            done += b
        reps = np.concatenate(parts)
    lo, hi = np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0])
    return (float(lo), float(hi))


def paired_bootstrap(a: Sequence[float], b: Sequence[float], B: int = 2000,
                     rng: np.random.Generator | None = None, alpha: float = 0.05) -> dict:
    """Paired bootstrap of mean(a) - mean(b): one index set applied to both arrays (§5.2)."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError("paired arrays must have the same shape")
    d = a - b
    lo, hi = bootstrap_ci(d, B=B, rng=rng, alpha=alpha)  # mean(a[idx]) - mean(b[idx]) == mean(d[idx])
    return {"delta": float(d.mean()), "ci": (lo, hi), "n": int(d.size)}


def sign_flip_test(d: Sequence[float], B: int = 10_000, rng: np.random.Generator | None = None) -> float:
    """Two-sided sign-flip permutation p-value for mean(d) = 0 (§5.2).

    p = (1 + #{|mean(s·d)| ≥ |mean(d)|}) / (B + 1), s uniform on {±1}ⁿ.
    A relative tolerance treats floating-point ties as ties.
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    if n == 0:
        return 1.0
    rng = _default_rng(rng)
    obs = abs(d.mean())
    tol = 1e-12 * max(1.0, obs)
    hits = 0
    chunk = max(1, min(B, 4_000_000 // max(1, n)))
    done = 0
    while done < B:
        b = min(chunk, B - done)
        s = rng.integers(0, 2, (b, n), dtype=np.int8) * 2 - 1
        hits += int((np.abs((s * d).mean(axis=1)) >= obs - tol).sum())
        done += b
    return (1.0 + hits) / (B + 1.0)


# ---------------------------------------------------------------------------------------------
# §5.3 multiple comparisons
# ---------------------------------------------------------------------------------------------

def benjamini_hochberg(pvalues: Sequence[float]) -> np.ndarray:
    """BH adjusted p-values (q-values), in input order.  NaN p-values count as 1, never dropped.

    q_(i) = min_{j ≥ i} min(1, m·p_(j)/j), a reverse cumulative minimum over sorted p.
    """
    p = np.asarray(pvalues, dtype=float).copy()
    m = p.size
    if m == 0:
        return p
    p[np.isnan(p)] = 1.0
    order = np.argsort(p, kind="stable")
    ranked = p[order] * m / np.arange(1, m + 1)
    q_sorted = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    q = np.empty(m)
    q[order] = q_sorted  # scatter through the permutation: ranks, not argsort()+1
    return q


def benjamini_yekutieli(pvalues: Sequence[float]) -> np.ndarray:
    """BY adjusted p-values: BH times Σ_{i≤m} 1/i, valid under arbitrary dependence."""
    p = np.asarray(pvalues, dtype=float)
    m = p.size
    if m == 0:
        return p.copy()
    c_m = float((1.0 / np.arange(1, m + 1)).sum())
    return np.minimum(1.0, benjamini_hochberg(np.where(np.isnan(p), 1.0, np.minimum(1.0, p * c_m))))


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm step-down adjusted p-values (FWER) for a few headline comparisons."""
    p = np.asarray(pvalues, dtype=float).copy()
    m = p.size
    if m == 0:
        return p
    p[np.isnan(p)] = 1.0
    order = np.argsort(p, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


# ---------------------------------------------------------------------------------------------
# §5.1 McNemar, §8 Fisher / Welch / Newcombe
# ---------------------------------------------------------------------------------------------

#: Discordant pairs up to which the exact rational sum is used; above it the big-integer sum
#: gets slow (≈0.5 s at 5000) and the same binomial tail is summed in log space
#: (relative error ~1e-12).
MCNEMAR_EXACT_MAX = 1000


def mcnemar_exact(b: int, c: int) -> tuple[float, float]:
    """Exact McNemar test on the discordant counts b, c: (p_exact, p_mid) (§5.1).

    p_exact = min(1, 2·P(X ≤ min(b, c))) for X ~ Binomial(b + c, ½); p_mid subtracts the
    point probability of min(b, c) (shown, never used for decisions).  No discordant
    pair gives (1, 1).
    """
    b, c = int(b), int(c)
    m = b + c
    if m == 0:
        return (1.0, 1.0)
    lo = min(b, c)
    if m <= MCNEMAR_EXACT_MAX:
        tail = Fraction(sum(math.comb(m, i) for i in range(lo + 1)), 2 ** m)
        point = Fraction(math.comb(m, lo), 2 ** m)
        p_exact = min(Fraction(1), 2 * tail)
        return (float(p_exact), float(p_exact - point))
    i = np.arange(lo + 1)
    logf = _log_factorials(m)
    logpmf = logf[m] - logf[i] - logf[m - i] - m * math.log(2.0)
    p_exact = min(1.0, 2.0 * math.exp(_logsumexp(logpmf)))
    return (p_exact, max(0.0, p_exact - math.exp(float(logpmf[-1]))))


_LOGFACT = np.zeros(1)


def _log_factorials(n: int) -> np.ndarray:
    """log(i!) for i = 0..n from math.lgamma (exact to double precision), cached and grown."""
    global _LOGFACT
    if _LOGFACT.size <= n:
        size = max(n + 1, 2 * _LOGFACT.size)
        _LOGFACT = np.array([math.lgamma(i + 1.0) for i in range(size)])
    return _LOGFACT


def _logsumexp(x: np.ndarray) -> float:
    if x.size == 0:
        return -math.inf
    mx = float(x.max())
    if mx == -math.inf:
        return mx
    return mx + math.log(float(np.exp(x - mx).sum()))


def fisher_one_sided(k_s: int, n_s: int, k_rest: int, n_rest: int) -> float:
    """One-sided Fisher exact p for "success rate in S > rate in the rest" (§8 step 3).

    With K = k_s + k_rest successes among N = n_s + n_rest items and n_s drawn into S,
    p = P(X ≥ k_s) for X ~ Hypergeometric(N, K, n_s), summed in log space from
    log-factorials (math.lgamma).  "Success" here is whatever is counted: the slice
    finder passes failures.
    """
    k_s, n_s, k_rest, n_rest = int(k_s), int(n_s), int(k_rest), int(n_rest)
    if n_s <= 0 or n_rest < 0 or not (0 <= k_s <= n_s) or not (0 <= k_rest <= n_rest):
        raise ValueError("need 0 <= k <= n for both groups and n_s > 0")
    N = n_s + n_rest
    K = k_s + k_rest
    hi = min(K, n_s)
    if k_s > hi:
        return 0.0
    lf = _log_factorials(N)
    x = np.arange(k_s, hi + 1)
    logpmf = (lf[K] - lf[x] - lf[K - x]) + (lf[N - K] - lf[n_s - x] - lf[N - K - n_s + x]) \
        - (lf[N] - lf[n_s] - lf[N - n_s])
    return float(min(1.0, math.exp(_logsumexp(logpmf))))


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction for the regularised incomplete beta (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        de = d * c
        h *= de
        if abs(de - 1.0) < 3e-14:
            break
    return h


def betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) (Numerical Recipes §6.4)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    lbt = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1.0 - math.exp(lbt) * _betacf(b, a, 1.0 - x) / b


def student_t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with (possibly fractional) df; normal beyond df = 1e7."""
    if math.isnan(t) or math.isnan(df) or df <= 0:
        return math.nan
    if df > 1e7:
        return 1.0 - _NORMAL.cdf(t)
    tail = 0.5 * betainc(df / 2.0, 0.5, df / (df + t * t))
    return tail if t >= 0 else 1.0 - tail


def welch_t_one_sided(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Welch t-test p-value for H1: mean(x) > mean(y).

    NaN when either group has fewer than two items.  With zero variance in both groups
    the test degenerates: p = 0 if mean(x) > mean(y), else 1.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    nx, ny = x.size, y.size
    if nx < 2 or ny < 2:
        return math.nan
    vx, vy = float(x.var(ddof=1)), float(y.var(ddof=1))
    diff = float(x.mean() - y.mean())
    return _welch_p(diff, vx / nx, vy / ny, nx, ny)


def _welch_p(diff: float, ax: float, ay: float, nx: int, ny: int) -> float:
    se2 = ax + ay
    if se2 <= 0.0:
        return 0.0 if diff > 0 else 1.0
    denom = (ax * ax / (nx - 1) if ax > 0 else 0.0) + (ay * ay / (ny - 1) if ay > 0 else 0.0)
    df = se2 * se2 / denom if denom > 0 else float(nx + ny - 2)
    return student_t_sf(diff / math.sqrt(se2), df)


def newcombe_diff_ci(k1: float, n1: float, k2: float, n2: float, alpha: float = 0.05) -> tuple[float, float]:
    """Newcombe (1998) hybrid-score interval for p1 - p2 from two Wilson intervals (§8 step 4)."""
    p1 = k1 / n1 if n1 else 0.0
    p2 = k2 / n2 if n2 else 0.0
    l1, u1 = wilson(k1, n1, alpha)
    l2, u2 = wilson(k2, n2, alpha)
    d = p1 - p2
    return (d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2))


# ---------------------------------------------------------------------------------------------
# §7.2 confidence-sequence boundary (used by the live scoreboard)
# ---------------------------------------------------------------------------------------------

def normal_mixture_halfwidth(t: int | np.ndarray, v_opt: float, alpha: float = 0.05) -> float | np.ndarray:
    """Two-sided normal-mixture confidence-sequence half-width for a mean of [0,1] scores.

    Howard et al. (2021): v = t/4 (¼-sub-Gaussian), ρ tuned so the bound is tightest at
    intrinsic time v_opt; half-width = (1/t)·sqrt((v+ρ)(ln(1+v/ρ) + 2 ln(1/α))).
    """
    la = math.log(1.0 / alpha)
    rho = v_opt / (2.0 * la + math.log(1.0 + 2.0 * la))
    t_arr = np.asarray(t, dtype=float)
    v = t_arr / 4.0
    with np.errstate(divide="ignore", invalid="ignore"):
        hw = np.sqrt((v + rho) * (np.log1p(v / rho) + 2.0 * la)) / t_arr
    hw = np.where(t_arr > 0, hw, np.inf)
    return float(hw) if np.ndim(t) == 0 else hw
