"""The built-in extractor family and extraction-sensitivity statistics, checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tuieval.analysis.robustness.extraction import extraction_sensitivity
from tuieval.scoring.extractors import EXTRACTOR_NAMES, build_extractor

COT = "Let me add: 12 + 17 = 29.\nThe total is $29.00.\nAnswer: $29.00"


@pytest.mark.parametrize("name, response, target, extracted, correct", [
    ("number", COT, "29", "$29.00", True),               # currency and decimals understood, by value
    ("last_number", COT, "29", "29.00", False),          # the naive reading lm-eval's issues describe
    ("first_number", COT, "29", "12", False),             # takes the first number, not the answer
    ("strict", "Reasoning...\nAnswer: Canberra", "Canberra", "Canberra", True),
    ("strict", "It is Canberra.", "Canberra", None, False),
    ("number", "The population is 1,234,567 people.", 1234567, "1,234,567", True),
    ("last_number", "The population is 1,234,567 people.", 1234567, "567", False),
    ("choice", "I think the answer is (C).", "C", "C", True),
    ("choice", "**B**", "C", "B", False),
    ("boxed", r"so $\boxed{\frac{1}{2}}$", r"\frac{1}{2}", r"\frac{1}{2}", True),
    ("boxed", r"\boxed{42}", "42.0", "42", True),
    ("json_field:answer.value", 'Result: {"answer": {"value": 1000}}', "1,000", "1000", True),
    ("json_field:answer.value", "no json here", "1", None, False),
])
def test_each_extractor_reads_what_it_says(name, response, target, extracted, correct):
    score = build_extractor(name).score(response, [target])
    assert (score.extracted, score.correct) == (extracted, correct)


def test_unknown_extractor_is_named_with_a_suggestion():
    with pytest.raises(ValueError, match=r"unknown extractor 'lastnumber' \(did you mean last_number\?\)"):
        build_extractor("lastnumber")
    assert "json_field:PATH" in EXTRACTOR_NAMES


def test_sensitivity_by_hand():
    # 6 cases, one sample each; extractor A right on 1-5, B right on 1-2 only; case 6 an error
    samples = [{"case_id": f"c{i}", "template": "t", "sample_index": 0, "error": None} for i in range(1, 6)]
    samples.append({"case_id": "c6", "template": "t", "sample_index": 0, "error": "server error 500"})
    verdicts = np.array([[1, 1], [1, 1], [1, 0], [1, 0], [1, 0], [1, 1]], dtype=bool)  # c6 ignored: an error
    extracted = [["x", "x"]] * 2 + [["29", None]] * 3 + [[None, None]]
    out = extraction_sensitivity(verdicts, extracted, ["A", "B"], samples,
                                 slices={("lang", "de"): {"c3", "c4"}, ("lang", "en"): {"c1", "c2"}}, B=2000)
    acc = {e["name"]: e["accuracy"] for e in out["extractors"]}
    assert acc == {"A": pytest.approx(5 / 6), "B": pytest.approx(2 / 6)}
    pair = out["pairs"][0]
    assert (pair["a_only"], pair["b_only"]) == (3, 0)
    assert pair["p_value"] == pytest.approx(2 * 0.5 ** 3)  # exact McNemar: 2·P(X ≤ 0), X ~ Bin(3, ½)
    assert out["disagreement_rate"]["n_disagree"] == 3
    assert out["disagreement_rate"]["value"] == pytest.approx(3 / 6)
    assert out["points_depending"]["spread_points"] == pytest.approx(50.0)
    assert out["points_depending"]["n_cases_depending"] == 3
    slices = {(s["key"], s["value"]): s["disagreement_rate"] for s in out["by_slice"]}
    assert slices == {("lang", "de"): 1.0, ("lang", "en"): 0.0}
    listed = [d["case_id"] for d in out["disagreements"]]
    assert listed == ["c3", "c4", "c5"]
    assert out["disagreements"][0]["extracted"] == {"A": "29", "B": None}
    assert math.isclose(out["extractors"][0]["n_extracted"], 5)


def test_an_extractor_that_reads_nothing_does_not_apply():
    samples = [{"case_id": f"c{i}", "template": "t", "sample_index": 0, "error": None} for i in range(3)]
    verdicts = np.array([[1, 0, 0], [1, 1, 0], [0, 0, 0]], dtype=bool)
    extracted = [["7", "7", None], ["8", "8", None], ["9", "1", None]]
    out = extraction_sensitivity(verdicts, extracted, ["A", "B", "choice"], samples, B=500)
    assert [e["applicable"] for e in out["extractors"]] == [True, True, False]
    assert [(p["a"], p["b"]) for p in out["pairs"]] == [("A", "B")]
    assert out["points_depending"]["spread_points"] == pytest.approx(100 / 3)
    assert out["disagreement_rate"]["n_disagree"] == 1


def test_strict_reads_what_its_pattern_finds_with_or_without_the_ascii_shortcut():
    from tuieval.scoring.extractors import _STRICT, read_strict

    def plain(response):
        found = list(_STRICT.finditer(response))
        return found[-1].group("A").strip() if found else None

    responses = ["Answer: 42", "ANSWER: B", "  **answer**: 7.", "no label here", "The answer is 5", "answer：九",
                 "Working...\n> Answer: $3\nAnswer: 4", "anſwer: 9", "AnſWER: 10", "\u212aey. Answer: x", "", "answer:"]
    for r in responses:
        assert read_strict(r) == plain(r), r
    # the long s and the Kelvin sign fold to s and k: outside ASCII the label is found by the pattern
    assert read_strict("anſwer: 9") == "9"
    assert read_strict("no label here") is None
