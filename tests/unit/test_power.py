"""Minimum detectable effects (tuieval.analysis.power) against independent calculations.

Expected values come from (a) the exact power of the exact test the MDE is meant for,
enumerated here with math.comb over every outcome (McNemar's exact test for paired
0/1 scores, Fisher's one-sided exact test for a slice against the rest), which must be
close to the 80% the MDE promises; (b) the same closed-form equation solved by
fixed-point iteration instead of the module's scan-and-bisect; (c) a seeded simulation
for fractional scores.  The worked examples are the ones docs/statistics.md §4.4 prints.
"""

from __future__ import annotations

import math
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import pytest

from tuieval.analysis.power import POWER, design_effect, paired_mde, slice_mde

N = NormalDist()


def _binpmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 1.0 if k == 0 else 0.0
    if p >= 1.0:
        return 1.0 if k == n else 0.0
    return math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                    + k * math.log(p) + (n - k) * math.log1p(-p))


@lru_cache(maxsize=None)
def _mcnemar_p(b: int, c: int) -> float:
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m)


def _mcnemar_power(n: int, psi: float, delta: float, alpha: float) -> float:
    """Exact power of the two-sided exact McNemar test: discordant with probability psi,
    of which a share (1 + delta/psi)/2 favour the candidate."""
    pi = (1 + delta / psi) / 2
    total = 0.0
    for m in range(n + 1):
        pm = _binpmf(m, n, psi)
        if pm < 1e-13:
            continue
        total += pm * sum(_binpmf(c, m, pi) for c in range(m + 1) if _mcnemar_p(m - c, c) <= alpha)
    return total


def _fisher_p(ks: int, ns: int, kr: int, nr: int) -> float:
    K, Nt = ks + kr, ns + nr
    return sum(math.comb(K, x) * math.comb(Nt - K, ns - x) for x in range(ks, min(K, ns) + 1)) / math.comb(Nt, ns)


def _fisher_power(ns: int, nr: int, ps: float, pr: float, level: float) -> float:
    total = 0.0
    for ks in range(ns + 1):
        a = _binpmf(ks, ns, ps)
        if a < 1e-12:
            continue
        for kr in range(nr + 1):
            b = _binpmf(kr, nr, pr)
            if b >= 1e-12 and _fisher_p(ks, ns, kr, nr) <= level:
                total += a * b
    return total


def _fixed_point_paired(n: int, s2_obs: float, alpha: float, k: int = 1) -> float:
    za, zb = N.inv_cdf(1 - alpha / 2), N.inv_cdf(POWER)
    d = 0.5
    for _ in range(2000):
        s2 = max(s2_obs, d / k)
        d = (za * math.sqrt(s2) + zb * math.sqrt(max(0.0, s2 - d * d)) + 1 / (k * math.sqrt(n))) / math.sqrt(n)
    return d


def _fixed_point_slice(ns: int, nr: int, pr: float, level: float) -> float:
    za, zb = N.inv_cdf(1 - level), N.inv_cdf(POWER)
    d = 0.3
    for _ in range(5000):
        ps = pr + d
        pb = (ns * ps + nr * pr) / (ns + nr)
        d = (0.5 * (1 / ns + 1 / nr) + za * math.sqrt(pb * (1 - pb) * (1 / ns + 1 / nr))
             + zb * math.sqrt(ps * (1 - ps) / ns + pr * (1 - pr) / nr))
    return d


# -- paired comparisons -------------------------------------------------------------------------

def test_worked_example_paired():
    # docs/statistics.md §4.4: 200 paired cases, 20% discordant, alpha 0.05 → 9.3 points
    assert paired_mde(200, 0.2, 0.05) == pytest.approx(0.093012, abs=5e-6)
    assert paired_mde(200, 0.2, 0.05) == pytest.approx(_fixed_point_paired(200, 0.2, 0.05), abs=1e-9)


@pytest.mark.parametrize("n, psi, alpha", [(200, 0.2, 0.05), (400, 0.15, 0.01), (120, 0.3, 0.05 / 6),
                                           (60, 0.4, 0.05)])
def test_exact_mcnemar_power_at_the_mde_is_about_80_percent(n, psi, alpha):
    delta = paired_mde(n, psi, alpha)
    assert delta is not None and delta < psi
    assert 0.74 <= _mcnemar_power(n, psi, delta, alpha) <= 0.86
    # and a difference half as large is clearly missed more often
    assert _mcnemar_power(n, psi, delta / 2, alpha) < 0.5


def test_no_discordant_case_still_gives_a_finite_mde():
    # every discordant case in one direction is the least-variance way to differ by delta
    d = paired_mde(100, 0.0, 0.05)
    assert d == pytest.approx(_fixed_point_paired(100, 0.0, 0.05), abs=1e-9)
    assert 0.05 < d < 0.15
    # with discordance psi = d all in the candidate's favour, the exact test then has power ≥ 80%
    assert _mcnemar_power(100, d, d, 0.05) >= 0.8


def test_fractional_scores_use_the_observed_second_moment_and_step():
    assert paired_mde(300, 0.05, 0.05, samples_per_case=3) == pytest.approx(
        _fixed_point_paired(300, 0.05, 0.05, k=3), abs=1e-9)
    # finer steps (more samples per case) lower the floor when nothing was discordant
    assert paired_mde(100, 0.0, 0.05, samples_per_case=5) < paired_mde(100, 0.0, 0.05, samples_per_case=1)


def test_too_few_cases_can_detect_nothing():
    # 2 cases: even both flipping (McNemar p = 0.5) is not significant
    assert paired_mde(2, 0.5, 0.05) is None
    assert paired_mde(0, 0.5, 0.05) is None


def test_more_cases_detect_smaller_differences():
    ds = [paired_mde(n, 0.2, 0.05) for n in (50, 100, 200, 400, 800)]
    assert all(a > b for a, b in zip(ds, ds[1:]))
    # the leading term shrinks like 1/sqrt(n)
    assert ds[2] / ds[4] == pytest.approx(2.0, rel=0.1)


# -- a slice against the rest -------------------------------------------------------------------

def test_worked_example_slice():
    # docs/statistics.md §4.4: 32 cases against 168 whose failure rate is 10%, 8 tests at alpha 0.05
    d = slice_mde(32, 168, 0.10, 0.05 / 8)
    assert d == pytest.approx(0.260663, abs=5e-6)
    assert d == pytest.approx(_fixed_point_slice(32, 168, 0.10, 0.05 / 8), abs=1e-9)


@pytest.mark.parametrize("ns, nr, pr, level", [(32, 168, 0.10, 0.05), (32, 168, 0.10, 0.05 / 8),
                                               (84, 116, 0.10, 0.05 / 8), (60, 60, 0.30, 0.05)])
def test_exact_fisher_power_at_the_mde_is_about_80_percent(ns, nr, pr, level):
    d = slice_mde(ns, nr, pr, level)
    assert d is not None
    assert 0.74 <= _fisher_power(ns, nr, pr + d, pr, level) <= 0.86
    assert _fisher_power(ns, nr, pr + d / 2, pr, level) < 0.5


def test_fractional_failures_simulated_power_matches():
    # three independent samples per case: per-case failure f = Bin(3, p)/3, one-sided z test
    # on the difference of means with the observed variances (Welch at this n), level 0.01
    rng = np.random.default_rng(20261201)
    ns, nr, pr, level = 150, 450, 0.2, 0.01
    deff = design_effect(pr, pr * (1 - pr) / 3, samples_per_case=3)
    assert deff == pytest.approx(1 / 3)
    d = slice_mde(ns, nr, pr, level, test="welch", deff=deff)
    # by hand: δ = (z_0.99 + z_0.8)·√(D·(p_S(1−p_S)/150 + 0.16/450)), p_S = 0.2 + δ
    za, zb = N.inv_cdf(0.99), N.inv_cdf(0.8)
    x = 0.1
    for _ in range(200):
        x = (za + zb) * math.sqrt((1 / 3) * ((pr + x) * (1 - pr - x) / ns + pr * (1 - pr) / nr))
    assert d == pytest.approx(x, abs=1e-9)
    sims = 4000
    fs = rng.binomial(3, pr + d, (sims, ns)) / 3
    fr = rng.binomial(3, pr, (sims, nr)) / 3
    z = (fs.mean(1) - fr.mean(1)) / np.sqrt(fs.var(1, ddof=1) / ns + fr.var(1, ddof=1) / nr)
    power = float((z > N.inv_cdf(1 - level)).mean())
    assert abs(power - POWER) < 0.03


def test_a_slice_that_cannot_fail_more_detects_nothing():
    assert slice_mde(5, 5, 0.5, 0.001) is None
    assert slice_mde(0, 10, 0.1, 0.05) is None
    assert slice_mde(10, 10, 1.0, 0.05) is None


def test_design_effect():
    assert design_effect(0.3, 0.21) == 1.0          # 0/1 scores: var = p(1-p)
    assert design_effect(0.0, 0.0) == 1.0           # undefined → conservative
    assert design_effect(0.3, 0.0, samples_per_case=4) == 0.25  # floored at 1/K
