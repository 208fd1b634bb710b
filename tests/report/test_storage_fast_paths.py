"""The storage side of a large run's analysis takes shortcuts; each is held here to the plain
way it replaced, and to figures worked out by hand, on a real SQLite file:

- the token usage per case from one extra column of the analysis's read
  (tuieval.store.usage_columns) against `Store.token_usage`'s GROUP BY query and by hand;
- the cost section built from it (and from the slice membership the stored report uses)
  against the section built the plain way;
- the stored report (every table it writes) identical whichever way it was written.
"""

from __future__ import annotations

import json

import pytest

from tuieval.cost.prices import Price
from tuieval.report import build_report
from tuieval.report.cost import cost_section
from tuieval.report.stored import load_report, sample_arrays
from tuieval.store import Store
from tuieval.store.usage_columns import USAGE_KEYS, usage_from_columns

MODEL = "demo/priced"
#: dollars per million tokens
PRICE = Price(MODEL, input=1.0, output=2.0, cached_input=0.5, cache_write=4.0, cache_write_1h=8.0)


def _sample(case_id: str, j: int, **kw) -> dict:
    row = {"case_id": case_id, "template": "default", "sample_index": j, "dispatch_order": j, "prompt": "[]",
           "response": "Paris", "extracted": None, "correct": 1, "score": 1.0, "latency_ms": 100.0 + j,
           "ttft_ms": None, "output_tokens": 1, "input_tokens": 1, "error": None, "error_kind": None}
    row.update(kw)
    return row


#: case "a": counted; an error with no counts; an answer whose prompt (40 characters) was not counted.
#: case "b": answered from the response cache; prompt-cache reads and writes; an answer whose
#: output (12 characters) was not counted. case "é": counted (a non-ASCII id sorts last).
SAMPLES = [
    _sample("a", 0, input_tokens=100, output_tokens=10),
    _sample("a", 1, input_tokens=None, output_tokens=None, response=None, correct=0, error="HTTP 500",
            error_kind="server"),
    _sample("a", 2, input_tokens=None, output_tokens=5, prompt="x" * 40),
    _sample("b", 0, input_tokens=50, output_tokens=7, cached=1),
    _sample("b", 1, input_tokens=200, output_tokens=20, cached_tokens=120, cache_write_tokens=30,
            cache_write_1h_tokens=10),
    _sample("b", 2, input_tokens=80, output_tokens=None, response="y" * 12),
    _sample("é", 0, input_tokens=3, output_tokens=4),
]

BY_HAND = {
    #      n  input output uncounted prompt-chars response-chars n-cached cached written 1h
    "a": (3, 100, 15, 1, 40, 0, 0, 0, 0, 0),
    "b": (2, 280, 20, 1, 0, 12, 1, 120, 30, 10),
    "é": (1, 3, 4, 0, 0, 0, 0, 0, 0, 0),
}


def _make(path, samples, *, model=MODEL) -> str:
    store = Store(path)
    cases = sorted({s["case_id"] for s in samples})
    run_id = store.create_run(
        {"suite": "t", "model": model, "samples_per_case": 3, "temperature": 0.0, "n_cases": len(cases),
         "n_templates": 1, "n_expected": len(samples),
         "config": {"variance": {"method": "lexical"}, "prices": {MODEL: PRICE.to_json()}}},
        [{"case_id": c, "position": i, "vars": {}, "targets": ["Paris"],
          "metadata": {"lang": "en" if i % 2 else "fr"}, "input_text": f"Capital? {c}"}
         for i, c in enumerate(cases)])
    store.add_samples([{**s, "run_id": run_id} for s in samples])
    store.set_status(run_id, "complete")
    store.close()
    return run_id


def _usage_from_read(store: Store, run_id: str) -> list[dict]:
    cols = store.analysis_sample_columns(run_id)
    arrays = sample_arrays(cols)
    return usage_from_columns(arrays.case_ids, arrays.sample_case, cols.floats("output_tokens"), cols.columns["usage"])


def test_usage_from_the_read_columns_is_the_group_by_and_the_hand_count(tmp_path):
    run_id = _make(tmp_path / "u.db", SAMPLES)
    with Store(tmp_path / "u.db") as store:
        got = _usage_from_read(store, run_id)
        query = store.token_usage(run_id)
    expected = [dict(zip(USAGE_KEYS, (c, *v))) for c, v in BY_HAND.items()]
    assert got == expected
    assert query == expected


def test_usage_when_every_sample_fits_one_integer(tmp_path):
    # counted answers, errors and uncounted prompts only: the column is all integers (one conversion)
    plain = [s for s in SAMPLES if s["case_id"] in ("a", "é")]
    run_id = _make(tmp_path / "p.db", plain)
    with Store(tmp_path / "p.db") as store:
        assert all(type(u) is int for u in store.analysis_sample_columns(run_id).columns["usage"])
        got = _usage_from_read(store, run_id)
        assert got == store.token_usage(run_id)
    assert [tuple(r.values())[1:] for r in got] == [BY_HAND["a"], BY_HAND["é"]]


def test_the_cost_section_by_hand_and_the_same_as_the_plain_way(tmp_path):
    run_id = _make(tmp_path / "c.db", SAMPLES)
    with Store(tmp_path / "c.db") as store:
        report = build_report(store, run_id, persist_clusters=True)
        run = store.get_run(run_id)
        # the plain way: the GROUP BY query and the membership computed by the cost section itself
        plain = cost_section(store, run, store.analysis_cases(run_id), report.get("slices") or [])
    cost = report["cost"]
    assert json.dumps(cost) == json.dumps(plain)
    # by hand, per million tokens at input 1, output 2, cached 0.5, 5-minute write 4, 1-hour write 8:
    # a: (100 + 40/4)·1 + 15·2 = 140; b: 130·1 + 120·0.5 + 20·4 + 10·8 + (20 + 12/4)·2 = 396; é: 3 + 4·2 = 11
    assert cost["total"] == pytest.approx(547e-6)
    assert cost["model"]["n_requests"] == 6 and cost["model"]["n_estimated"] == 2 and cost["model"]["n_cached"] == 1
    assert (cost["model"]["input_tokens"], cost["model"]["output_tokens"]) == (383, 39)
    assert cost["n_cases"] == 3 and cost["per_case"] == pytest.approx(547e-6 / 3)
