"""The storage side of a large run's analysis takes shortcuts; each is held here to the plain
way it replaced, and to figures worked out by hand, on a real SQLite file:

- the token usage per case read beside the analysis (`Store.token_usage_beside`, a
  tuieval.store.usage_columns.UsageTable) against `Store.token_usage` and by hand;
- the cost section priced from its columns (`Price.cost_arrays`, and the slice membership the
  stored report uses) against the section built the plain way, and the array price against the
  scalar one on fuzzed counts, float for float;
- the sample columns' case ids and templates made from the sorted groups against the rows;
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
from tuieval.store.usage_columns import USAGE_KEYS, UsageTable

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


def _usage_from_read(store: Store, run_id: str) -> UsageTable:
    return store.token_usage_beside(run_id).wait()


def test_usage_read_beside_is_the_group_by_and_the_hand_count(tmp_path):
    run_id = _make(tmp_path / "u.db", SAMPLES)
    with Store(tmp_path / "u.db") as store:
        got = _usage_from_read(store, run_id)
        query = store.token_usage(run_id)
    expected = [dict(zip(USAGE_KEYS, (c, *v))) for c, v in BY_HAND.items()]
    assert list(got) == expected and got[1] == expected[1] and got[-1:] == expected[-1:]
    assert query == expected
    # and as integer columns, case by case as counted by hand
    assert got.integral and got.case_ids == ["a", "b", "é"]
    for k, key in enumerate(USAGE_KEYS[1:]):
        assert got.arrays[key].dtype.kind == "i"
        assert got.arrays[key].tolist() == [BY_HAND[c][k] for c in ("a", "b", "é")], key


def test_usage_read_beside_in_a_transaction_is_read_at_once(tmp_path):
    # inside the caller's transaction a second connection would not see its writes: read on its own
    import tuieval.store.db as db_module

    run_id = _make(tmp_path / "t.db", SAMPLES)
    with Store(tmp_path / "t.db") as store:
        store.conn.execute("BEGIN")
        pending = store.token_usage_beside(run_id)
        assert isinstance(pending, db_module.PendingRead) and pending._thread is None
        assert list(pending.wait()) == store.token_usage(run_id)
        store.conn.execute("COMMIT")


def test_a_real_token_count_gives_rows_only_and_the_same_cost(tmp_path):
    # another tool stored 2.5 input tokens: its SUM is a float, so the table offers the rows only
    # (no integer columns) and the cost section prices them one by one, as before
    run_id = _make(tmp_path / "r.db", SAMPLES + [_sample("é", 1, input_tokens=2.5, output_tokens=1)])
    with Store(tmp_path / "r.db") as store:
        table = _usage_from_read(store, run_id)
        assert not table.integral and table.arrays == {}
        assert list(table) == store.token_usage(run_id)
        assert [r["input_tokens"] for r in table] == [100, 280, 5.5]
        report = build_report(store, run_id, persist_clusters=True)
        run = store.get_run(run_id)
        plain = cost_section(store, run, store.analysis_cases(run_id), report.get("slices") or [])
    assert json.dumps(report["cost"]) == json.dumps(plain)
    # é: (3 + 2.5)·1 + (4 + 1)·2 = 15.5 per million on top of a's 140 and b's 396
    assert report["cost"]["total"] == pytest.approx(551.5e-6)


@pytest.mark.parametrize("batch", [False, True])
def test_the_array_price_is_the_scalar_price_float_for_float(batch):
    """Price.cost_arrays against Price.cost on fuzzed counts (zeros, cache reads past the prompt,
    one-hour writes past all writes, estimated quarter tokens), every rate set or left None."""
    import random

    import numpy as np

    rng = random.Random(11)
    prices = [PRICE, Price("m", input=0.15, output=0.6), Price("m", input=3.0, output=15.0, cached_input=0.3,
                                                               cache_write=3.75, batch_discount=0.5),
              Price("m", input=1e-3, output=7.77, cache_write_1h=6.0, batch_discount=0.37)]
    n = 3000
    cols = {k: np.array([rng.choice([0, 0, rng.randint(0, 50), rng.randint(0, 10**7)]) for _ in range(n)],
                        dtype=np.int64)
            for k in ("input", "output", "cached", "written", "hour", "prompt_chars", "response_chars")}
    inp = cols["input"] + cols["prompt_chars"] / 4.0
    out = cols["output"] + cols["response_chars"] / 4.0
    for price in prices:
        got = price.cost_arrays(inp, out, cols["cached"], cols["written"], cols["hour"], batch=batch).tolist()
        want = [price.cost(int(cols["input"][i]) + int(cols["prompt_chars"][i]) / 4.0,
                           int(cols["output"][i]) + int(cols["response_chars"][i]) / 4.0, batch=batch,
                           cached_tokens=int(cols["cached"][i]), cache_write_tokens=int(cols["written"][i]),
                           cache_write_1h_tokens=int(cols["hour"][i])) for i in range(n)]
        assert [float.hex(x) for x in got] == [float.hex(x) for x in want]
    # by hand: 100 prompt tokens of which 40 cached and 30 written (10 of those for an hour), 10 out
    # at input 1, cached 0.5, 5-minute write 4, 1-hour write 8, output 2: 30 + 20 + 80 + 80 + 20 = 230
    one = PRICE.cost_arrays(np.array([100.0]), np.array([10.0]), np.array([40]), np.array([30]), np.array([10]))
    assert one.tolist() == [pytest.approx(230e-6)]


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
    stored_module = importlib.import_module("tuieval.report.stored")
    # every fast path at this size: the read split in two, the report written while it is encoded
    monkeypatch.setattr(db_module, "_SPLIT_READ_AT", 100)
    monkeypatch.setattr(stored_module, "_PIPELINE_FROM", 10)
    monkeypatch.setattr(stored_module, "_PIPELINE_BATCH", 7)
    with Store(fast_db) as store:
        threads = []
        real = db_module.Beside.__init__

        def spy(self, path, work, **kw):  # the write-back and the usage read really went to threads of their own
            threads.append((type(self).__name__, path))
            real(self, path, work, **kw)

        monkeypatch.setattr(db_module.Beside, "__init__", spy)
        fast = build_report(store, run_id, persist_clusters=True)
        monkeypatch.undo()
        # the cases, the later half of the read, the usage; the clusters' write-back, the report's write
        assert sorted(threads) == [("PendingRead", str(fast_db))] * 3 + [("PendingWrite", str(fast_db))] * 2
        assert list(_usage_from_read(store, run_id)) == store.token_usage(run_id)
    with monkeypatch.context() as m:
        m.setattr(db_module.Store, "_can_write_beside", lambda self: False)
        m.setattr(db_module, "_PACKED_UPDATE", False)
        m.setattr(build_module, "_shared_parts", lambda cases, samples, usage=None, **kw: {})
        with Store(plain_db) as store:
            plain = build_report(store, run_id, persist_clusters=True)
    assert json.dumps(fast, ensure_ascii=False) == json.dumps(plain, ensure_ascii=False)
    assert fast["cost"]["slices"] and fast["cost"]["model"]["n_cached"] > 0
    got, want = _tables(fast_db, run_id), _tables(plain_db, run_id)
    for name in want:
        assert got[name] == want[name], name
    assert len(got["clusters"]) > 100 and sum(c is not None for _, c in got["sample_clusters"]) > 300


@pytest.mark.parametrize("where", ["encoding", "insert"])
def test_a_failure_while_the_report_is_written_beside_stores_none_of_it(tmp_path, monkeypatch, where):
    """The pipelined write (stored._store_pipelined): an entry that fails to encode on this thread,
    or a row SQLite refuses on the writing thread, is raised here and leaves no report behind."""
    import importlib

    from tests.report.test_columnar_analysis import _varied_run

    stored_module = importlib.import_module("tuieval.report.stored")
    monkeypatch.setattr(stored_module, "_PIPELINE_FROM", 10)
    monkeypatch.setattr(stored_module, "_PIPELINE_BATCH", 7)
    db = tmp_path / "p.db"
    run_id = _varied_run(db, "lexical")
    if where == "encoding":
        real = stored_module._entry_encoder

        def failing():
            encode, seen = real(), []

            def one(entry):
                seen.append(1)
                if len(seen) == 30:
                    raise RuntimeError("cannot encode")
                return encode(entry)
            return one

        monkeypatch.setattr(stored_module, "_entry_encoder", failing)
        error, match = RuntimeError, "cannot encode"
    else:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TRIGGER no_case_40 BEFORE INSERT ON report_cases WHEN NEW.ord = 40 "
                         "BEGIN SELECT RAISE(ABORT, 'row refused'); END")
        error, match = sqlite3.IntegrityError, "row refused"
    with Store(db) as store:
        with pytest.raises(error, match=match):
            build_report(store, run_id, persist_clusters=True)
    tables = _tables(db, run_id)
    assert tables["reports"] == [] and tables["report_cases"] == [] and tables["report_arrays"] == []
    assert tables["clusters"]  # (the clusters' write-back committed before the report's write began)


@pytest.mark.parametrize("pipelined", [False, True])
def test_a_failed_write_back_is_raised_and_stores_no_report(tmp_path, monkeypatch, pipelined):
    import importlib

    from tests.report.test_columnar_analysis import _varied_run

    if pipelined:  # the report's writing thread waits for the write-back, and hands its error over
        monkeypatch.setattr(importlib.import_module("tuieval.report.stored"), "_PIPELINE_FROM", 10)

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


def test_case_ids_and_templates_from_the_groups_are_the_rows(tmp_path):
    """The two columns the read makes from its sorted groups, and the case codes made from them,
    against `analysis_samples`' rows and the plain rule (sorted ids, an index per sample): ids
    whose UTF-8 bytes and code points must sort alike (Z < a < é < 日), two templates, a filtered
    read, and a read inside the caller's own transaction."""
    import numpy as np

    from tuieval.sample_columns import SampleColumns

    samples = [_sample(c, j, template=t) for c in ("日本", "é", "a", "Z9", "Z10") for t in ("terse", "plain")
               for j in range(2 if t == "plain" else 1)]
    run_id = _make(tmp_path / "g.db", samples)
    with Store(tmp_path / "g.db") as store:
        rows = store.analysis_samples(run_id)
        cols = store.analysis_sample_columns(run_id)
        assert list(cols) == rows and len(rows) == 15
        assert cols.columns["case_id"] == [r["case_id"] for r in rows]
        assert cols.columns["template"] == [r["template"] for r in rows]
        # by hand: the case ids sorted by code point, three samples each (two plain, one terse)
        ids, codes = cols.case_codes()
        assert ids == ["Z10", "Z9", "a", "é", "日本"]
        assert codes.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]
        plain = SampleColumns(cols.names, {k: list(v) for k, v in cols.columns.items()})  # no groups: the plain rule
        plain_ids, plain_codes = plain.case_codes()
        assert plain_ids == ids and np.array_equal(plain_codes, codes)
        # one string object per group, not per sample
        assert cols.columns["case_id"][0] is cols.columns["case_id"][1]
        some = store.analysis_sample_columns(run_id, case_ids=["é", "Z9"])
        assert list(some) == [r for r in rows if r["case_id"] in ("é", "Z9")]
        store.conn.execute("BEGIN IMMEDIATE")  # the caller's transaction: read in it, left open
        assert list(store.analysis_sample_columns(run_id)) == rows and store.conn.in_transaction
        store.conn.execute("COMMIT")


def test_groups_that_do_not_count_the_rows_are_refused():
    from tuieval.sample_columns import SampleColumns

    with pytest.raises(ValueError, match="do not count the rows"):
        SampleColumns(("case_id", "template", "sample_index"), {"sample_index": [0, 1, 2]},
                      groups=[("a", "plain", 2)])


def test_a_read_split_in_two_halves_is_the_read_in_one(tmp_path, monkeypatch):
    """From _SPLIT_READ_AT samples the later half is read in a thread on a second connection; the
    columns are those of the read in one piece (the varied run: two templates, errors, a stray
    case), split at a case boundary."""
    import tuieval.store.db as db_module
    from tests.report.test_columnar_analysis import _varied_run

    db = tmp_path / "s.db"
    run_id = _varied_run(db, "lexical")
    monkeypatch.setattr(db_module, "_SPLIT_READ_AT", 100)
    calls = []
    real = db_module._read_per_sample
    monkeypatch.setattr(db_module, "_read_per_sample",
                        lambda cur, where, args: calls.append(args[-1]) or real(cur, where, args))
    with Store(db) as store:
        split = store.analysis_sample_columns(run_id)
        assert len(calls) == 2 and calls[0] == calls[1]  # both halves, around one pivot case
        pivot = calls[0]
        one = store.analysis_sample_columns(run_id, split=False)
        rows = store.analysis_samples(run_id)
    assert list(split) == list(one) == rows and split.columns["id"] == one.columns["id"]
    before = [r["case_id"] for r in rows if r["case_id"] < pivot]
    assert 0 < len(before) < len(rows) and all(r["case_id"] >= pivot for r in rows[len(before):])


def test_a_write_during_a_split_read_makes_it_read_again_in_one_piece(tmp_path, monkeypatch):
    """Another connection commits a sample while the later half is read on its own snapshot: the
    halves may disagree, so the read is made again in one piece, and holds the new sample."""
    import tuieval.store.db as db_module
    from tests.report.test_columnar_analysis import _varied_run

    db = tmp_path / "w.db"
    run_id = _varied_run(db, "lexical")
    monkeypatch.setattr(db_module, "_SPLIT_READ_AT", 100)
    real = db_module._read_per_sample
    wrote = []

    def read_and_write(cur, where, args):
        got = real(cur, where, args)
        if not wrote and "case_id >=" in where:  # the thread's half: then another writer commits
            with Store(db) as other:
                other.add_sample(_sample("c000", 9, run_id=run_id, template="plain", dispatch_order=999))
            wrote.append(True)
        return got

    monkeypatch.setattr(db_module, "_read_per_sample", read_and_write)
    with Store(db) as store:
        got = store.analysis_sample_columns(run_id)
        rows = store.analysis_samples(run_id)
    assert wrote and len(rows) == 474
    assert list(got) == rows and ("c000", "plain", 9) in {(r["case_id"], r["template"], r["sample_index"]) for r in got}
