"""`report --format junit` beyond gates: the robustness tests as testcases a CI job can trust.

Expected failures are worked out here from the counts (exact McNemar, Benjamini–Hochberg, Cochran's
Q with two templates = McNemar's χ² without continuity correction), not read from the report.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import numpy as np

from tuieval.analysis.perturbations import perturbation_analysis
from tuieval.analysis.robustness.templates import template_sensitivity
from tuieval.report.formats.junit import to_junit

ODD = '<b&"x">'   # a metadata value with XML's special characters: must come out as data


def _perturbations():
    """20 originals, kind a (o0–o9) and kind ODD (o10–o19); o18, o19 wrong. typos:0.1 breaks
    o0–o9 and fixes o18; options changes nothing. One sample per case."""
    cases, verdict = [], {}
    for i in range(20):
        oid, kind = f"o{i}", ("a" if i < 10 else ODD)
        cases.append({"case_id": oid, "metadata": {"kind": kind}})
        verdict[oid] = i < 18
        for label, name, sev in (("typos:0.1", "typos", 0.1), ("options", "options", None)):
            cid = f"{oid}~{label}"
            cases.append({"case_id": cid, "metadata": {"kind": kind, "perturbation": name, "severity": sev,
                                                       "original_case": oid}})
            verdict[cid] = (10 <= i <= 18) if name == "typos" else verdict[oid]
    samples = [{"case_id": c, "template": "t", "sample_index": 0, "answer": str(ok), "correct": int(ok),
                "error": None} for c, ok in verdict.items()]
    return perturbation_analysis(cases, samples, B=200)


def _report(robustness):
    return {"run": {"suite": "s", "model": "m"}, "gates": [], "slices": [], "robustness": robustness,
            "analysis": {"alpha": 0.05}}


def _cases(root, classname):
    return {c.get("name"): c for c in root.iter("testcase") if c.get("classname") == classname}


def test_one_testcase_per_perturbation_row_failed_only_on_a_significant_drop():
    # p-values (exact McNemar): typos·all b=10,c=1 → 2·Σ_{i≤1} C(11,i)/2^11 = 24/2048; typos·a b=10,c=0
    # → 2/1024; typos·ODD b=0,c=1 → 1; options rows → 1. BH over 6: q(typos·a) = 6·2/1024 = 0.0117,
    # q(typos·all) = 6/2 · 24/2048 = 0.0352: both ≤ 0.05 and both drops. typos·ODD is not significant.
    root = ET.fromstring(to_junit(_report({"perturbations": _perturbations()})))
    tc = _cases(root, "robustness.perturbations")
    names = {"typos:0.1 · all", "typos:0.1 · kind=a", f"typos:0.1 · kind={ODD}", "options · all",
             "options · kind=a", f"options · kind={ODD}"}
    assert set(tc) == names
    failed = {n for n, c in tc.items() if c.find("failure") is not None}
    assert failed == {"typos:0.1 · all", "typos:0.1 · kind=a"}
    message = tc["typos:0.1 · all"].find("failure").get("message")
    q_all = 6 / 2 * (2 * (1 + 11) / 2 ** 11)
    assert "90.0% → 45.0%" in message and "n=20" in message and f"q={q_all:.3g}" in message
    # passed ones carry their figures too, so a dashboard can show them
    assert "over 20 pairs" in tc["options · all"].find("system-out").text
    assert root.get("tests") == "6" and root.get("failures") == "2"


def test_the_names_do_not_depend_on_the_results():
    # the same perturbations and slices with nothing broken: the same testcases, none failed
    broken = _perturbations()
    fixed = {**broken, "rows": [{**r, "significant": False} for r in broken["rows"]]}
    a = ET.fromstring(to_junit(_report({"perturbations": broken})))
    b = ET.fromstring(to_junit(_report({"perturbations": fixed})))
    assert [c.get("name") for c in a.iter("testcase")] == [c.get("name") for c in b.iter("testcase")]
    assert b.get("failures") == "0"


def test_an_improvement_is_not_a_failure():
    section = _perturbations()
    for r in section["rows"]:
        r["delta"] = abs(r["delta"])
    root = ET.fromstring(to_junit(_report({"perturbations": section})))
    assert root.get("failures") == "0"


def test_template_sensitivity_is_one_testcase_failed_when_cochrans_q_rejects():
    # 10 cases × 2 templates, one sample each: A right on all, B right on 2 → b = 8, c = 0.
    # Q = (8 − 0)² / (8 + 0) = 8 with 1 df → p = erfc(√(8/2)) = 0.00468 < 0.05: failed.
    x = np.array([[1.0, 1.0 if i < 2 else 0.0] for i in range(10)])
    section = template_sensitivity(x, [f"c{i}" for i in range(10)], ["A", "B"], binary=True)
    root = ET.fromstring(to_junit(_report({"templates": section})))
    [case] = _cases(root, "robustness.templates").values()
    assert case.get("name") == "templates differ"
    message = case.find("failure").get("message")
    assert f"p = {math.erfc(2.0):.4g}" in message and "n=10" in message
    # two cases that differ out of 10: b = 1, c = 0 → Q = 1, p = erfc(√½) = 0.317: passed
    y = np.array([[1.0, 0.0 if i == 0 else 1.0] for i in range(10)])
    calm = template_sensitivity(y, [f"c{i}" for i in range(10)], ["A", "B"], binary=True)
    [case] = _cases(ET.fromstring(to_junit(_report({"templates": calm}))), "robustness.templates").values()
    assert case.find("failure") is None and f"p = {math.erfc(math.sqrt(0.5)):.4g}" in case.find("system-out").text
