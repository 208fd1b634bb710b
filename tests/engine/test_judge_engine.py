"""The judge scorer through the engine, against the loopback server's rubric judge.

The echo suite's case i asks for token tok{i}; the model answers "Answer: tok{i}". Each test
sets the server's `grade_rule` to a rule of (case, judge model, judge sample), so every figure
below is worked out by hand from that rule, not read from the code under test.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.support.model_server import GRADE_KEY
from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, JudgeFinished, RunOptions
from tuieval.report import build_report
from tuieval.store import Store
from tuieval.suite import load_suite

RUN_SEED = 1  # write_echo_suite's sampling seed


def _case(parts) -> int:
    return int(re.search(r"tok(\d+)", parts["answer"] or parts["answer_a"] + parts["answer_b"]).group(1))


def _judge_sample(parts) -> int:
    # tuieval.engine.judging gives judge sample k the seed run_seed * 1009 + k
    return int(parts["seed"]) - RUN_SEED * 1009


def _run(tmp_path, server, judge: dict, *, n_cases=20, samples=1, case_extra=None, events=None, concurrency=4,
         max_retries=6):
    spec = {"type": "judge", "base_url": server.openai_base_url, **judge}
    path = write_echo_suite(tmp_path, n_cases, samples=samples, extra={"scorers": [spec]})
    if case_extra:
        import yaml

        data = yaml.safe_load(path.read_text())
        for i, case in enumerate(data["cases"]):
            case.update(case_extra(i))
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    suite = load_suite(path)
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/echo", base_url=server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/echo", base_url=server.openai_base_url, retry_base_s=0.01,
                         retry_cap_s=0.05, timeouts=timeouts, concurrency=concurrency, max_retries=max_retries)
    engine = Engine(store, backend, events.append if events is not None else None)
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    finished = asyncio.run(go())
    return store, run_id, finished, build_report(store, run_id)["judge"]["scorers"][0]


def test_reference_judge_grades_every_sample_and_unparsed_replies_never_count(tmp_path, model_server):
    # odd cases FAIL; cases 0, 5, 10, 15 get a reply with no grade line (unparsed)
    def rule(parts):
        i = _case(parts)
        if i % 5 == 0:
            return "It looks right to me."
        return f"Reasoning for {i}.\nGRADE: {'FAIL' if i % 2 else 'PASS'}"

    model_server.grade_rule = rule
    events = []
    store, run_id, finished, section = _run(tmp_path, model_server, {"model": "openai-compatible/judge"},
                                            events=events)
    assert finished.status == "complete"
    assert model_server.grade_requests == 20
    samples = {s["case_id"]: s for s in store.get_samples(run_id)}
    # correct: even cases other than 0 and 10 → 2, 4, 6, 8, 12, 14, 16, 18
    assert sorted(c for c, s in samples.items() if s["correct"]) == [f"c{i:03d}" for i in (2, 4, 6, 8, 12, 14, 16, 18)]
    assert section["accuracy"]["once"]["k"] == 8 and section["accuracy"]["once"]["n"] == 20
    assert section["accuracy"]["majority"]["k"] == 8
    assert section["requests"]["n"] == 20 and section["requests"]["n_unparsed"] == 4
    assert sorted(u["case_id"] for u in section["unparsed"]) == ["c000", "c005", "c010", "c015"]
    assert all(u["problem"] == "no grade line" for u in section["unparsed"])
    judged = store.get_judgements(run_id, case_id="c003")
    assert judged[0]["grade"] == "FAIL" and judged[0]["reasoning"] == "Reasoning for 3."
    assert judged[0]["input_tokens"] > 0 and judged[0]["latency_ms"] is not None
    # progress counted judge requests apart from samples
    judge_events = [e for e in events if isinstance(e, JudgeFinished)]
    assert len(judge_events) == 20 and judge_events[-1].n_judge_done == 20 and judge_events[-1].n_judge_total == 20


def test_n_judge_samples_once_versus_majority_and_unstable_responses_flagged(tmp_path, model_server):
    # 3 judge samples. Case i % 4 == 0: samples 1 and 2 FAIL (majority FAIL, once PASS);
    # i % 4 == 1: sample 0 FAILs (once FAIL, majority PASS); otherwise all PASS.
    def rule(parts):
        i, k = _case(parts), _judge_sample(parts)
        fail = (i % 4 == 0 and k >= 1) or (i % 4 == 1 and k == 0)
        return f"GRADE: {'FAIL' if fail else 'PASS'}"

    model_server.grade_rule = rule
    store, run_id, finished, section = _run(tmp_path, model_server,
                                            {"model": "openai-compatible/judge", "samples": 3, "temperature": 1})
    assert model_server.grade_requests == 60
    assert sorted({_judge_sample(p) for p in model_server.grade_log}) == [0, 1, 2]
    # once: 20 − 5 cases with i % 4 == 1; majority: 20 − 5 cases with i % 4 == 0
    assert section["accuracy"]["once"]["k"] == 15
    assert section["accuracy"]["majority"]["k"] == 15
    samples = {s["case_id"]: s for s in store.get_samples(run_id)}
    assert not samples["c004"]["correct"] and samples["c005"]["correct"]
    flagged = sorted(d["case_id"] for d in section["disagreements"])
    assert flagged == sorted(f"c{i:03d}" for i in range(20) if i % 4 in (0, 1))
    judge = section["per_judge"][0]
    assert judge["n_unstable"] == 10
    # consistency: 10 responses 3/3 agree, 10 responses 2/3 → (10·1 + 10·2/3) / 20
    assert judge["consistency"] == pytest.approx((10 + 10 * 2 / 3) / 20)


def test_a_panel_of_two_judges_reports_fleiss_kappa_and_krippendorff_alpha(tmp_path, model_server):
    # judge-a passes everything; judge-b fails cases 0, 5, 10, 15.
    def rule(parts):
        fail = parts["model"] == "judge-b" and _case(parts) % 5 == 0
        return f"GRADE: {'FAIL' if fail else 'PASS'}"

    model_server.grade_rule = rule
    store, run_id, finished, section = _run(
        tmp_path, model_server, {"models": ["openai-compatible/judge-a", "openai-compatible/judge-b"]})
    assert model_server.grade_requests == 40
    # By hand: 16 items [P, P], 4 items [P, F]. Fleiss: P̄ = 16/20 = 0.8; p_P = 36/40, p_F = 4/40,
    # P̄e = 0.81 + 0.01 = 0.82; κ = (0.8 − 0.82) / 0.18 = −1/9.
    # Krippendorff: o_PP = 32, o_PF = o_FP = 4, n_P = 36, n_F = 4, n = 40;
    # α = 1 − 39 · 8 / (2 · 36 · 4) = 1 − 312/288 = −1/12.
    agreement = section["agreement"]
    assert agreement["n_items"] == 20
    assert agreement["fleiss_kappa"] == pytest.approx(-1 / 9)
    assert agreement["krippendorff_alpha"] == pytest.approx(-1 / 12)
    assert sorted(d["case_id"] for d in section["disagreements"]) == ["c000", "c005", "c010", "c015"]
    assert all(d["reason"] == "judges" for d in section["disagreements"])
    # a 1–1 split of two votes is no majority: those 4 samples are not correct
    assert section["accuracy"]["majority"]["k"] == 16
    by_judge = {j["judge"]: j for j in section["per_judge"]}
    assert by_judge["openai-compatible/judge-a"]["accuracy_once"]["k"] == 20
    assert by_judge["openai-compatible/judge-b"]["accuracy_once"]["k"] == 16


def test_pairwise_is_judged_in_both_orders_and_position_bias_counts_as_a_tie(tmp_path, model_server):
    # the default pairwise rule always says A: the first position wins whatever it holds
    store, run_id, finished, section = _run(tmp_path, model_server,
                                            {"model": "openai-compatible/judge", "mode": "pairwise"})
    assert model_server.grade_requests == 40
    orders = {(p["answer_a"].startswith("Answer:"), p["answer_b"].startswith("Answer:")) for p in model_server.grade_log}
    assert orders == {(True, False), (False, True)}  # the answer shown first, then second
    pw = section["pairwise"]
    assert pw["n_order_dependent"] == 20 and pw["tie"] == 20 and pw["win"] == 0
    assert not any(s["correct"] for s in store.get_samples(run_id))


def test_pairwise_consistent_preference_is_a_win(tmp_path, model_server):
    # prefers whichever answer starts with "Answer:" (the model's), in either position
    model_server.grade_rule = lambda p: "GRADE: " + ("A" if p["answer_a"].startswith("Answer:") else "B")
    store, run_id, finished, section = _run(tmp_path, model_server,
                                            {"model": "openai-compatible/judge", "mode": "pairwise"})
    assert section["pairwise"]["win"] == 20 and section["pairwise"]["n_order_dependent"] == 0
    assert all(s["correct"] for s in store.get_samples(run_id))


def test_human_labels_give_cohens_kappa_and_the_confusion_matrix(tmp_path, model_server):
    # judge: odd cases FAIL. Humans: cases 0–9 correct, 10–19 incorrect.
    model_server.grade_rule = lambda p: f"GRADE: {'FAIL' if _case(p) % 2 else 'PASS'}"
    store, run_id, finished, section = _run(
        tmp_path, model_server, {"model": "openai-compatible/judge", "range": [1, 5], "pass": 0.5},
        case_extra=lambda i: {"human_label": "pass" if i < 10 else "fail"})
    # range 1..5 with grades PASS/FAIL → every reply unparsed: grades must be numbers now
    assert section["requests"]["n_unparsed"] == 20 and section["accuracy"]["majority"]["k"] == 0


def test_human_labels_against_a_numeric_range_rubric(tmp_path, model_server):
    # judge gives 5 (score 1) to even cases and 2 (score 0.25 < pass 0.5) to odd ones
    model_server.grade_rule = lambda p: f"GRADE: {2 if _case(p) % 2 else 5}"
    store, run_id, finished, section = _run(
        tmp_path, model_server, {"model": "openai-compatible/judge", "range": [1, 5]},
        case_extra=lambda i: {"human_label": "pass" if i < 10 else "fail"})
    assert "<grades>1..5</grades>" in model_server.last_body["messages"][-1]["content"]
    human = section["human"]
    # rows human (correct, incorrect) × columns judge: humans-correct 0–9 → judge correct on 0,2,4,6,8
    assert human["confusion"]["matrix"] == [[5, 5], [5, 5]]
    # p_o = 0.5, p_e = 0.5·0.5 + 0.5·0.5 = 0.5 → κ = 0
    assert human["cohen_kappa"] == pytest.approx(0.0) and human["n"] == 20
    score = {s["case_id"]: s["score"] for s in store.get_samples(run_id)}
    assert score["c001"] == pytest.approx(0.25) and score["c002"] == pytest.approx(1.0)


def test_judge_requests_are_retried_like_answers(tmp_path, model_server):
    model_server.fail_first(3, status=500, key=GRADE_KEY)
    model_server.grade_rule = lambda p: "GRADE: PASS"
    store, run_id, finished, section = _run(tmp_path, model_server, {"model": "openai-compatible/judge"},
                                            n_cases=6)
    judged = store.get_judgements(run_id)
    assert len(judged) == 6 and all(j["error"] is None and j["parsed"] for j in judged)
    assert sum(j["attempts"] - 1 for j in judged) == 3
    assert model_server.status_counts[500] == 3
    assert all(s["correct"] for s in store.get_samples(run_id))


def test_a_judge_that_keeps_failing_is_stored_as_an_error_and_never_correct(tmp_path, model_server):
    model_server.fail_first(100, status=503, key=GRADE_KEY)
    store, run_id, finished, section = _run(tmp_path, model_server, {"model": "openai-compatible/judge"},
                                            n_cases=4, max_retries=1)
    judged = store.get_judgements(run_id)
    assert len(judged) == 4 and all(j["error"] and not j["parsed"] and j["attempts"] == 2 for j in judged)
    assert section["requests"]["n_errors"] == 4
    assert not any(s["correct"] for s in store.get_samples(run_id))


def test_a_rate_limited_judge_lowers_the_runs_shared_concurrency(tmp_path, model_server):
    from tuieval.engine import ConcurrencyChanged

    model_server.configure(retry_after="0")
    model_server.fail_first(6, status=429, key=GRADE_KEY)
    model_server.grade_rule = lambda p: "GRADE: PASS"
    events = []
    store, run_id, finished, section = _run(tmp_path, model_server, {"model": "openai-compatible/judge"},
                                            n_cases=12, events=events, concurrency=8)
    assert model_server.status_counts[429] == 6
    lowered = [e for e in events if isinstance(e, ConcurrencyChanged) and "429" in e.reason]
    assert lowered and min(e.limit for e in lowered) < 8
    judged = store.get_judgements(run_id)
    assert len(judged) == 12 and all(j["parsed"] for j in judged)
    assert sum(j["attempts"] - 1 for j in judged) == 6
