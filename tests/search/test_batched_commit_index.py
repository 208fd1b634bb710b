"""A running run's batched commits (Store.add_samples, several samples in one transaction) index
their samples for search by one statement at the end of the transaction, not by the insert
trigger once per row — and search finds them exactly as samples stored one by one."""

from __future__ import annotations

import sqlite3

import pytest

from tuieval.store import Store
from tuieval.store.db import indexed_in_one_statement


def _store(path) -> tuple[Store, str]:
    store = Store(path)
    run_id = store.create_run({"suite": "s", "model": "m/one", "samples_per_case": 1, "temperature": 0.0,
                               "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": {}}, [])
    return store, run_id


def _row(run_id: str, i: int, response: str | None = None) -> dict:
    return {"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": 0, "dispatch_order": i,
            "prompt": [{"role": "user", "content": f"Who signed lease L{i}?"}],
            "response": response if response is not None else f"Person P{i % 5}", "correct": True, "score": 1.0,
            "created_at": "2026-12-01T00:00:00+00:00"}


def _hits(store: Store, query: str) -> list[str]:
    return [r["case_id"] for r in store.search_samples(query, limit=100)]


def _check_index(store: Store) -> None:
    # FTS5 compares its index with the content table: a row indexed twice, or not at all, fails it
    store.conn.execute("INSERT INTO samples_fts (samples_fts, rank) VALUES ('integrity-check', 1)")


def test_rows_inserted_in_the_block_are_indexed_once_by_its_end(tmp_path):
    store, run_id = _store(tmp_path / "x.db")
    with store.transaction():
        with indexed_in_one_statement(store.conn):
            store.add_sample(_row(run_id, 1, "Zebra"))
            # the trigger left it to the block: not in the index yet, in the same transaction
            assert store.conn.execute("SELECT COUNT(*) FROM samples_fts WHERE samples_fts MATCH 'Zebra'"
                                      ).fetchone()[0] == 0
        assert store.conn.execute("SELECT COUNT(*) FROM samples_fts WHERE samples_fts MATCH 'Zebra'"
                                  ).fetchone()[0] == 1
    _check_index(store)
    # nothing of the deferral is left behind: the next sample alone is indexed by the trigger
    assert store.conn.execute("SELECT COUNT(*) FROM search_deferred").fetchone()[0] == 0
    store.add_sample(_row(run_id, 2, "Yak"))
    assert _hits(store, "Yak") == ["c2"]
    _check_index(store)


def test_a_batched_commit_is_found_as_samples_stored_one_by_one(tmp_path):
    plain, run_a = _store(tmp_path / "plain.db")
    batched, run_b = _store(tmp_path / "batched.db")
    for i in range(40):
        plain.add_sample(_row(run_a, i))
    for start in (0, 32, 35):   # batches of 32, 3 and 5, as the writer commits them
        stop = {0: 32, 32: 35, 35: 40}[start]
        assert batched.add_samples([_row(run_b, i) for i in range(start, stop)]) == [True] * (stop - start)
    # by hand: P3 answers are i ≡ 3 (mod 5) below 40: 3, 8, …, 38, newest first
    assert _hits(batched, "P3") == [f"c{i}" for i in range(38, 0, -5)]
    assert _hits(batched, "L17") == ["c17"]
    for query in ("P3", "L17", "lease", "Person", "user"):
        assert _hits(batched, query) == _hits(plain, query), query
    _check_index(batched)


def test_keys_already_stored_are_reported_and_kept(tmp_path):
    store, run_id = _store(tmp_path / "x.db")
    assert store.add_samples([_row(run_id, i) for i in (0, 1, 2)]) == [True, True, True]
    # c1 and c2 are stored already, c3 is new, and c3 comes twice: only its first copy is stored
    again = [_row(run_id, 1, "Changed"), _row(run_id, 3, "Fresh"), _row(run_id, 2, "Changed"),
             _row(run_id, 3, "Second")]
    assert store.add_samples(again) == [False, True, False, False]
    assert _hits(store, "Changed") == []
    assert _hits(store, "Fresh") == ["c3"] and _hits(store, "Second") == []
    assert store.count_samples(run_id) == 4
    _check_index(store)


def test_a_failed_batch_stores_nothing_and_leaves_no_deferral(tmp_path):
    store, run_id = _store(tmp_path / "x.db")
    rows = [_row(run_id, i) for i in range(5)]
    rows[3]["prompt"] = None   # NOT NULL: the whole batch fails
    with pytest.raises(sqlite3.IntegrityError):
        store.add_samples(rows)
    assert store.count_samples(run_id) == 0
    assert store.conn.execute("SELECT COUNT(*) FROM search_deferred").fetchone()[0] == 0
    store.add_sample(_row(run_id, 0, "Later"))
    assert _hits(store, "Later") == ["c0"]
    _check_index(store)


def test_the_deferral_is_refused_outside_a_transaction(tmp_path):
    # committed on its own, the deferral row would leave every later sample unindexed
    store, _ = _store(tmp_path / "x.db")
    with pytest.raises(RuntimeError, match="transaction"):
        with indexed_in_one_statement(store.conn):
            pass
    assert store.conn.execute("SELECT COUNT(*) FROM search_deferred").fetchone()[0] == 0
