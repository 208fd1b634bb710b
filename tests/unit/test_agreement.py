"""Agreement statistics against published golden vectors and small hand-worked examples."""

from __future__ import annotations

import pytest

from tuieval.analysis.agreement import cohen_kappa, confusion_matrix, fleiss_kappa, krippendorff_alpha


def test_cohen_kappa_golden_vector_from_statsmodels():
    a = [int(c) for c in "1101001110"]
    b = [int(c) for c in "1001011110"]
    assert cohen_kappa(a, b) == pytest.approx(0.583333, abs=1e-6)


def test_cohen_kappa_by_hand():
    # p_o = 3/4; marginals a: 1/2, 1/2, b: 1/4, 3/4 → p_e = 1/8 + 3/8 = 1/2; κ = (3/4 − 1/2) / (1/2) = 1/2
    assert cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0]) == pytest.approx(0.5)
    # missing ratings are left out: the same items plus one rated by a alone
    assert cohen_kappa([1, 1, 0, 0, 1], [1, 0, 0, 0, None]) == pytest.approx(0.5)


def test_kappa_is_undefined_when_every_rating_is_one_category():
    assert cohen_kappa(["x", "x"], ["x", "x"]) is None
    assert fleiss_kappa([[1, 1], [1, 1]]) is None
    assert krippendorff_alpha([[1, 1], [1, 1]]) is None
    assert cohen_kappa([], []) is None


def test_fleiss_kappa_and_krippendorff_alpha_golden_vectors():
    ratings = [[0, 0, 1], [1, 1, 1], [0, 1, 1], [0, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert fleiss_kappa(ratings) == pytest.approx(0.298701, abs=1e-6)
    assert krippendorff_alpha(ratings) == pytest.approx(0.337662, abs=1e-6)


def test_fleiss_kappa_by_hand():
    # P_1 = (4 − 2)/2 = 1, P_2 = 0 → P̄ = 1/2; p_1 = 3/4, p_0 = 1/4 → P̄e = 10/16; κ = (1/2 − 5/8)/(3/8) = −1/3
    assert fleiss_kappa([[1, 1], [0, 1]]) == pytest.approx(-1 / 3)
    with pytest.raises(ValueError):
        fleiss_kappa([[1, 1], [0]])


def test_krippendorff_alpha_with_a_missing_rating_by_hand():
    # units [1,1], [0,1], [1,·,1]: o_11 = 2 + 2 = 4, o_01 = o_10 = 1 → n_1 = 5, n_0 = 1, n = 6;
    # α = 1 − (n − 1)·Σ_{c≠k} o_ck / Σ_{c≠k} n_c n_k = 1 − 5·2/10 = 0
    assert krippendorff_alpha([[1, 1, None], [0, 1, None], [1, None, 1]]) == pytest.approx(0.0)
    # a unit with one rating pairs with nothing and changes nothing
    assert krippendorff_alpha([[1, 1], [0, 1], [1, 1], [0, None]]) == pytest.approx(0.0)


def test_confusion_matrix_rows_are_truth():
    out = confusion_matrix(["y", "y", "n", "n", None], ["y", "n", "n", "n", "y"], ["y", "n"])
    assert out == {"labels": ["y", "n"], "matrix": [[1, 1], [0, 2]], "n": 4}
