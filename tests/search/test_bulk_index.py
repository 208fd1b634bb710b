"""Samples stored in bulk (tuieval.store.bulk: the index trigger skipped, the full-text rows
written by one statement) are found by search exactly as samples stored one by one."""

from __future__ import annotations

import sqlite3

import pytest

from tuieval.store import Store
from tuieval.store.bulk import INDEX_TRIGGER, add_samples_bulk


def _store(path) -> tuple[Store, str]:
    store = Store(path)
    run_id = store.create_run({"suite": "s", "model": "m/one", "samples_per_case": 1, "temperature": 0.0,
                               "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": {}}, [])
    return store, run_id


def _rows(run_id: str, n: int = 30) -> list[dict]:
    # case i asks about lease i; every third answer is "I cannot say", the rest "Person <i mod 7>"
    return [{"run_id": run_id, "case_id": f"c{i}", "template": "logged", "sample_index": 0, "dispatch_order": i,
             "prompt": [{"role": "user", "content": f"Who signed lease L{i}?"}],
             "response": "I cannot say" if i % 3 == 0 else f"Person P{i % 7}",
             "correct": True, "score": 1.0, "created_at": "2026-12-01T00:00:00+00:00"} for i in range(n)]


def _hits(store: Store, query: str) -> list[str]:
    return [r["case_id"] for r in store.search_samples(query, limit=100)]


def _trigger_present(store: Store) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                              (INDEX_TRIGGER,)).fetchone() is not None


def test_bulk_rows_are_found_as_rows_stored_one_by_one(tmp_path):
    plain, run_a = _store(tmp_path / "plain.db")
    bulk, run_b = _store(tmp_path / "bulk.db")
    for row in _rows(run_a):
        plain.add_sample(row)
    assert add_samples_bulk(bulk, _rows(run_b)) == 30
    # by hand: "cannot" answers are cases 0, 3, …, 27 (newest first); P3 answers are i ≡ 3 (mod 7):
    # 3, 10, 17, 24, less the multiples of 3 (3, 24)
    assert _hits(bulk, '"I cannot"') == [f"c{i}" for i in range(27, -1, -3)]
    assert _hits(bulk, "P3") == ["c17", "c10"]
    assert _hits(bulk, "L12") == ["c12"]
    for query in ('"I cannot"', "P3", "L12", "lease", "Person", "user"):
        assert _hits(bulk, query) == _hits(plain, query), query
    snippets = [r["snippet"] for r in bulk.search_samples("L12")]
    assert snippets == [r["snippet"] for r in plain.search_samples("L12")]
    # the index agrees with its content table, and the trigger is back for the next writes
    bulk.conn.execute("INSERT INTO samples_fts (samples_fts, rank) VALUES ('integrity-check', 1)")
    assert _trigger_present(bulk)
    bulk.add_sample({**_rows(run_b, 31)[30], "response": "a later answer Zebra"})
    assert _hits(bulk, "Zebra") == ["c30"]


def test_a_key_already_stored_is_kept_and_indexed_once(tmp_path):
    store, run_id = _store(tmp_path / "x.db")
    assert add_samples_bulk(store, _rows(run_id, 6)) == 6
    # a resume stores the same batch again with another answer: nothing new, the first kept
    again = [{**r, "response": "Changed"} for r in _rows(run_id, 8)]
    assert add_samples_bulk(store, again) == 2
    assert _hits(store, "L3") == ["c3"]
    assert _hits(store, "Changed") == ["c7", "c6"]
    store.conn.execute("INSERT INTO samples_fts (samples_fts, rank) VALUES ('integrity-check', 1)")


def test_a_failed_bulk_write_stores_nothing_and_keeps_the_trigger(tmp_path):
    store, run_id = _store(tmp_path / "x.db")
    rows = _rows(run_id, 5)
    rows[3]["prompt"] = None   # NOT NULL: the whole write fails
    with pytest.raises(sqlite3.IntegrityError):
        add_samples_bulk(store, rows)
    assert store.count_samples(run_id) == 0
    assert _trigger_present(store)
    store.add_sample(_rows(run_id, 1)[0])
    assert _hits(store, "L0") == ["c0"]


def test_sample_values_encode_a_sample_as_the_insert_takes_it():
    from tuieval.store.db import SAMPLE_COLUMNS, sample_values

    sample = {"run_id": "r", "case_id": "c", "template": "t", "sample_index": 0, "dispatch_order": 3,
              "prompt": [{"role": "user", "content": "é?"}], "response": "x", "correct": True, "score": 1.0,
              "scores": {"s": {"correct": True}}, "attempts": None}
    got = dict(zip(SAMPLE_COLUMNS, sample_values(sample)))
    assert got["prompt"] == '[{"role": "user", "content": "é?"}]'      # JSON, not ASCII-escaped
    assert got["scores"] == '{"s": {"correct": true}}'
    assert (got["correct"], got["cached"]) == (1, 0)
    assert got["attempts"] is None                                       # given (None) is kept, as setdefault keeps it
    assert got["created_at"][:2] == "20" and got["created_at"].endswith("+00:00")
    assert got["reasoning"] is None and got["response"] == "x"
    assert "created_at" not in sample and sample["prompt"] == [{"role": "user", "content": "é?"}]   # not changed
    again = dict(zip(SAMPLE_COLUMNS, sample_values({**sample, "prompt": "[]", "created_at": "t0"})))
    assert (again["prompt"], again["created_at"]) == ("[]", "t0")
    assert dict(zip(SAMPLE_COLUMNS, sample_values({"correct": 0})))["attempts"] == 1
