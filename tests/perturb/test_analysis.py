"""The perturbation statistics, against counts and tests computed here by hand."""

from __future__ import annotations

import math

from tuieval.analysis.perturbations import perturbation_analysis


def exact_mcnemar(b: int, c: int) -> float:
    m = b + c
    if m == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(m, i) for i in range(min(b, c) + 1)) / 2 ** m)


def bh(pvalues: list[float]) -> list[float]:
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    q = [0.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        q[i] = min(1.0, running)
    return q


def _fixture(samples_per_case: int = 1):
    """20 originals (kind a: o0–o9, kind b: o10–o19); o18, o19 wrong.
    typos:0.1 breaks o0–o9 (kind a) and fixes o18; options changes nothing."""
    cases, verdict = [], {}
    for i in range(20):
        oid = f"o{i}"
        kind = "a" if i < 10 else "b"
        cases.append({"case_id": oid, "metadata": {"kind": kind}})
        verdict[oid] = i < 18
        for label, name, sev in (("typos:0.1", "typos", 0.1), ("options", "options", None)):
            cid = f"{oid}~{label}"
            cases.append({"case_id": cid, "metadata": {"kind": kind, "perturbation": name, "severity": sev,
                                                       "original_case": oid}})
            if name == "typos":
                verdict[cid] = (i >= 10 and i < 18) or i == 18
            else:
                verdict[cid] = verdict[oid]
    samples = [{"case_id": cid, "correct": int(ok), "error": None}
               for cid, ok in verdict.items() for _ in range(samples_per_case)]
    return cases, samples


def _row(out, label, slice_):
    [row] = [r for r in out["rows"] if r["label"] == label and r["slice"] == slice_]
    return row


def test_paired_accuracies_flips_and_exact_mcnemar():
    cases, samples = _fixture()
    out = perturbation_analysis(cases, samples)
    assert out["method"]["test"] == "mcnemar"
    assert (out["n_originals"], out["n_perturbed"], out["n_unpaired"]) == (20, 40, 0)
    r = _row(out, "typos:0.1", "all")
    assert r["n_pairs"] == 20
    assert r["accuracy_original"] == 18 / 20 and r["accuracy_perturbed"] == 9 / 20
    assert math.isclose(r["delta"], 9 / 20 - 18 / 20)
    assert (r["flips_correct_to_wrong"], r["flips_wrong_to_correct"]) == (10, 1)
    assert r["flip_rate"] == 10 / 20 and r["flip_back_rate"] == 1 / 20
    assert math.isclose(r["p_value"], exact_mcnemar(10, 1))
    a = _row(out, "typos:0.1", "kind=a")
    assert (a["n_pairs"], a["flips_correct_to_wrong"], a["flips_wrong_to_correct"]) == (10, 10, 0)
    assert math.isclose(a["p_value"], exact_mcnemar(10, 0))
    b = _row(out, "typos:0.1", "kind=b")
    assert (b["flips_correct_to_wrong"], b["flips_wrong_to_correct"]) == (0, 1)
    assert _row(out, "options", "all")["p_value"] == 1.0
    lo, hi = r["delta_ci"]
    assert lo <= r["delta"] <= hi < 0


def test_benjamini_hochberg_across_the_perturbation_by_slice_table():
    cases, samples = _fixture()
    out = perturbation_analysis(cases, samples)
    rows = out["rows"]
    assert len(rows) == 6                      # 2 perturbations × (all, kind=a, kind=b)
    expected = bh([r["p_value"] for r in rows])
    assert [round(r["q_value"], 12) for r in rows] == [round(q, 12) for q in expected]
    assert [r["significant"] for r in rows] == [q <= 0.05 for q in expected]
    assert _row(out, "typos:0.1", "kind=a")["significant"] and not _row(out, "options", "all")["significant"]


def test_worst_case_accuracy_per_case():
    cases, samples = _fixture()
    out = perturbation_analysis(cases, samples)
    # correct on the original and on every copy: o10–o17 only
    assert out["worst_case"]["accuracy"] == 8 / 20 and out["worst_case"]["n_cases"] == 20
    assert out["worst_case"]["by_perturbation"]["typos"]["accuracy"] == 8 / 20
    assert out["worst_case"]["by_perturbation"]["options"]["accuracy"] == 18 / 20


def test_several_samples_use_the_sign_flip_test():
    cases, samples = _fixture(samples_per_case=2)
    out = perturbation_analysis(cases, samples, B=20_000, seed=3)
    a = _row(out, "typos:0.1", "kind=a")
    assert out["method"]["test"] == "sign-flip" and a["test"] == "sign-flip"
    # ten differences of -1: the exact sign-flip p is 2 / 2^10; Monte Carlo within 5 sd
    exact = 2 / 2 ** 10
    sd = math.sqrt(exact * (1 - exact) / 20_000)
    assert abs(a["p_value"] - exact) < 5 * sd + 1 / 20_000


def test_severity_curve_orders_severities_and_unpaired_copies_are_counted():
    cases, samples = _fixture()
    # a second severity: breaks nothing
    for i in range(20):
        cid = f"o{i}~typos:0.02"
        cases.append({"case_id": cid, "metadata": {"kind": "a", "perturbation": "typos", "severity": 0.02,
                                                   "original_case": f"o{i}"}})
        samples.append({"case_id": cid, "correct": int(i < 18), "error": None})
    cases.append({"case_id": "gone~typos:0.1", "metadata": {"perturbation": "typos", "severity": 0.1,
                                                           "original_case": "gone"}})
    out = perturbation_analysis(cases, samples)
    curve = out["severity_curves"]["typos"]
    assert [p["severity"] for p in curve] == [0.02, 0.1]
    assert [p["accuracy_perturbed"] for p in curve] == [18 / 20, 9 / 20]
    assert "options" not in out["severity_curves"]
    assert out["n_unpaired"] == 1


def test_error_samples_are_wrong_and_no_copies_means_no_section():
    cases, samples = _fixture()
    for s in samples:
        if s["case_id"] == "o0~options":
            s["error"] = "timeout"          # stored correct=1 but an error: never correct
    out = perturbation_analysis(cases, samples)
    assert _row(out, "options", "all")["flips_correct_to_wrong"] == 1
    assert perturbation_analysis([{"case_id": "x", "metadata": {}}], [{"case_id": "x", "correct": 1}]) is None
