"""The fast path gives exactly the reference's report and stored clusters.

A large run is analysed from columns (`Store.analysis_sample_columns`) and clustered once for
both its report and its store. The reference is the row path that stays in the code: one
dictionary per sample (`Store.analysis_samples`), `cluster_run` + `cluster_records`, then
`analyze_run` with those clusters. Both read the same real SQLite file holding a varied run:
errors (timeouts and server errors), cached samples, an answer-less non-error sample, two
templates, metadata slices, refusals, a case with no samples and a sample of a case the run
does not list.
"""

from __future__ import annotations

import random

import pytest

from tuieval.analysis.report import analyze_run
from tuieval.report.build import build
from tuieval.report.clustering import cluster_samples
from tuieval.sample_columns import SampleColumns
from tuieval.store import Store

REFUSAL = "I'm sorry, I can't help with that."


def _varied_run(path, method: str, pad: bool = True) -> str:
    """`pad=False` names cases c0, c1 … c58: read by case id (c1, c10, c11 …) they are out of position order."""
    rng = random.Random(7)
    name = (lambda i: f"c{i:03d}") if pad else (lambda i: f"c{i}")
    store = Store(str(path))
    langs = ["en", "de", "ru", "ja"]
    cases = [{"case_id": name(i), "position": i, "vars": {}, "targets": [str(i)],
              "metadata": {"lang": langs[i % 4], "difficulty": ["easy", "hard"][i % 2 == 0 and i % 3 == 0]},
              "input_text": ["What is the total?", "Wie viel kostet es, Jürgen?", "Сколько у Дмитрия яблок?",
                             "りんごは何個？"][i % 4] + " x" * (i % 50)} for i in range(60)]
    run_id = store.create_run({"suite": "varied", "model": "demo/varied", "samples_per_case": 4,
                               "temperature": 0.7, "n_cases": len(cases), "n_templates": 2, "n_expected": 480,
                               "slo_ms": 900.0, "config": {"variance": {"method": method}}}, cases)
    order = 0
    for i in range(59):  # c059 has no samples
        for template in ("plain", "terse"):
            for k in range(4):
                roll = rng.random()
                row = {"run_id": run_id, "case_id": name(i), "template": template, "sample_index": k,
                       "dispatch_order": order, "prompt": "[]", "score": 0.0, "correct": False,
                       "latency_ms": rng.lognormvariate(6.5, 0.5), "ttft_ms": rng.uniform(20, 90),
                       "output_tokens": rng.randint(3, 60), "cached": rng.random() < 0.15}
                if roll < 0.05:
                    row.update(error="timeout", error_kind="timeout", latency_ms=30000.0, response=None,
                               ttft_ms=None, output_tokens=None)
                elif roll < 0.08:
                    row.update(error="HTTP 500", error_kind="server", correct=True, response=None)
                elif roll < 0.15:
                    row.update(response=REFUSAL)
                elif roll < 0.17:
                    row.update(response=None)  # answered nothing, yet not an error
                else:
                    right = rng.random() < (0.5 if i % 4 == 2 else 0.85)
                    answer = str(i) if right else str(i + rng.choice([1, 2]))
                    row.update(response=rng.choice([answer, f"The answer is {answer}.", f"{answer}.0"]),
                               extracted=answer if rng.random() < 0.6 else None, correct=right,
                               score=float(right))
                store.add_sample(row)
                order += 1
    store.add_sample({"run_id": run_id, "case_id": "stray", "template": "plain", "sample_index": 0,
                      "dispatch_order": order, "prompt": "[]", "response": "7", "correct": True, "score": 1.0,
                      "latency_ms": 500.0})
    store.set_status(run_id, "complete")
    store.close()
    return run_id


@pytest.mark.parametrize("method", ["canonical", "lexical"])
def test_fast_path_report_and_clusters_equal_the_reference(tmp_path, method):
    db = tmp_path / "v.db"
    run_id = _varied_run(db, method)
    with Store(str(db)) as store:
        run = store.get_run(run_id)
        rows = store.analysis_samples(run_id)
        columns = store.analysis_sample_columns(run_id)
        # the columns are the rows, one for one
        assert isinstance(columns, SampleColumns) and len(columns) == len(rows) == 473
        assert list(columns) == rows and columns[5] == rows[5] and columns[-1] == rows[-1]

        cases = store.analysis_cases(run_id)
        assignments, cluster_rows, stats = cluster_samples(run, rows, cases, method, None)
        reference = analyze_run(run, cases, rows, method=method, clusters=assignments, cluster_stats=stats)

        fast = build(store, run_id, persist_clusters=True).report
        for key in ("schema", "run", "overall", "slices", "cases", "analysis", "robustness"):
            assert fast[key] == reference[key], key
        assert reference["overall"]["n_errors"] > 0 and reference["overall"]["n_templates"] == 2
        assert any(c["id"] == "stray" for c in reference["cases"])
        assert reference["overall"]["n_cases_pending"] == 1

        # what was stored: every sample's cluster, and the cluster rows in the reference's order
        stored = {(s["case_id"], s["template"], s["sample_index"]): s["cluster"]
                  for s in store.analysis_samples(run_id) if s["cluster"] is not None}
        assert stored == assignments
        got = [{k: c[k] for k in ("case_id", "template", "cluster", "size", "correct", "representative")}
               for c in store.get_clusters(run_id)]
        want = [{**c, "correct": int(bool(c["correct"]))} for c in cluster_rows]
        assert got == want
        assert {c["method"] for c in store.get_clusters(run_id)} == {method}


def test_stored_report_reopened_equals_the_fresh_one(tmp_path):
    db = tmp_path / "v.db"
    run_id = _varied_run(db, "lexical")
    with Store(str(db)) as store:
        fresh = build(store, run_id, persist_clusters=True).report
        reopened = build(store, run_id).report
        assert reopened == fresh


def test_html_page_reads_two_columns_yet_draws_what_the_rows_give(tmp_path):
    """The page's histogram, deadline curve and worst cases' answers, against the same figures
    made from every lean row (cached samples have no latency; errors are never correct)."""
    import numpy as np

    from tuieval.report.page import ANSWERS_PER_CASE, _deadline, latency_histogram, run_page

    db = tmp_path / "v.db"
    run_id = _varied_run(db, "canonical")
    with Store(str(db)) as store:
        page = run_page(store, run_id)
        rows = store.analysis_samples(run_id)
    latency = np.array([np.nan if s["latency_ms"] is None else s["latency_ms"] for s in rows], dtype=float)
    correct = np.array([s["correct"] for s in rows], dtype=bool)
    assert np.isnan(latency).sum() > 0 and page["histogram"]["n"] == int((~np.isnan(latency)).sum())
    assert page["histogram"] == latency_histogram(latency)
    assert page["deadline"] == _deadline(correct, latency)
    for case in page["worst"]:
        mine = [{k: s.get(k) for k in ("template", "sample_index", "answer", "correct", "latency_ms", "error")}
                for s in rows if s["case_id"] == case["id"]]
        assert case["answers"] == mine[:ANSWERS_PER_CASE] and case["n_answers"] == len(mine) > 0


def test_chart_arrays_from_columns_equal_those_from_rows(tmp_path):
    """The charts' per-sample arrays stored with the report, made from the columns without a row
    dictionary, hold what the row path makes (a stray case, errors, cached samples with no latency)."""
    import numpy as np

    from tuieval.report.stored import sample_arrays

    db = tmp_path / "v.db"
    run_id = _varied_run(db, "canonical")
    with Store(str(db)) as store:
        rows = store.analysis_samples(run_id)
        columns = store.analysis_sample_columns(run_id)
    fast, slow = sample_arrays(columns), sample_arrays(rows)
    assert fast.case_ids == slow.case_ids and "stray" in fast.case_ids and len(fast.case_ids) == 60
    for name in ("sample_case", "latency", "correct", "error"):
        a, b = getattr(fast, name), getattr(slow, name)
        assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), name
    # hand-checked against the rows themselves: the errors counted, cached latencies missing
    assert int(fast.error.sum()) == sum(1 for s in rows if s["error"] is not None) > 0
    assert int(np.isnan(fast.latency).sum()) == sum(1 for s in rows if s["latency_ms"] is None) > 0
    assert not (fast.correct & fast.error).any()


@pytest.mark.parametrize("packed", [True, False])
def test_clusters_written_back_only_where_they_changed(tmp_path, monkeypatch, packed):
    """A second analysis rewrites no sample row whose stored cluster is already right, and
    repairs one that is wrong; the stored clusters stay the reference's — written as one
    statement over a packed JSON array, or one statement per sample where SQLite lacks it."""
    import tuieval.store.db as db_module

    monkeypatch.setattr(db_module, "_PACKED_UPDATE", packed and db_module._PACKED_UPDATE)
    # on the store's own connection, where the trace sees it (the write-back in a thread, on a
    # connection of its own, is held to this one by tests/report/test_storage_fast_paths.py)
    monkeypatch.setattr(db_module.Store, "_can_write_beside", lambda self: False)
    db = tmp_path / "v.db"
    run_id = _varied_run(db, "lexical")
    with Store(str(db)) as store:
        rows = store.analysis_samples(run_id)
        cases = store.analysis_cases(run_id)
        reference, _, _ = cluster_samples(store.get_run(run_id), rows, cases, "lexical", store)
        build(store, run_id, persist_clusters=True)
        first = {(s["case_id"], s["template"], s["sample_index"]): s["cluster"] for s in store.analysis_samples(run_id)}
        answered = [k for k, c in first.items() if c is not None]
        assert len(answered) > 300
        victim = answered[17]
        store.conn.execute("UPDATE samples SET cluster = 99 WHERE run_id = ? AND case_id = ? AND template = ? "
                           "AND sample_index = ?", (run_id, *victim))
        updates: list[str] = []
        store.conn.set_trace_callback(lambda sql: updates.append(sql) if sql.startswith("UPDATE samples") else None)
        before = store.conn.total_changes
        build(store, run_id, persist_clusters=True)
        changed = store.conn.total_changes - before
        store.conn.set_trace_callback(None)
        again = {(s["case_id"], s["template"], s["sample_index"]): s["cluster"] for s in store.analysis_samples(run_id)}
        n_cluster_rows = len(store.get_clusters(run_id))
    assert {k: c for k, c in first.items() if c is not None} == reference
    assert again == first
    assert len(updates) == 1  # one statement (packed) or the repaired sample's alone
    # rows changed: the repaired sample, the cluster rows deleted and inserted again, the report's rows
    report_rows = changed - 1 - 2 * n_cluster_rows
    assert 0 < report_rows < 200


def test_analysis_cases_decode_every_case_metadata_as_get_case_does(tmp_path):
    store = Store(str(tmp_path / "c.db"))
    metas = [{}, {"lang": "ru", "tags": ["a", "b"]}, {"note": "Jürgen \u2028 \"quoted\"", "n": 1.5},
             {"nested": {"x": [1, {"y": None}]}}, {"lang": "ja"}]
    cases = [{"case_id": f"k{i}", "position": i, "vars": {}, "targets": ["1"], "metadata": m, "input_text": f"q{i}"}
             for i, m in enumerate(metas)]
    run_id = store.create_run({"suite": "m", "model": "demo/m", "samples_per_case": 1, "temperature": 0.0, "n_cases": 5,
                               "n_templates": 1, "n_expected": 5}, cases)
    got = store.analysis_cases(run_id)
    assert [c["metadata"] for c in got] == metas
    assert [c["metadata"] for c in got] == [store.get_case(run_id, f"k{i}")["metadata"] for i in range(5)]
    assert [(c["case_id"], c["position"], c["input_text"]) for c in got] == [(f"k{i}", i, f"q{i}") for i in range(5)]
    store.close()


def test_case_entries_encoded_as_json_dumps_encodes_them():
    import json
    import math

    from tuieval.report.stored import _entry_encoder

    encode = _entry_encoder()
    entries = [{"id": "c1", "accuracy": 0.1 + 0.2, "x": float("nan"), "y": [math.inf, -math.inf, 1e-320, 10**20],
                "text": "Jürgen \u2028 \"q\" \\ \x00 \ud800 日本", "nested": {"a": [None, True, False, {}]}},
               {}, {"k": []}, {"1": 1, "2": [1.5, "ü"]}]
    for e in entries:
        assert encode(e) == json.dumps(e, ensure_ascii=False)
    assert encode(entries[0]) == encode(entries[0])  # reusable
