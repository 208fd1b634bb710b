"""`tuieval datasette-metadata`: every table and column described, and the canned queries answer what
they say on a real database (checked against figures worked out from the rows)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from tuieval.store import Store

RUN = {"suite": "s", "samples_per_case": 3, "temperature": 0.7, "n_templates": 1, "config": {}}


def _metadata(db) -> dict:
    done = subprocess.run([sys.executable, "-m", "tuieval", "datasette-metadata", "--db", str(db)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def db(tmp_path):
    """Two runs, laid out by hand: the latest has 5 lang=de cases (two flaky, three wrong) and 5 lang=en (right)."""
    path = tmp_path / "team.db"
    store = Store(path)
    old = store.create_run({**RUN, "id": "20260101-000000-aaaa", "model": "m/old", "started_at": "2026-01-01T00:00:00",
                            "n_cases": 1, "n_expected": 3},
                           [{"case_id": "x", "position": 0, "vars": {}, "targets": ["a"], "metadata": {"lang": "en"},
                             "input_text": "q"}])
    for k in range(3):
        store.add_sample({"run_id": old, "case_id": "x", "template": "t", "sample_index": k, "dispatch_order": k,
                          "prompt": [], "response": "a", "correct": True, "score": 1.0, "latency_ms": 9000.0})
    cases = [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["a"],
              "metadata": {"lang": "de" if i < 5 else "en"}, "input_text": "q"} for i in range(10)]
    new = store.create_run({**RUN, "id": "20260102-000000-bbbb", "model": "m/new", "started_at": "2026-01-02T00:00:00",
                            "n_cases": 10, "n_expected": 30}, cases)
    # correct per sample: de cases c0..c4; c0 and c1 flaky (1 of 3 and 2 of 3), the rest of de wrong; en all right
    pattern = {"c0": [1, 0, 0], "c1": [1, 1, 0], "c2": [0, 0, 0], "c3": [0, 0, 0], "c4": [0, 0, 0]}
    n = 0
    for case in cases:
        for k, ok in enumerate(pattern.get(case["case_id"], [1, 1, 1])):
            store.add_sample({"run_id": new, "case_id": case["case_id"], "template": "t", "sample_index": k,
                              "dispatch_order": n, "prompt": [], "response": f"ans{k}" if not ok else "a",
                              "correct": bool(ok), "score": float(ok), "latency_ms": 100.0 + n})
            n += 1
    store.close()
    return path


def test_every_table_and_column_is_described(db):
    meta = _metadata(db)
    assert list(meta["databases"]) == ["team"]  # Datasette names the database after the file
    tables = meta["databases"]["team"]["tables"]
    with sqlite3.connect(db) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                            "AND name NOT LIKE 'samples_fts%' AND name NOT LIKE 'sqlite_%'")]
        for name in names:
            assert tables[name]["description"], name
            columns = [r[1] for r in conn.execute(f"PRAGMA table_info({name})")]
            assert sorted(tables[name]["columns"]) == sorted(columns), name
    assert tables["samples"]["fts_table"] == "samples_fts"


def _query(db, meta, name, run_id=""):
    sql = meta["databases"]["team"]["queries"][name]["sql"]
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, {"run_id": run_id})]


def test_canned_queries_answer_for_the_latest_run_by_default(db):
    meta = _metadata(db)
    worst = _query(db, meta, "worst_slices")
    # by hand: de = 3 correct of 15 samples (c0: 1, c1: 2); en = 15 of 15
    assert [(r["run_id"], r["slice_key"], r["slice_value"], r["n_cases"], r["accuracy"]) for r in worst] == [
        ("20260102-000000-bbbb", "lang", "de", 5, 0.2), ("20260102-000000-bbbb", "lang", "en", 5, 1.0)]
    flaky = _query(db, meta, "flaky_cases")
    assert [(r["case_id"], r["n_correct"], r["n_distinct_answers"]) for r in flaky] == [("c0", 1, 3), ("c1", 2, 2)]
    slowest = _query(db, meta, "slowest_samples")
    assert slowest[0]["latency_ms"] == 129.0 and len(slowest) == 30  # the last of 30 samples, 100 + 29
    # a run named explicitly
    assert [r["latency_ms"] for r in _query(db, meta, "slowest_samples", "20260101-000000-aaaa")] == [9000.0] * 3


def test_datasette_serves_the_metadata(db, tmp_path):
    datasette = pytest.importorskip("datasette.app", reason="datasette is not installed")
    import asyncio

    meta = _metadata(db)
    app = datasette.Datasette([str(db)], metadata=meta)

    async def get(path):
        response = await app.client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        return response.json()

    async def go():
        flaky = await get("/team/flaky_cases.json?run_id=&_shape=array")
        table = await get("/team/samples.json?_search=ans0&_shape=array")
        return flaky, table

    flaky, found = asyncio.run(go())
    assert [r["case_id"] for r in flaky] == ["c0", "c1"]
    assert {r["case_id"] for r in found} == {"c2", "c3", "c4"}  # wrong at sample 0: answered "ans0"
