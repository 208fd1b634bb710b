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
import shutil
import sqlite3

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


def _tables(path, run_id: str) -> dict:
    """Everything the analysis stores for a run, as read back with plain SQL."""
    with sqlite3.connect(path) as conn:
        q = lambda sql: conn.execute(sql, (run_id,)).fetchall()  # noqa: E731
        return {
            "reports": q("SELECT fingerprint, body, cases_apart FROM reports WHERE run_id = ?"),
            "report_cases": q("SELECT ord, case_id, accuracy, consistency, body FROM report_cases WHERE run_id = ? "
                              "ORDER BY ord"),
            "report_arrays": q("SELECT fingerprint, n, case_ids, sample_case, latency, correct, error FROM report_arrays "
                               "WHERE run_id = ?"),
            "report_slices": q("SELECT fingerprint, n_cases, levels, bits FROM report_slices WHERE run_id = ?"),
            "clusters": q("SELECT rowid, case_id, template, cluster, method, size, correct, representative FROM clusters "
                          "WHERE run_id = ? ORDER BY rowid"),
            "sample_clusters": q("SELECT id, cluster FROM samples WHERE run_id = ? ORDER BY id"),
        }


def test_the_stored_report_is_the_same_whichever_way_it_is_written(tmp_path, monkeypatch):
    """Fast: the write-back in a thread (its ids packed with numpy), usage and membership shared from
    the read. Plain: every one of them the old way. Every stored table byte for byte the same."""
    import importlib

    import tuieval.store.db as db_module
    from tests.report.test_columnar_analysis import _varied_run

    build_module = importlib.import_module("tuieval.report.build")  # (tuieval.report.build is also a function)
    fast_db, plain_db = tmp_path / "fast.db", tmp_path / "plain.db"
    run_id = _varied_run(fast_db, "lexical")
    shutil.copyfile(fast_db, plain_db)
    with Store(fast_db) as store:
        threads = []
        real = db_module.PendingWrite.__init__

        def spy(self, path, write):  # the write-back really went to a thread of its own
            threads.append(path)
            real(self, path, write)

        monkeypatch.setattr(db_module.PendingWrite, "__init__", spy)
        fast = build_report(store, run_id, persist_clusters=True)
        monkeypatch.undo()
        assert threads == [str(fast_db)]
        assert _usage_from_read(store, run_id) == store.token_usage(run_id)
    with monkeypatch.context() as m:
        m.setattr(db_module.Store, "_can_write_beside", lambda self: False)
        m.setattr(db_module, "_PACKED_UPDATE", False)
        m.setattr(build_module, "_shared_parts", lambda cases, samples, **kw: {})
        with Store(plain_db) as store:
            plain = build_report(store, run_id, persist_clusters=True)
    assert json.dumps(fast, ensure_ascii=False) == json.dumps(plain, ensure_ascii=False)
    assert fast["cost"]["slices"] and fast["cost"]["model"]["n_cached"] > 0
    got, want = _tables(fast_db, run_id), _tables(plain_db, run_id)
    for name in want:
        assert got[name] == want[name], name
    assert len(got["clusters"]) > 100 and sum(c is not None for _, c in got["sample_clusters"]) > 300


def test_a_failed_write_back_is_raised_and_stores_no_report(tmp_path):
    from tests.report.test_columnar_analysis import _varied_run

    db = tmp_path / "f.db"
    run_id = _varied_run(db, "lexical")
    with sqlite3.connect(db) as conn:  # a real failure inside SQLite, on the write-back's connection
        conn.execute("CREATE TRIGGER no_clusters BEFORE UPDATE OF cluster ON samples "
                     "BEGIN SELECT RAISE(ABORT, 'clusters refused'); END")
    with Store(db) as store:
        with pytest.raises(sqlite3.IntegrityError, match="clusters refused"):
            build_report(store, run_id, persist_clusters=True)
    tables = _tables(db, run_id)
    assert tables["reports"] == [] and tables["clusters"] == []
    assert all(c is None for _, c in tables["sample_clusters"])


def test_the_write_back_goes_on_while_the_caller_does(tmp_path):
    """Another writer holds the file: the call returns at once, the clusters land once it lets go."""
    from tests.report.test_columnar_analysis import _varied_run

    db = tmp_path / "w.db"
    run_id = _varied_run(db, "lexical")
    holder = sqlite3.connect(db, isolation_level=None)
    with Store(db) as store:
        ids = [r[0] for r in store.conn.execute("SELECT id FROM samples WHERE run_id = ? ORDER BY id LIMIT 3",
                                                (run_id,))]
        holder.execute("BEGIN IMMEDIATE")
        pending = store.write_cluster_ids(run_id, "lexical", [(5, ids[0]), (6, ids[1]), (7, ids[2])],
                                          [{"case_id": "c000", "template": "plain", "cluster": 5, "size": 1,
                                            "correct": True, "representative": "0"}], background=True)
        # returned while the file is still held: nothing written yet
        assert holder.execute("SELECT COUNT(*) FROM clusters").fetchone()[0] == 0
        holder.execute("COMMIT")
        pending.wait()
        got = store.conn.execute(f"SELECT cluster FROM samples WHERE id IN ({', '.join('?' * 3)}) ORDER BY id",
                                 ids).fetchall()
        rows = store.get_clusters(run_id)
    holder.close()
    assert [r[0] for r in got] == [5, 6, 7]
    assert [(r["case_id"], r["cluster"], r["size"], r["correct"], r["representative"]) for r in rows] == \
        [("c000", 5, 1, 1, "0")]
