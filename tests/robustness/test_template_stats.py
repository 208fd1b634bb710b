"""Template sensitivity statistics against closed forms and hand calculations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from tuieval.analysis.distributions import chi2_sf
from tuieval.analysis.robustness.templates import cochran_q, template_sensitivity
from tuieval.analysis.robustness.templates import permutation_test


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.7, 7.5, 30.0, 120.0])
def test_chi2_sf_matches_closed_forms(x):
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-12, abs=1e-300)
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-10, abs=1e-300)
    assert chi2_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-10, abs=1e-300)
    assert chi2_sf(0.0, 3) == 1.0


def test_cochran_q_by_hand():
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0], [1, 0, 1]])
    # C = (4, 2, 2), R = (2, 1, 3, 0, 2), N = 8, T = 3:
    # Q = 2 (3·24 − 64) / (3·8 − 18) = 16/6; p = exp(−Q/2) for 2 df
    q, p = cochran_q(x)
    assert q == pytest.approx(16 / 6)
    assert p == pytest.approx(math.exp(-8 / 6))


def test_cochran_q_with_two_templates_is_mcnemars_chi_square():
    rng = np.random.default_rng(3)
    x = (rng.random((60, 2)) < [0.7, 0.5]).astype(int)
    b = int(((x[:, 0] == 1) & (x[:, 1] == 0)).sum())
    c = int(((x[:, 0] == 0) & (x[:, 1] == 1)).sum())
    q, _ = cochran_q(x)
    assert q == pytest.approx((b - c) ** 2 / (b + c))


def test_cochran_q_without_discordant_cases_is_undefined_not_significant():
    assert cochran_q(np.array([[1, 1], [0, 0], [1, 1]])) == (None, 1.0)


def test_permutation_p_matches_exact_enumeration():
    x = np.array([[1.0, 0.5, 0.0], [0.75, 0.25, 0.5], [1.0, 0.0, 0.25], [0.5, 0.5, 1.0]])

    def ss(m):
        means = m.mean(axis=0)
        return ((means - means.mean()) ** 2).sum()

    obs = ss(x)
    perms = list(itertools.permutations(range(3)))
    hits = total = 0
    for choice in itertools.product(perms, repeat=x.shape[0]):
        m = np.array([row[list(p)] for row, p in zip(x, choice)])
        hits += ss(m) >= obs - 1e-12
        total += 1
    exact = hits / total
    stat, p = permutation_test(x, 20_000, np.random.default_rng(0))
    assert stat == pytest.approx(obs)
    assert abs(p - exact) < 0.015, (p, exact)


def test_section_lists_flips_and_spread():
    scores = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [1, 0], [np.nan, 1]], dtype=float)
    out = template_sensitivity(scores, ["a", "b", "c", "d", "e", "f"], ["plain", "terse"], binary=True, B=500)
    assert out["n_cases"] == 5 and out["n_incomplete_cases"] == 1
    accs = {t["template"]: t["accuracy"] for t in out["templates"]}
    assert accs == {"plain": pytest.approx(3 / 5), "terse": pytest.approx(2 / 5)}
    assert out["spread"]["value"] == pytest.approx(0.2)
    assert out["spread"]["best"] == "plain" and out["spread"]["worst"] == "terse"
    lo, hi = out["spread"]["ci"]
    assert 0.0 <= lo <= hi <= 1.0
    assert out["flip_rate"]["n_flipped"] == 3 and out["flip_rate"]["value"] == pytest.approx(3 / 5)
    assert [c["id"] for c in out["dependent_cases"]] == ["b", "c", "e"]
    # b = 2 (plain only), c = 1 (terse only): McNemar's chi-square 1/3, 1 df
    assert out["test"]["statistic"] == pytest.approx(1 / 3)
    assert out["test"]["p_value"] == pytest.approx(math.erfc(math.sqrt(1 / 6)))


def test_one_template_has_no_section():
    assert template_sensitivity(np.ones((3, 1)), ["a", "b", "c"], ["only"], binary=True) is None


def test_cochran_q_golden_vector():
    # docs/statistics.md §10 check values (statsmodels.stats.contingency_tables.cochrans_q)
    x = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0], [1, 1, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]])
    q, p = cochran_q(x)
    assert q == pytest.approx(7.0) and p == pytest.approx(0.0301974, abs=1e-7)
