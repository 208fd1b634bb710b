"""Every interval of the robustness section against a formula typed out here (not tuieval's own).

Wilson for 0/1 unit scores, mean ± z·s/√n (s with n − 1) for fractional case means, and the
paired-bootstrap interval of a delta against its normal approximation (the bootstrap is random:
checked within a tolerance that a wrong resampling unit or a sign error would break).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuieval.analysis.perturbations import perturbation_analysis
from tuieval.analysis.robustness.extraction import extraction_sensitivity
from tuieval.analysis.robustness.templates import template_sensitivity

Z = 1.959963984540054


def wilson(k, n):
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return [0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half]


def clt(values):
    n = len(values)
    m = sum(values) / n
    s = math.sqrt(sum((v - m) ** 2 for v in values) / (n - 1))
    return [max(0.0, m - Z * s / math.sqrt(n)), min(1.0, m + Z * s / math.sqrt(n))]


def _pairs(orig_ok, copy_ok, samples=1):
    """Originals o0.. with per-sample verdicts `orig_ok[i]` (a list) and copies likewise."""
    cases, rows = [], []
    for i, (a, b) in enumerate(zip(orig_ok, copy_ok)):
        cases.append({"case_id": f"o{i}", "metadata": {}})
        cases.append({"case_id": f"o{i}~typos:0.1", "metadata": {"perturbation": "typos", "severity": 0.1,
                                                                 "original_case": f"o{i}"}})
        for cid, oks in ((f"o{i}", a), (f"o{i}~typos:0.1", b)):
            for k, ok in enumerate(oks):
                rows.append({"case_id": cid, "template": "t", "sample_index": k, "answer": str(ok),
                             "correct": int(ok), "error": None})
    return cases, rows


def test_perturbation_intervals_with_one_sample_are_wilson():
    # 20 pairs: originals right on 18; copies right on 9 (10 broken, 1 fixed)
    orig = [[i < 18] for i in range(20)]
    copy = [[(10 <= i <= 18)] for i in range(20)]
    out = perturbation_analysis(*_pairs(orig, copy), B=4000, seed=1)
    [row] = out["rows"]
    assert row["accuracy_original_ci"] == pytest.approx(wilson(18, 20))
    assert row["accuracy_perturbed_ci"] == pytest.approx(wilson(9, 20))
    assert row["flip_rate_ci"] == pytest.approx(wilson(10, 20))
    assert row["flip_back_rate_ci"] == pytest.approx(wilson(1, 20))
    # worst case: right on the original and the copy → o10..o17 = 8 of 20
    assert out["worst_case"]["accuracy_ci"] == pytest.approx(wilson(8, 20))
    # Δ: ten −1, one +1, nine 0 → mean −0.45, population sd √(11/20 − 0.45²); normal 95% ≈ ±0.258
    se = math.sqrt((11 / 20 - 0.45 ** 2) / 20)
    lo, hi = row["delta_ci"]
    assert lo == pytest.approx(-0.45 - Z * se, abs=0.06) and hi == pytest.approx(-0.45 + Z * se, abs=0.06)
    [point] = out["severity_curves"]["typos"]
    assert point["flip_rate_ci"] == pytest.approx(wilson(10, 20))


def test_perturbation_intervals_with_fractional_case_scores_are_clt():
    # two samples per case: originals 1 on o0–o7 and ½ on o8, o9; copies ½ on o0–o4 and 1 on o5–o9
    orig = [[True, True]] * 8 + [[True, False]] * 2
    copy = [[True, False]] * 5 + [[True, True]] * 5
    out = perturbation_analysis(*_pairs(orig, copy, samples=2), B=500)
    [row] = out["rows"]
    assert row["accuracy_original"] == pytest.approx(0.9)
    assert row["accuracy_original_ci"] == pytest.approx(clt([1.0] * 8 + [0.5] * 2))
    assert row["accuracy_perturbed_ci"] == pytest.approx(clt([0.5] * 5 + [1.0] * 5))
    # a case is "correct" above ½: originals o0–o7, copies o5–o9 → broken o0–o4 (5), fixed o8, o9 (2)
    assert (row["flips_correct_to_wrong"], row["flips_wrong_to_correct"]) == (5, 2)
    assert row["flip_rate_ci"] == pytest.approx(wilson(5, 10))


def test_template_intervals_are_wilson_over_cases():
    scores = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [1, 0]], dtype=float)
    out = template_sensitivity(scores, list("abcde"), ["plain", "terse"], binary=True, B=500)
    cis = {t["template"]: t["accuracy_ci"] for t in out["templates"]}
    assert cis["plain"] == pytest.approx(wilson(3, 5)) and cis["terse"] == pytest.approx(wilson(2, 5))
    assert out["flip_rate"]["ci"] == pytest.approx(wilson(3, 5))


def test_extractor_intervals_and_share_of_cases():
    # as test_extraction's hand case: A right on c1–c5, B on c1–c2, c6 an error (wrong for both)
    samples = [{"case_id": f"c{i}", "template": "t", "sample_index": 0, "error": None} for i in range(1, 6)]
    samples.append({"case_id": "c6", "template": "t", "sample_index": 0, "error": "server error 500"})
    verdicts = np.array([[1, 1], [1, 1], [1, 0], [1, 0], [1, 0], [1, 1]], dtype=bool)
    extracted = [["x", "x"]] * 2 + [["29", None]] * 3 + [[None, None]]
    out = extraction_sensitivity(verdicts, extracted, ["A", "B"], samples, B=4000)
    cis = {e["name"]: e["accuracy_ci"] for e in out["extractors"]}
    assert cis["A"] == pytest.approx(wilson(5, 6)) and cis["B"] == pytest.approx(wilson(2, 6))
    assert out["points_depending"]["share_of_cases"] == pytest.approx(3 / 6)
    # B − A per case: three −1, three 0 → mean −½; the bootstrap interval lies below 0 and inside
    # the range of a mean of six values from {−1, 0}
    lo, hi = out["pairs"][0]["delta_ci"]
    assert -1.0 <= lo < -0.5 < hi <= 0.0
    # the same input given column by column gives the same section
    columns = extraction_sensitivity(verdicts, [list(c) for c in zip(*extracted)], ["A", "B"], samples, B=4000,
                                     columns=True)
    assert columns == out
