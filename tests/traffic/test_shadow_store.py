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
