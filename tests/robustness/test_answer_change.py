"""The answer-change rate of a perturbation run: meaning judged by the run's clustering tier, by hand.

Every expected count below is worked out in the comments from the answers written here; the
Wilson bounds come from the formula typed out in this file, not from tuieval.analysis.stats.
"""

from __future__ import annotations

import math
import re

import pytest

from tuieval.analysis.perturbations import perturbation_analysis
from tuieval.report import build_report
from tuieval.store import Store

Z = 1.959963984540054  # the 97.5% normal quantile


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half)


# original case → {template: (original's answers, the perturbed copy's answers)}; None = an error sample
ANSWERS = {
    # canonical "42." = "42": one answer kept, two moved to 41 → 2 of 3 changed: changed.
    # Strings: "42." is not "42" → 3 of 3 string changes.
    "o1": {"t1": (["42", "42", "41"], ["42.", "41", "41"])},
    # "paris" and "The Paris" are canonical duplicates of "Paris" (case, article): 0 of 3 changed;
    # but 2 of 3 strings differ → string changed.
    "o2": {"t1": (["Paris", "Paris", "Paris"], ["paris", "The Paris", "Paris"])},
    # the original's three answers tie: each is its majority, so "8" and "9" are no change; the copy's
    # error is not compared → 0 of 2.
    "o3": {"t1": (["7", "8", "9"], ["8", "9", None])},
    # the original answered nothing (all errors): nothing to compare with → not in n.
    "o4": {"t1": ([None, None, None], ["5", "5", "5"])},
    # two templates: t1 2 of 2 changed, t2 1 of 2 → 3 of 4: changed.
    "o5": {"t1": (["A", "A"], ["B", "B"]), "t2": (["A", "A"], ["A", "B"])},
}
KIND = {"o1": "a", "o2": "a", "o3": "b", "o4": "b", "o5": "b"}


def _rows(answers=ANSWERS, kind=KIND):
    cases, samples = [], []
    for orig, by_template in answers.items():
        copy = f"{orig}~typos:0.1"
        cases.append({"case_id": orig, "metadata": {"kind": kind[orig]}, "input_text": f"question {orig}"})
        cases.append({"case_id": copy, "metadata": {"kind": kind[orig], "perturbation": "typos", "severity": 0.1,
                                                    "original_case": orig}, "input_text": f"perturbed {orig}"})
        for template, (a, b) in by_template.items():
            for cid, texts in ((orig, a), (copy, b)):
                for i, text in enumerate(texts):
                    samples.append({"case_id": cid, "template": template, "sample_index": i, "answer": text,
                                    "correct": 1, "error": None if text is not None else "server error 500"})
    return cases, samples


def _row(out, slice_):
    [row] = [r for r in out["rows"] if r["slice"] == slice_]
    return row


def test_canonical_tier_meaning_and_string_change_by_hand():
    cases, samples = _rows()
    out = perturbation_analysis(cases, samples, B=200)
    assert out["method"]["answer_change"]["clustering"] == "canonical"
    every = _row(out, "all")
    # compared: o1, o2, o3, o5 (o4's original has no answer); changed: o1, o5; strings: o1, o2, o5
    assert (every["n_answer_compared"], every["answer_changes"], every["string_changes"]) == (4, 2, 3)
    assert every["answer_change_rate"] == 2 / 4 and every["string_change_rate"] == 3 / 4
    assert every["answer_change_rate_ci"] == pytest.approx(wilson(2, 4))
    assert every["string_change_rate_ci"] == pytest.approx(wilson(3, 4))
    a, b = _row(out, "kind=a"), _row(out, "kind=b")
    assert (a["n_answer_compared"], a["answer_changes"], a["string_changes"]) == (2, 1, 2)
    assert a["string_change_rate_ci"] == pytest.approx(wilson(2, 2))
    assert (b["n_answer_compared"], b["answer_changes"], b["string_changes"]) == (2, 1, 1)
    # the severity curve carries the rate too
    [point] = out["severity_curves"]["typos"]
    assert point["answer_change_rate"] == 2 / 4 and point["answer_change_rate_ci"] == pytest.approx(wilson(2, 4))


def test_no_pair_with_answers_gives_no_rate_rather_than_zero():
    cases, samples = _rows({"o4": ANSWERS["o4"], "o1": ANSWERS["o1"]})
    out = perturbation_analysis(cases, samples, B=200)
    b = _row(out, "kind=b")                          # only o4: its original never answered
    assert b["n_answer_compared"] == 0
    assert b["answer_change_rate"] is None and b["answer_change_rate_ci"] is None


def _bag(text: str) -> list[str]:
    return sorted(re.findall(r"\w+", text.lower()))


def test_entailment_tier_judges_meaning_with_the_original_question():
    # reworded but the same words: the canonical tier calls it a change, a judge that entails
    # equal bags of words does not; "Lyon…" is a change under both
    answers = {"o1": {"t": (["Paris is the capital", "Paris is the capital"],
                            ["the capital is Paris", "the capital is Paris"])},
               "o2": {"t": (["Paris is the capital"], ["Lyon is the capital"])}}
    cases, samples = _rows(answers, {"o1": "a", "o2": "b"})
    asked = []

    def judge(question, premise, hypothesis):
        asked.append(question)
        return "entailment" if _bag(premise) == _bag(hypothesis) else "contradiction"

    canonical = _row(perturbation_analysis(cases, samples, B=200), "all")
    assert (canonical["n_answer_compared"], canonical["answer_changes"]) == (2, 2)
    out = perturbation_analysis(cases, samples, B=200, method="entailment", judge=judge)
    every = _row(out, "all")
    assert (every["n_answer_compared"], every["answer_changes"], every["string_changes"]) == (2, 1, 2)
    assert out["method"]["answer_change"]["clustering"] == "entailment"
    assert out["method"]["answer_change"]["counters"]["judge_calls"] == len(asked) > 0
    assert set(asked) <= {"question o1", "question o2"}   # the original's question, not the perturbed one


def test_report_uses_the_runs_embeddings_tier_against_the_loopback_server(tmp_path, model_server):
    # /v1/embeddings of the loopback server is a bag of words: "the capital is Paris" and "Paris is
    # the capital" have cosine 1 (same meaning), "Lyon is the capital" 0.75 < 0.88 (a change).
    # Pair o1: 2 of 3 copy answers are the reworded Paris → 1 of 3 changed: not changed; strings
    # 3 of 3 changed. Pair o2: "blue" → "red": changed. So meaning 1 of 2, strings 2 of 2.
    pairs = {"o1": (["Paris is the capital", "Paris is the capital", "Lyon is the capital"],
                    ["the capital is Paris", "the capital is Paris", "Lyon is the capital"]),
             "o2": (["blue", "blue", "blue"], ["red", "red", "red"])}
    path = tmp_path / "runs.db"
    with Store(path) as st:
        cases = []
        for i, orig in enumerate(pairs):
            cases.append({"case_id": orig, "position": 2 * i, "vars": {}, "targets": ["x"],
                          "metadata": {"kind": orig}, "input_text": f"question {orig}"})
            cases.append({"case_id": f"{orig}~casing", "position": 2 * i + 1, "vars": {}, "targets": ["x"],
                          "metadata": {"kind": orig, "perturbation": "casing", "severity": None,
                                       "original_case": orig}, "input_text": f"QUESTION {orig}"})
        run_id = st.create_run(
            {"suite": "s", "model": "openai-compatible/echo", "samples_per_case": 3, "temperature": 0.7,
             "n_cases": 4, "n_templates": 1, "n_expected": 12,
             "config": {"scorers": ["exact"], "variance": {"method": "embeddings", "model": "openai-compatible/emb",
                                                           "base_url": model_server.openai_base_url}}}, cases)
        order = 0
        for orig, (a, b) in pairs.items():
            for cid, texts in ((orig, a), (f"{orig}~casing", b)):
                for k, text in enumerate(texts):
                    st.add_sample({"run_id": run_id, "case_id": cid, "template": "t", "sample_index": k,
                                   "dispatch_order": order, "prompt": [], "response": text, "extracted": None,
                                   "correct": False, "score": 0.0, "latency_ms": 5.0})
                    order += 1
        st.set_status(run_id, "complete")
        report = build_report(st, run_id)
    section = report["robustness"]["perturbations"]
    every = next(r for r in section["rows"] if r["slice"] == "all")
    assert (every["n_answer_compared"], every["answer_changes"], every["string_changes"]) == (2, 1, 2)
    assert every["answer_change_rate_ci"] == pytest.approx(wilson(1, 2))
    change = section["method"]["answer_change"]
    assert change["clustering"] == "embeddings"
    assert change["counters"]["embedding_requests"] >= 1 and change["counters"]["embed_calls"] >= 1


def test_markdown_shows_the_change_rates_with_n_and_interval():
    from tuieval.report.formats.robustness import perturbations_markdown

    cases, samples = _rows()
    md = "\n".join(perturbations_markdown(perturbation_analysis(cases, samples, B=200)))
    lo, hi = wilson(2, 4)
    slo, shi = wilson(3, 4)
    [line] = [ln for ln in md.splitlines() if ln.startswith("| typos:0.1 |")]
    assert line.endswith(f"| 2/4 50.0% [{lo:.1%}, {hi:.1%}] | 3/4 75.0% [{slo:.1%}, {shi:.1%}] |")
    assert "judged by the run's canonical clustering" in md
