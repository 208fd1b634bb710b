"""The template pivot's cells against hand calculations."""

from __future__ import annotations

import math

import pytest

from tuieval.analysis.robustness.pivot import TemplateScores, template_pivot

Z = 1.959963984540054


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def sample(case, template, correct):
    return {"case_id": case, "template": template, "correct": correct}


def test_one_sample_per_pair_gives_wilson_cells_per_slice_and_template():
    # a: right on c1, c2, c3 of c1..c4; b: right on c1 only
    samples = [sample(c, "a", c != "c4") for c in ("c1", "c2", "c3", "c4")]
    samples += [sample(c, "b", c == "c1") for c in ("c1", "c2", "c3", "c4")]
    out = template_pivot(samples, {"all": None, "first two": {"c1", "c2"}})
    a, b = out["all"]
    assert (a["template"], a["n_cases"], a["accuracy"]) == ("a", 4, 0.75)
    assert a["accuracy_ci"] == pytest.approx(wilson(3, 4))
    assert (b["template"], b["accuracy"]) == ("b", 0.25)
    assert b["accuracy_ci"] == pytest.approx(wilson(1, 4))
    a2, b2 = out["first two"]
    assert (a2["n_cases"], a2["accuracy"], b2["accuracy"]) == (2, 1.0, 0.5)
    assert a2["accuracy_ci"] == pytest.approx(wilson(2, 2))


def test_several_samples_average_within_the_case_first_and_a_missing_template_lowers_n():
    # c1 under a: 2 of 3 right; c2 under a: 1 of 1; c2 has no sample under b
    samples = [sample("c1", "a", True), sample("c1", "a", True), sample("c1", "a", False), sample("c2", "a", True),
               sample("c1", "b", False)]
    table = TemplateScores(samples)
    a, b = table.cells(None)
    assert a["n_cases"] == 2 and a["accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    # fractional case scores: mean ± z·s/√n with the sample standard deviation of the case scores
    s = math.sqrt(((2 / 3 - 5 / 6) ** 2 + (1 - 5 / 6) ** 2) / 1)
    lo, hi = 5 / 6 - Z * s / math.sqrt(2), min(1.0, 5 / 6 + Z * s / math.sqrt(2))
    assert a["accuracy_ci"] == pytest.approx([lo, hi])
    assert b["n_cases"] == 1 and b["accuracy"] == 0.0


def test_a_slice_with_no_case_of_the_run_has_empty_cells():
    out = template_pivot([sample("c1", "a", True)], {"none": {"zz"}})
    assert out["none"] == [{"template": "a", "n_cases": 0, "accuracy": None, "accuracy_ci": None}]
