"""How a shadow replay stores its logged baseline: in bulk (tuieval.store.bulk), found by `search`
like any sample, and read from memory (`lean_row`) exactly as `lean_samples` would read it back."""

from __future__ import annotations

import json

from tests.traffic.test_shadow_cli import _invoke, _traffic_log
from tuieval.store import Store
from tuieval.store.shadow import get_shadow, lean_row, lean_samples


def test_the_logged_baseline_answers_are_found_by_search(tmp_path, model_server, capsys):
    log = _traffic_log(tmp_path)   # prompts 8, 9, 10 logged "Answer: other<i>", the server answers N<i>
    db = tmp_path / "t.db"
    code, out, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/cand",
                              "--base-url", model_server.openai_base_url, "--db", str(db), "--format", "json",
                              "--max-retries", "0"], capsys)
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    with Store(db) as store:
        baseline = get_shadow(store, run_id)["baseline_run_id"]
    code, out, err = _invoke(["search", "other9", "--json", "--db", str(db)], capsys)
    assert code == 0, err
    hits = json.loads(out)
    # only the logged answer says other9 (the candidate answered N9); the baseline's own verdict
    # is correct (a logged answer is its own target)
    assert [(h["run_id"], h["verdict"]) for h in hits] == [(baseline, "correct")]
    assert "«other9»" in hits[0]["snippet"]
    # the prompt of a logged row is searchable too: both runs hold "number 3"
    code, out, _ = _invoke(["search", "number 3", "--json", "--db", str(db)], capsys)
    assert sorted(h["run_id"] for h in json.loads(out)) == sorted([baseline, run_id])


def test_lean_row_is_what_lean_samples_reads_back(tmp_path):
    store = Store(tmp_path / "x.db")
    run_id = store.create_run({"suite": "s", "model": "m/one", "samples_per_case": 1, "temperature": 0.0,
                               "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": {}}, [])
    base = {"run_id": run_id, "template": "logged", "sample_index": 0, "prompt": [{"role": "user", "content": "q"}],
            "score": 1.0}
    rows = [
        {**base, "case_id": "a", "dispatch_order": 0, "response": " Paris ", "extracted": "Paris", "correct": True,
         "latency_ms": 100},                                              # int latency: stored REAL
        {**base, "case_id": "b", "dispatch_order": 1, "response": "Rome", "correct": True, "latency_ms": 7.5,
         "cached": True, "ttft_ms": 3.0, "output_tokens": 4},             # cached: no latency for the analysis
        {**base, "case_id": "c", "dispatch_order": 2, "response": None, "correct": False, "score": 0.0,
         "error": "no response in the log", "error_kind": "not_logged"},  # an error: no answer, never correct
        {**base, "case_id": "d", "dispatch_order": 3, "response": "x", "correct": True, "error": "timeout"},
    ]
    for r in rows:
        store.add_sample(r)
    back = lean_samples(store, run_id, ["a", "b", "c", "d"])
    assert [lean_row(r) for r in rows] == back
    # by hand, so that both cannot be wrong the same way
    assert [(s["answer"], s["correct"], s["latency_ms"], s["ttft_ms"]) for s in back] == [
        ("Paris", True, 100.0, None), ("Rome", True, None, None), (None, False, None, None), (None, False, None, None)]
    assert all(type(a["latency_ms"]) is type(b["latency_ms"]) for a, b in zip(map(lean_row, rows), back))
    from tuieval.store.db import ANALYSIS_COLUMNS

    assert all(list(lean_row(r)) == list(ANALYSIS_COLUMNS) for r in rows)


def test_a_prompt_is_encoded_once_as_each_run_would_encode_its_case():
    from tuieval.traffic.log import TrafficRecord
    from tuieval.traffic.sample import Chosen
    from tuieval.traffic.shadow import _case_row, _prompt

    messages = [{"role": "system", "content": 'Say "yes"\nor no'}, {"role": "user", "content": "José García?"}]
    meta = {"team": "ü", "n": [1, {"a": None}]}
    chat = Chosen(TrafficRecord(line=3, prompt="José García?", messages=messages, response="Sí", metadata=meta),
                  "k1", 0.5, ())
    flat = Chosen(TrafficRecord(line=4, prompt="Who?"), "k2", 0.5, ())
    p = _prompt(chat)
    # what `add_cases` stores for the case {vars: {messages}, targets, metadata, input_text}
    assert _case_row(p, "Sí") == ("k1", json.dumps({"messages": messages}, ensure_ascii=False),
                                  json.dumps(["Sí"], ensure_ascii=False), json.dumps(meta, ensure_ascii=False),
                                  'Say "yes"\nor no\nJosé García?')
    assert json.loads(p.vars_json) == {"messages": messages} and json.loads(p.prompt_json) == messages
    # a flat record's prompt becomes one user turn; no answer: no target
    q = _prompt(flat)
    assert _case_row(q, None) == ("k2", '{"messages": [{"role": "user", "content": "Who?"}]}', "[]", "{}", "Who?")
    assert q.prompt_json == '[{"role": "user", "content": "Who?"}]'


def test_the_candidates_rows_from_the_engines_events_are_the_stored_rows(tmp_path, model_server):
    import asyncio

    from tests.support.suites import write_echo_suite
    from tuieval.backends.base import Timeouts
    from tuieval.backends.registry import create_backend
    from tuieval.engine import Engine, RunOptions
    from tuieval.suite import load_suite
    from tuieval.traffic.shadow import _Answers

    suite = load_suite(write_echo_suite(tmp_path, 6))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts,
                         concurrency=2, max_retries=0)
    seen = []
    answers = _Answers(seen.append)
    engine = Engine(store, backend, answers)
    run_id = engine.create_run(suite, options)
    model_server.fail_first(1, 500, key="tok2")    # c002: an error sample
    ids = [f"c{i:03d}" for i in range(6)]

    async def go():
        try:
            await engine.run(run_id, options, cases=ids[:3])
            first = answers.batch_rows(store, run_id, engine, ids[:3])
            # a resume: c000–c002 are stored, only c003–c005 are asked
            await engine.run(run_id, options, cases=ids)
            return first, answers.batch_rows(store, run_id, engine, ids), dict(answers.rows)
        finally:
            await backend.aclose()

    first, both, asked = asyncio.run(go())
    assert first == {s["case_id"]: s for s in lean_samples(store, run_id, ids[:3])}
    assert both == {s["case_id"]: s for s in lean_samples(store, run_id, ids)}
    assert sorted(asked) == ids[3:]                      # the second pass asked only those
    assert (both["c002"]["answer"], both["c002"]["correct"]) == (None, False)
    assert (both["c001"]["answer"], both["c001"]["correct"]) == ("tok1", True)
    assert seen                                           # the caller's on_event still hears every event


def test_a_logged_answer_is_scored_as_the_scorer_scores_it_against_itself():
    from tuieval.traffic.log import TrafficRecord
    from tuieval.traffic.sample import Chosen
    from tuieval.traffic.shadow import _logged_sample, _prompt, _scorer

    for response in ["  Paris ", "", "   ", "!!!", "The", "the Eiffel-Tower!", "José", "2.5", "Answer: N3"]:
        ch = Chosen(TrafficRecord(line=1, prompt="q", response=response), "k", 0.5, ())
        row = _logged_sample("r", ch, _prompt(ch), 0, "2026-12-01T00:00:00+00:00")
        plain = _scorer().score(response, [response])
        assert (row["extracted"], row["correct"], row["score"]) == (plain.extracted, plain.correct, plain.score)
        assert row["scores"] == {"normalized": {"extracted": plain.extracted, "correct": plain.correct,
                                                "score": plain.score}}
    # by hand: punctuation and articles only normalise to nothing, so they are no answer
    ch = Chosen(TrafficRecord(line=1, prompt="q", response="The"), "k", 0.5, ())
    assert _logged_sample("r", ch, _prompt(ch), 0, "t")["correct"] is False
    ch = Chosen(TrafficRecord(line=1, prompt="q", response=" Paris "), "k", 0.5, ())
    assert _logged_sample("r", ch, _prompt(ch), 0, "t")["extracted"] == "Paris"



def test_pairs_agree_exactly_when_the_full_clustering_puts_them_in_one_cluster():
    from tuieval.report.clustering import cluster_pairs, cluster_samples

    pairs = [("Paris", "paris."), ("4", "4.0"), ("4", "four"), ("The Eiffel Tower", "eiffel tower!"),
             ("José", "Jose"), ("Person 3", "Person 3"), ("yes", "no")]
    # by hand (canonical: case, punctuation and articles go, numbers compare as numbers, accents stay)
    want = [True, True, False, True, False, True, False]
    for method, expected in (("canonical", want), ("lexical", None)):
        run = {"id": "r", "config": {"variance": {"method": method}}}
        samples = [{"case_id": f"k{i}", "template": "pair", "sample_index": j, "answer": text, "error": None}
                   for i, pair in enumerate(pairs) for j, text in enumerate(pair)]
        full, _rows, _ = cluster_samples(run, samples, None, method, None)
        same = [full[(f"k{i}", "pair", 0)] == full[(f"k{i}", "pair", 1)] for i in range(len(pairs))]
        got = cluster_pairs(run, pairs, None, method, None)
        assert got == same, method
        if expected is not None:
            assert got == expected
