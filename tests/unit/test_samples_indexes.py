"""The samples table's indexes: no second index on (run_id, case_id) beside the UNIQUE key.

`samples_run (run_id, case_id)` was the UNIQUE (run_id, case_id, template, sample_index) index's
first two columns; every insert paid for both. These tests hold that it is gone (new files and
upgraded ones) and that the store's queries by run and case still search an index instead of
scanning the table.
"""

from __future__ import annotations

import sqlite3

from tuieval.store import Store
from tuieval.store.schema import MIGRATIONS, SCHEMA_VERSION


def _sample_indexes(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'samples'")}


def _stored_run(store: Store, n_cases: int = 12) -> str:
    run_id = store.create_run(
        {"suite": "s", "model": "m", "samples_per_case": 2, "temperature": 0.0, "n_cases": n_cases,
         "n_templates": 1, "n_expected": 2 * n_cases, "config": {}},
        ({"case_id": f"c{i:02d}", "position": i, "vars": {}, "targets": ["x"], "metadata": {"k": i % 3},
          "input_text": "q"} for i in range(n_cases)))
    store.add_samples([
        {"run_id": run_id, "case_id": f"c{i:02d}", "template": "t", "sample_index": k, "dispatch_order": 2 * i + k,
         "prompt": [{"role": "user", "content": "q"}], "response": "x", "correct": True, "score": 1.0,
         "scores": {}, "input_tokens": 3, "output_tokens": 1}
        for i in range(n_cases) for k in range(2)])
    return run_id


def test_a_new_store_has_no_samples_run_index(tmp_path):
    store = Store(tmp_path / "t.db")
    indexes = _sample_indexes(store.conn)
    assert "samples_run" not in indexes
    # the key it duplicated is still there, and still unique
    assert any(name.startswith("sqlite_autoindex_samples") for name in indexes)
    run_id = _stored_run(store)
    assert store.add_samples([{"run_id": run_id, "case_id": "c00", "template": "t", "sample_index": 0,
                               "dispatch_order": 99, "prompt": [], "response": "y", "correct": False,
                               "score": 0.0}]) == [False]
    store.close()


def test_an_older_file_loses_the_index_when_opened(tmp_path):
    # the file as it was just before the step that drops the index (found by what it does, not
    # by its number: migrations are renumbered when branches merge)
    step = next(i for i, sql in enumerate(MIGRATIONS) if "DROP INDEX IF EXISTS samples_run;" in sql)
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript("".join(MIGRATIONS[v] + f"; PRAGMA user_version = {v + 1};" for v in range(step)))
    assert "samples_run" in _sample_indexes(conn)
    conn.close()
    store = Store(path)
    assert "samples_run" not in _sample_indexes(store.conn)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_queries_by_run_and_case_search_an_index(tmp_path):
    store = Store(tmp_path / "t.db")
    run_id = _stored_run(store)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    try:
        # the store's readers whose plans used samples_run before it was dropped
        assert len(store.get_samples(run_id)) == 24
        assert [r["sample_index"] for r in store.get_samples(run_id, case_id="c03")] == [0, 1]
        assert len(store.token_usage(run_id)) == 12
        store.conn.execute("SELECT * FROM case_scores WHERE run_id = ?", (run_id,)).fetchall()
    finally:
        store.conn.set_trace_callback(None)
    plans = {}
    for sql in statements:
        if ("samples" in sql or "case_scores" in sql) and sql.lstrip().upper().startswith(("SELECT", "WITH")):
            plans[sql] = [row[3] for row in store.conn.execute("EXPLAIN QUERY PLAN " + sql)]
    assert len(plans) >= 4
    for sql, plan in plans.items():
        on_samples = [step for step in plan if step.split()[1:2] in (["samples"], ["s"])]
        assert on_samples, (sql, plan)
        assert all(step.startswith("SEARCH") and "INDEX" in step for step in on_samples), (sql, plan)
    store.close()
