"""The SQLite store: migrations keep old files usable, WAL, no silent loss, run id lookup."""

from __future__ import annotations

import sqlite3

import pytest

from tuieval.store import RunNotFound, Store
from tuieval.store.schema import MIGRATIONS, SCHEMA_VERSION

RUN = {"suite": "s", "model": "demo/steady", "samples_per_case": 1, "temperature": 0.0, "n_cases": 1,
       "n_templates": 1, "n_expected": 1, "config": {}}
CASE = {"case_id": "c1", "position": 0, "vars": {}, "targets": ["x"], "metadata": {}, "input_text": "q"}


def _sample(run_id, **kw):
    row = {"run_id": run_id, "case_id": "c1", "template": "t", "sample_index": 0, "dispatch_order": 0,
           "prompt": [], "response": "x", "correct": True, "score": 1.0}
    row.update(kw)
    return row


def test_a_version_1_file_is_migrated_without_losing_data(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute("INSERT INTO runs (id, suite, model, status, samples_per_case, temperature, started_at, n_cases, "
                 "n_templates, n_expected, config) VALUES ('r1', 's', 'm', 'complete', 1, 0, '2026-01-01', 1, 1, 1, '{}')")
    conn.execute("INSERT INTO samples (run_id, case_id, template, sample_index, dispatch_order, prompt, correct, score, "
                 "created_at) VALUES ('r1', 'c1', 't', 0, 0, '[]', 1, 1.0, '2026-01-01')")
    conn.commit()
    conn.close()
    store = Store(path)
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.get_samples("r1")[0]["cluster"] is None  # column added by migration 2
    assert store.list_runs()[0]["id"] == "r1"
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_migration_that_fails_half_way_leaves_the_file_at_its_version(tmp_path, monkeypatch):
    from tuieval.store import schema

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.close()
    # the last step fails after the earlier ones ran in the same script
    broken = [*MIGRATIONS[:-1], MIGRATIONS[-1] + "; CREATE TABLE runs (x);"]
    monkeypatch.setattr(schema, "MIGRATIONS", broken)
    conn = sqlite3.connect(path, isolation_level=None)
    with pytest.raises(sqlite3.OperationalError):
        schema.migrate(conn)
    conn.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    columns = {r[1] for r in conn.execute("PRAGMA table_info(samples)")}
    assert "cluster" not in columns  # migration 2's column was rolled back with the rest
    conn.close()
    monkeypatch.undo()
    store = Store(path)  # and the real migrations then bring it up to date
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_a_duplicate_sample_is_skipped_but_a_broken_one_raises(tmp_path):
    store = Store(tmp_path / "x.db")
    run_id = store.create_run(dict(RUN), [CASE])
    assert store.add_sample(_sample(run_id)) is True
    assert store.add_sample(_sample(run_id, response="other")) is False
    assert store.count_samples(run_id) == 1
    with pytest.raises(sqlite3.IntegrityError):
        store.add_sample(_sample(run_id, sample_index=1, score=None))  # NOT NULL: never silently dropped


def test_run_ids_resolve_by_latest_and_unique_prefix(tmp_path):
    store = Store(tmp_path / "x.db")
    with pytest.raises(RunNotFound):
        store.resolve_run_id("latest")
    first = store.create_run(dict(RUN, id="20260101-000000-aaaa", started_at="2026-01-01T00:00:00"), [CASE])
    second = store.create_run(dict(RUN, id="20260102-000000-bbbb", started_at="2026-01-02T00:00:00"), [CASE])
    assert store.resolve_run_id("latest") == second
    assert store.resolve_run_id("20260101") == first
    with pytest.raises(RunNotFound):
        store.resolve_run_id("2026")  # ambiguous


def test_a_run_whose_writer_died_reads_as_partial(tmp_path):
    store = Store(tmp_path / "x.db")
    run_id = store.create_run(dict(RUN, pid=2**22 + 12345), [CASE])  # no such process
    assert store.get_run(run_id)["status"] == "partial"
