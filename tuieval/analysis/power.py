"""Power: the smallest effect a test on this many cases could detect (docs/statistics.md §4.4).

A test that finds nothing says either "there is no difference" or "this many cases
could not have shown one".  The minimum detectable effect (MDE) tells them apart: the
smallest true difference that the test, at the level it is judged at, would detect
with probability `POWER` (80%).  A slice or comparison whose MDE is larger than any
difference you care about is blind to it; "not significant" there is no evidence of
no regression.

Both formulas are the normal approximations of the test actually used, solved for the
effect δ instead of for n, with a continuity correction of half the step of the test
statistic because the tests are exact or permutation tests on a lattice (without it
the exact tests reach only ~70% power at the uncorrected MDE; with it 77–82% in the
checks of tests/unit/test_power.py).  docs/statistics.md §4.4 has the derivations and
a worked example.

- `slice_mde`, a slice S against the rest R (the one-sided slice-flagging test of §8,
  failure rates): the two-proportion z-test sample-size equation (Fleiss)

      fisher (0/1 scores):  δ = cc + z_a·√(p̄(1−p̄)(1/n_S + 1/n_R)) + z_b·√(V)
      welch (fractional):   δ = (z_a + z_b)·√(D·V)
      V = p_S(1−p_S)/n_S + p_R(1−p_R)/n_R

  with p_R the observed failure rate of the rest, p_S = p_R + δ, p̄ their weighted
  mean, z_a = z_{1−level} (one-sided), z_b = z_{POWER}, the Yates term
  cc = (1/n_S + 1/n_R)/2, and D the design effect of per-case scores that are means of
  K samples.  Fisher's test conditions on the pooled margin, hence the pooled null
  variance; Welch's uses each group's own variance under the alternative too.
- `paired_mde`, a paired comparison (McNemar for 0/1 scores, sign-flip otherwise):
  Connor's (1987) McNemar approximation in terms of the second moment of the per-case
  differences, s2 = mean(d²) (the discordance rate (b + c)/n for 0/1 scores):

      δ·√n = z_a·√s2(δ) + z_b·√(s2(δ) − δ²) + 1/(K·√n),   s2(δ) = max(s2_observed, δ/K)

  two-sided (z_a = z_{1−level/2}).  δ/K is the least second moment a true difference δ
  can have when per-case scores move in steps of 1/K, so a run with no discordant case
  still gets a finite, honest MDE instead of zero; 1/(K·n) is half the step of mean(d).

Each returns None when no effect up to the largest possible one (every case flipping)
would be detected: the test cannot see anything at that size.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Callable

#: Target power of every MDE tuieval reports.
POWER = 0.8

_N = NormalDist()
_GRID = 400  # scan points before bisection: finds the first crossing, not just any


def _smallest_root(g: Callable[[float], float], lo: float, hi: float) -> float | None:
    """The smallest x in (lo, hi] with g(x) ≥ 0, or None; g(lo) < 0 is assumed.

    g need not be monotone: a grid scan finds the first sign change, bisection refines it.
    """
    if hi <= lo:
        return None
    prev = lo
    for i in range(1, _GRID + 1):
        x = lo + (hi - lo) * i / _GRID
        if g(x) >= 0.0:
            a, b = prev, x
            for _ in range(60):
                mid = 0.5 * (a + b)
                if g(mid) >= 0.0:
                    b = mid
                else:
                    a = mid
            return b
        prev = x
    return None


def design_effect(mean: float, variance: float, samples_per_case: float | None = None) -> float:
    """Var(per-case score) / (p̄(1−p̄)): 1 for 0/1 scores, down to 1/K for means of K independent samples.

    `variance` is the population variance (ddof = 0) of the per-case scores, `mean` their
    mean.  Undefined (p̄ ∈ {0, 1}) → 1, the conservative value.  Floored at
    1/`samples_per_case` (no within-case correlation) when that is given.
    """
    if not 0.0 < mean < 1.0:
        return 1.0
    d = min(1.0, max(0.0, variance / (mean * (1.0 - mean))))
    floor = 1.0 / samples_per_case if samples_per_case and samples_per_case >= 1 else 0.0
    d = max(d, floor)
    return d if d > 0.0 else 1.0


def slice_mde(n_slice: int, n_rest: int, rest_rate: float, level: float, *, test: str = "fisher",
              deff: float = 1.0, power: float = POWER) -> float | None:
    """Smallest increase δ of a slice's failure rate over the rest's that a one-sided test at `level` detects.

    `rest_rate` is the failure rate of the rest (the baseline the slice is compared
    with), `level` the per-test significance level (α, or α/m when m tests share a
    false-discovery budget), `test` "fisher" (0/1 scores) or "welch" (fractional
    scores, with `deff` their design effect).  None when
    even δ = 1 − rest_rate (the slice failing every case) would not be detected, or a
    group is empty.
    """
    if n_slice < 1 or n_rest < 1 or not 0.0 < level < 1.0 or not 0.0 <= rest_rate <= 1.0:
        return None
    za = _N.inv_cdf(1.0 - level)
    zb = _N.inv_cdf(power)
    n = n_slice + n_rest
    pr = rest_rate
    if test not in ("fisher", "welch"):
        raise ValueError(f"test must be fisher or welch, got {test!r}")
    fisher = test == "fisher"
    cc = 0.5 * (1.0 / n_slice + 1.0 / n_rest) if fisher else 0.0

    def g(delta: float) -> float:
        ps = pr + delta
        v = max(0.0, ps * (1.0 - ps) / n_slice + pr * (1.0 - pr) / n_rest)
        if fisher:
            pbar = (n_slice * ps + n_rest * pr) / n
            return delta - cc - za * math.sqrt(pbar * (1.0 - pbar) * (1.0 / n_slice + 1.0 / n_rest)) - zb * math.sqrt(v)
        return delta - (za + zb) * math.sqrt(deff * v)

    return _smallest_root(g, 0.0, 1.0 - pr)


def paired_mde(n: int, second_moment: float, level: float, *, samples_per_case: int = 1,
               power: float = POWER) -> float | None:
    """Smallest |mean difference| a two-sided paired test at `level` detects on `n` cases.

    `second_moment` = mean(d_i²) of the observed per-case differences (for 0/1 scores the
    discordance rate (b + c)/n); `samples_per_case` = K, the finest step of a per-case
    score (1/K).  None when even a difference of 1 (every case flipping) would not be
    detected.
    """
    if n < 1 or not 0.0 < level < 1.0:
        return None
    za = _N.inv_cdf(1.0 - level / 2.0)
    zb = _N.inv_cdf(power)
    k = max(1, int(samples_per_case))
    s2_obs = max(0.0, float(second_moment))
    root_n = math.sqrt(n)
    cc = 1.0 / (k * root_n)

    def g(delta: float) -> float:
        s2 = max(s2_obs, delta / k)
        return delta * root_n - cc - za * math.sqrt(s2) - zb * math.sqrt(max(0.0, s2 - delta * delta))

    return _smallest_root(g, 0.0, 1.0)
