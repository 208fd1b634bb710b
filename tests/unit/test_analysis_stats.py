"""Numeric core against the docs/statistics.md check values, brute force and simulation."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.analysis.stats import (
    benjamini_hochberg,
    benjamini_yekutieli,
    betainc,
    bootstrap_ci,
    clt_se,
    clustered_se,
    eligible_ks,
    fisher_one_sided,
    holm,
    jeffreys,
    json_float,
    mcnemar_exact,
    mean_ci_items,
    mean_pass_at_k,
    mean_pass_hat_k,
    newcombe_diff_ci,
    normal_mixture_halfwidth,
    paired_bootstrap,
    pass_at_k,
    pass_hat_k,
    sign_flip_test,
    student_t_sf,
    welch_t_one_sided,
    wilson,
    wilson_array,
    z_value,
)


def test_z():
    assert z_value(0.05) == pytest.approx(1.959964, abs=1e-6)
    with pytest.raises(ValueError):
        z_value(0.0)


# -- §3 pass@k / pass^k -------------------------------------------------------------------------

@pytest.mark.parametrize("n,c,k,at,hat", [
    (10, 3, 5, 0.916667, 0.0), (10, 8, 3, 1.0, 0.466667), (200, 20, 10, 0.660226, None),
])
def test_pass_check_values(n, c, k, at, hat):
    assert pass_at_k(n, c, k) == pytest.approx(at, abs=1e-6)
    if hat is not None:
        assert pass_hat_k(n, c, k) == pytest.approx(hat, abs=1e-6)


def test_pass_matches_combinatorial_definition():
    for n in range(1, 13):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(1 - math.comb(n - c, k) / math.comb(n, k), abs=1e-12)
                assert pass_hat_k(n, c, k) == pytest.approx(math.comb(c, k) / math.comb(n, k), abs=1e-12)


def test_pass_at_1_is_c_over_n_and_k_must_fit():
    assert pass_at_k(7, 3, 1) == pytest.approx(3 / 7) == pass_hat_k(7, 3, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 4)
    with pytest.raises(ValueError):
        pass_hat_k(3, 1, 0)


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_monotone_in_k(nc):
    n, c = nc
    at = [pass_at_k(n, c, k) for k in range(1, n + 1)]
    hat = [pass_hat_k(n, c, k) for k in range(1, n + 1)]
    assert all(b >= a - 1e-12 for a, b in zip(at, at[1:]))
    assert all(b <= a + 1e-12 for a, b in zip(hat, hat[1:]))
    assert all(0.0 <= x <= 1.0 for x in at + hat)


def test_task_means_report_only_allowed_k():
    ns, cs = [10, 10, 3], [3, 8, 1]
    assert eligible_ks(ns) == [1, 2, 3]
    at = mean_pass_at_k(ns, cs)
    assert set(at) == {1, 2, 3}
    assert at[1] == pytest.approx(np.mean([0.3, 0.8, 1 / 3]))
    assert at[3] == pytest.approx(np.mean([pass_at_k(10, 3, 3), pass_at_k(10, 8, 3), pass_at_k(3, 1, 3)]))
    hat = mean_pass_hat_k(ns, cs, ks=[1, 5])
    assert set(hat) == {1}
    assert eligible_ks([10, 10]) == [1, 2, 3, 5, 10]


# -- §4.1 Wilson ------------------------------------------------------------------------------------

@pytest.mark.parametrize("k,n,lo,hi", [
    (0, 10, 0.0, 0.2775), (9, 10, 0.5958, 0.9821), (45, 50, 0.7864, 0.9565),
    (10, 10, 0.722467, 1.0), (5, 10, 0.236593, 0.763407),
])
def test_wilson_check_values(k, n, lo, hi):
    got = wilson(k, n)
    tol = 1e-4 if len(str(lo)) <= 6 else 1e-6
    assert got[0] == pytest.approx(lo, abs=tol) and got[1] == pytest.approx(hi, abs=tol)


def test_wilson_zero_successes_upper_bound_and_rule_of_three():
    lo, hi = wilson(0, 30)
    assert lo == 0.0 and hi == pytest.approx(0.1135, abs=1e-4)
    z2 = z_value() ** 2
    assert hi == pytest.approx(z2 / (30 + z2))
    assert hi < 3 / 30 * 1.2


def test_wilson_n0_is_vacuous():
    assert wilson(0, 0) == (0.0, 1.0)
    lo, hi = wilson_array(np.array([0, 3]), np.array([0, 10]))
    assert (lo[0], hi[0]) == (0.0, 1.0)
    assert (lo[1], hi[1]) == pytest.approx(wilson(3, 10))


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
       st.sampled_from([0.01, 0.05, 0.1, 0.32]))
def test_wilson_in_unit_interval_and_contains_phat(kn, alpha):
    k, n = kn
    lo, hi = wilson(k, n, alpha)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    vlo, vhi = wilson_array(np.array([k]), np.array([n]), alpha)
    assert vlo[0] == pytest.approx(lo, abs=1e-12) and vhi[0] == pytest.approx(hi, abs=1e-12)


def test_wilson_coverage_simulation():
    # 20,000 simulated slices with n ∈ [30, 300] and p ∈ [0.1, 0.9]: 95% Wilson should
    # cover the true rate 93–97% of the time (Monte-Carlo SE ≈ 0.0015).
    rng = np.random.default_rng(20240501)
    R = 20_000
    n = rng.integers(30, 301, R)
    p = rng.uniform(0.1, 0.9, R)
    k = rng.binomial(n, p)
    lo, hi = wilson_array(k, n)
    coverage = float(((lo <= p) & (p <= hi)).mean())
    assert 0.93 <= coverage <= 0.97, coverage
    # and Wald under-covers at small n near the edges: the reason Wilson is the default
    n2 = np.full(R, 20)
    p2 = np.full(R, 0.1)
    k2 = rng.binomial(n2, p2)
    ph = k2 / n2
    half = 1.959964 * np.sqrt(ph * (1 - ph) / n2)
    assert float(((ph - half <= p2) & (p2 <= ph + half)).mean()) < 0.90


def test_jeffreys_close_to_wilson_in_the_middle():
    lo, hi = jeffreys(45, 50, rng=np.random.default_rng(1))
    assert lo == pytest.approx(0.79, abs=0.02) and hi == pytest.approx(0.96, abs=0.02)
    assert jeffreys(0, 10)[0] == 0.0 and jeffreys(10, 10)[1] == 1.0


# -- §4.3 standard errors ---------------------------------------------------------------------------

def test_clt_se_formula_and_binary_case():
    s = np.array([1, 0, 1, 1, 0, 1, 1, 1.0])
    n, m = s.size, s.mean()
    assert clt_se(s) == pytest.approx(math.sqrt(((s - m) ** 2).sum() / (n * (n - 1))))
    assert clt_se(s) == pytest.approx(math.sqrt(m * (1 - m) / (n - 1)))
    assert clt_se([1.0]) is None


def test_clustered_se():
    s = np.array([0.2, 0.4, 0.9, 1.0, 0.1, 0.3])
    # every item its own cluster: C/(C-1)·Σ(s-s̄)²/n² equals the CLT SE exactly
    assert clustered_se(s, range(6)) == pytest.approx(clt_se(s))
    assert clustered_se(s, ["a"] * 6) is None
    cl = ["a", "a", "b", "b", "c", "c"]
    d = s - s.mean()
    sums = np.array([d[:2].sum(), d[2:4].sum(), d[4:].sum()])
    assert clustered_se(s, cl) == pytest.approx(math.sqrt(1.5 * (sums ** 2).sum() / 36))


def test_mean_ci_items_methods():
    assert mean_ci_items([1, 0, 1, 1])["method"] == "wilson"
    assert mean_ci_items([1, 0, 1, 1])["ci"] == pytest.approx(list(wilson(3, 4)))
    r = mean_ci_items([0.5, 0.7, 0.9, 0.2])
    assert r["method"] == "clt"
    z = z_value()
    assert r["ci"] == pytest.approx([r["mean"] - z * r["se"], r["mean"] + z * r["se"]])
    assert mean_ci_items([0.5, 0.5])["method"] == "wilson-fallback"
    assert mean_ci_items([])["mean"] is None
    r = mean_ci_items([0.1, 0.9, 0.4, 0.6], cluster_ids=["x", "x", "y", "y"])
    assert r["method"] == "clustered" and "warning" in r
    assert mean_ci_items([0.1, 0.9], cluster_ids=["x", "x"])["method"] == "clt"


# -- §4.2 / §5.2 resampling -------------------------------------------------------------------------

def test_bootstrap_deterministic_and_sensible():
    x = np.random.default_rng(0).normal(0.6, 0.2, 300)
    a = bootstrap_ci(x, B=2000, rng=np.random.default_rng(7))
    b = bootstrap_ci(x, B=2000, rng=np.random.default_rng(7))
    assert a == b
    se = x.std(ddof=1) / math.sqrt(x.size)
    assert a[0] == pytest.approx(x.mean() - 1.96 * se, abs=0.01)
    assert a[1] == pytest.approx(x.mean() + 1.96 * se, abs=0.01)
    med = bootstrap_ci(x, stat=lambda r: np.median(r, axis=1), B=500, rng=np.random.default_rng(1))
    assert med[0] < np.median(x) < med[1]
    cl = bootstrap_ci(x, B=300, rng=np.random.default_rng(2), cluster_ids=np.arange(300) // 3)
    assert cl[0] < x.mean() < cl[1]


def test_paired_bootstrap_and_sign_flip():
    rng = np.random.default_rng(5)
    a = rng.random(200)
    b = a - 0.1 + rng.normal(0, 0.02, 200)
    r = paired_bootstrap(a, b, rng=np.random.default_rng(3))
    assert r["ci"][0] > 0.09 and r["ci"][1] < 0.11 and r["n"] == 200
    assert sign_flip_test(a - b, B=2000, rng=np.random.default_rng(4)) == pytest.approx(1 / 2001)
    p_null = sign_flip_test(rng.normal(0, 1, 200), B=2000, rng=np.random.default_rng(4))
    assert p_null > 0.01
    assert sign_flip_test(np.zeros(10), B=100) == 1.0


# -- §5 tests ---------------------------------------------------------------------------------------

def test_mcnemar_check_values():
    p, mid = mcnemar_exact(10, 2)
    assert p == pytest.approx(0.03857, abs=1e-5) and mid == pytest.approx(0.02246, abs=1e-5)
    assert mcnemar_exact(0, 0) == (1.0, 1.0)
    assert mcnemar_exact(3, 3)[0] == 1.0


def test_mcnemar_large_m_log_path():
    b, c = 2600, 2520  # m > 5000 takes the log-space path
    m = b + c
    exact = min(Fraction(1), 2 * Fraction(sum(math.comb(m, i) for i in range(c + 1)), 2 ** m))
    p, mid = mcnemar_exact(b, c)
    assert p == pytest.approx(float(exact), rel=1e-9)
    assert mid == pytest.approx(float(exact - Fraction(math.comb(m, c), 2 ** m)), rel=1e-9)


@pytest.mark.parametrize("b, c", [(700, 800), (1200, 1350), (600, 601), (500, 500), (501, 500), (3, 4000)])
def test_mcnemar_matches_the_binomial_tail_on_both_sides_of_the_exact_limit(b, c):
    # m = 1000 takes the rational sum, m > 1000 the log-space sum: both must give the
    # exact two-sided binomial tail, computed here with integers
    m, lo = b + c, min(b, c)
    tail = Fraction(sum(math.comb(m, i) for i in range(lo + 1)), 2 ** m)
    exact = min(Fraction(1), 2 * tail)
    p, mid = mcnemar_exact(b, c)
    assert p == pytest.approx(float(exact), rel=1e-9)
    assert mid == pytest.approx(float(exact - Fraction(math.comb(m, lo), 2 ** m)), rel=1e-9, abs=1e-300)
    assert 0.0 <= mid <= p <= 1.0


def test_json_float():
    assert json_float(None) is None and json_float(float("nan")) is None and json_float(np.inf) is None
    assert json_float(np.float32(0.5)) == 0.5 and type(json_float(np.int64(3))) is float
    z = json_float(-0.0)
    assert z == 0.0 and math.copysign(1.0, z) == 1.0  # no "-0.0" in a report


def test_bh_check_values():
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.20, 0.005])
    assert q == pytest.approx([0.025, 0.05, 0.05, 0.20, 0.025])
    q = benjamini_hochberg([0.01, np.nan, 0.02])
    assert q[1] == 1.0 and q[0] == pytest.approx(0.03)  # NaN counts in m
    assert benjamini_hochberg([]).size == 0


def test_by_and_holm():
    p = [0.01, 0.04, 0.03, 0.20, 0.005]
    c = sum(1 / i for i in range(1, 6))
    assert benjamini_yekutieli(p) == pytest.approx(np.minimum(1, np.array([0.025, 0.05, 0.05, 0.20, 0.025]) * c))
    # sorted 0.005·5, 0.01·4, 0.03·3, 0.04·2 (raised to 0.09 by the running max), 0.20·1
    assert holm(p) == pytest.approx([0.04, 0.09, 0.09, 0.2, 0.025])


def test_fisher_matches_brute_force():
    for (ks, ns, kr, nr) in [(5, 10, 2, 20), (0, 5, 3, 30), (7, 7, 0, 9), (3, 40, 30, 400), (12, 25, 40, 300)]:
        N, K = ns + nr, ks + kr
        tail = sum(math.comb(K, x) * math.comb(N - K, ns - x) for x in range(ks, min(K, ns) + 1))
        assert fisher_one_sided(ks, ns, kr, nr) == pytest.approx(tail / math.comb(N, ns), rel=1e-9)


def test_student_t_and_welch():
    assert student_t_sf(2.0, 10) == pytest.approx(0.036694, abs=1e-6)
    assert student_t_sf(1.0, 1) == pytest.approx(0.25)  # Cauchy
    for t in (0.3, 1.7, 4.0):
        assert student_t_sf(t, 2) == pytest.approx(0.5 - t / (2 * math.sqrt(t * t + 2)))
        assert student_t_sf(-t, 7.5) == pytest.approx(1 - student_t_sf(t, 7.5))
    assert betainc(2, 3, 0.4) == pytest.approx(0.5248)
    rng = np.random.default_rng(0)
    x, y = rng.normal(0.3, 1, 400), rng.normal(0, 2, 300)
    p = welch_t_one_sided(x, y)
    se = math.sqrt(x.var(ddof=1) / 400 + y.var(ddof=1) / 300)
    from statistics import NormalDist
    assert p == pytest.approx(1 - NormalDist().cdf((x.mean() - y.mean()) / se), abs=2e-3)
    assert math.isnan(welch_t_one_sided([1.0], [0.0, 1.0]))


def test_newcombe_contains_difference():
    lo, hi = newcombe_diff_ci(30, 50, 100, 400)
    assert lo < 0.6 - 0.25 < hi
    assert -1 <= lo and hi <= 1


# -- §7.2 confidence sequence -----------------------------------------------------------------------

def test_normal_mixture_halfwidth_check_values():
    assert normal_mixture_halfwidth(100, 100) == pytest.approx(0.1632, abs=1e-4)
    assert normal_mixture_halfwidth(1000, 100) == pytest.approx(0.0487, abs=1e-4)
    assert normal_mixture_halfwidth(400, 100) == pytest.approx(0.076, abs=1e-3)
    assert normal_mixture_halfwidth(400, 100) > wilson(200, 400)[1] - 0.5


def test_per_task_pass_at_k_is_the_scalar_rule_task_by_task():
    """The vectorised per-task pass@k / pass^k give each task exactly the scalar formula's value
    (fuzzed tasks: several n, every c, including c = 0 and c = n)."""
    import random

    from tuieval.analysis.stats import pass_at_k, pass_hat_k, per_task_pass_at_k, per_task_pass_hat_k

    rng = random.Random(3)
    ns = [rng.choice([3, 5, 10, 12]) for _ in range(400)]
    cs = [rng.randint(0, n) for n in ns]
    for k in (1, 2, 3):
        assert per_task_pass_at_k(ns, cs, k).tolist() == [pass_at_k(n, c, k) for n, c in zip(ns, cs)]
        assert per_task_pass_hat_k(ns, cs, k).tolist() == [pass_hat_k(n, c, k) for n, c in zip(ns, cs)]
    assert per_task_pass_at_k([], [], 1).size == 0
