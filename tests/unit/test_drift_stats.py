"""PSI, χ² homogeneity and coverage for `tuieval drift`, against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuieval.analysis.drift import (OTHER, chi2_homogeneity, compare_counts, merge_sparse, psi, psi_band,
                                    psi_if_same, under_covered)


def test_psi_golden_vector_without_epsilon():
    # p = (0.5, 0.3, 0.2), q = (0.2, 0.3, 0.5): (−0.3)·ln 0.4 + 0 + 0.3·ln 2.5 = 0.6·ln 2.5
    assert psi([50, 30, 20], [20, 30, 50], eps=0) == pytest.approx(0.549774, abs=1e-6)
    assert psi([0.5, 0.3, 0.2], [0.2, 0.3, 0.5], eps=0) == pytest.approx(0.6 * math.log(2.5), rel=1e-12)


def test_psi_empty_bin_is_finite_with_the_stated_epsilon():
    # reference (100, 0), traffic (90, 10), ε = 1e-4 added to each share, then divided by 1.0002:
    # p = (1.0001, 0.0001)/1.0002, q = (0.9001, 0.1001)/1.0002
    expected = (-0.1 / 1.0002) * math.log(0.9001 / 1.0001) + (0.1 / 1.0002) * math.log(0.1001 / 0.0001)
    assert psi([100, 0], [90, 10]) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(0.7013, abs=1e-4)  # by hand: (0.01054 + 0.69088)/1.0002
    assert psi([100, 0], [90, 10], eps=0) == math.inf
    assert psi([0, 0], [1, 2]) is None


def test_psi_bands_are_the_stated_conventions():
    assert [psi_band(x) for x in (0.0, 0.099, 0.1, 0.25, 0.2501)] == \
        ["stable", "stable", "moderate", "moderate", "shifted"]
    assert psi_band(None) is None


def test_chi2_two_by_two_by_hand():
    # N = 100, every expected count 25: 4 · (5²/25) = 4.0, df 1, p = erfc(√2)
    r = chi2_homogeneity([30, 20], [20, 30])
    assert r["statistic"] == pytest.approx(4.0)
    assert r["df"] == 1
    assert r["p_value"] == pytest.approx(math.erfc(math.sqrt(2)), rel=1e-9)
    assert r["sparse"] is False


def test_chi2_merges_sparse_columns_until_expected_counts_reach_five():
    # columns (50,30) (28,48) (2,3) (2,1); rows 82 and 82, N = 164.  The two smallest (5 and 3)
    # merge to (4,4), expected 82·8/164 = 4 < 5, so it merges with the next smallest (28,48) →
    # (32,52).  Table (50,30) / (32,52): expected 40,40 and 42,42:
    # 2·10²/40 + 2·10²/42 = 5 + 4.76190476
    r = chi2_homogeneity([50, 28, 2, 2], [30, 48, 3, 1])
    assert r["bins"] == 2 and r["df"] == 1
    assert r["statistic"] == pytest.approx(5 + 200 / 42, rel=1e-12)
    assert r["p_value"] == pytest.approx(math.erfc(math.sqrt((5 + 200 / 42) / 2)), rel=1e-9)


def test_chi2_without_a_comparison_says_why():
    assert chi2_homogeneity([10, 0], [5, 0])["reason"].startswith("one level")
    assert chi2_homogeneity([0, 0], [5, 1])["p_value"] is None


def test_chi2_three_columns_by_hand():
    # rows (10, 20, 30) and (30, 20, 10): N 120, column totals 40 each, expected 20 everywhere:
    # (10²+0+10²)/20 · 2 = 20, df 2, p = e^(−10)
    r = chi2_homogeneity([10, 20, 30], [30, 20, 10])
    assert r["statistic"] == pytest.approx(20.0)
    assert r["p_value"] == pytest.approx(math.exp(-10), rel=1e-9)


def test_merge_sparse_pools_levels_rare_in_both_samples_only():
    levels, p, q = merge_sparse(["a", "b", "c", "d", "e"], [600, 395, 3, 2, 0], [500, 300, 4, 1, 195])
    # c and d are below 1% in both; e is 0% in the reference but 19.5% of the traffic: kept
    assert levels == ["a", "b", "e", OTHER]
    assert p == [600, 395, 0, 5] and q == [500, 300, 195, 5]
    # one rare level alone keeps its own name
    assert merge_sparse(["a", "b"], [999, 1], [999, 1])[0] == ["a", "b"]


def test_psi_if_same_matches_simulation():
    # draws from one distribution: the mean PSI should sit at (k−1)(1/n1 + 1/n2) = 2·(1/200 + 1/1000)
    rng = np.random.default_rng(3)
    shares = [0.5, 0.3, 0.2]
    vals = [psi(rng.multinomial(200, shares).tolist(), rng.multinomial(1000, shares).tolist(), eps=0)
            for _ in range(2000)]
    assert psi_if_same(3, 200, 1000) == pytest.approx(0.012)
    assert float(np.mean(vals)) == pytest.approx(0.012, rel=0.1)


def test_compare_counts_lists_both_samples_and_flags_a_new_level():
    r = compare_counts({"latin": 180, "cyrillic": 20}, {"latin": 500, "cyrillic": 100, "greek": 400})
    assert [lv["value"] for lv in r["levels"]] == ["latin", "greek", "cyrillic"]
    greek = r["levels"][1]
    assert greek["reference"] == 0 and greek["current_share"] == pytest.approx(0.4)
    assert r["psi_band"] == "shifted"
    assert r["n_reference"] == 200 and r["n_current"] == 1000


def test_under_covered_by_hand():
    suite = {("script", "latin"): 195, ("script", "cyrillic"): 5, ("input_tokens", "long"): 19}
    traffic = {("script", "latin"): 700, ("script", "cyrillic"): 200, ("script", "greek"): 100,
               ("input_tokens", "long"): 300}
    rows = under_covered(suite, traffic, 1000, min_cases=20)
    assert [(r["key"], r["value"], r["suite_cases"], r["traffic"]) for r in rows] == [
        ("input_tokens", "long", 19, 300), ("script", "cyrillic", 5, 200), ("script", "greek", 0, 100)]
    # Wilson 95% for 300/1000: centre (300 + 1.92)/1003.84, half-width 1.96/1003.84·√(300·700/1000 + 0.96)
    z = 1.959963984540054
    centre = (300 + z * z / 2) / (1000 + z * z)
    half = z / (1000 + z * z) * math.sqrt(300 * 700 / 1000 + z * z / 4)
    assert rows[0]["traffic_share_ci"] == pytest.approx([centre - half, centre + half], rel=1e-9)


def test_a_missing_value_is_never_under_covered():
    rows = under_covered({("tier", "pro"): 30}, {("tier", None): 50, ("tier", "pro"): 50}, 100, min_cases=20)
    assert rows == []
