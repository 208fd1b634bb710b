"""The Runs screen's list is counted again only when the database changed: an unchanged file is
answered without the query over every sample, a commit by any other connection (another
process's run, a report) is seen at the next read, a running run is read every time, and a file
replaced under the same name is opened anew. Real SQLite files."""

from __future__ import annotations

import os

from tuieval.store import Store
from tuieval.tui.runs_list import RunsList

RUN = {"suite": "s", "model": "demo/steady", "samples_per_case": 2, "temperature": 0.0, "n_cases": 1,
       "n_templates": 1, "n_expected": 2, "config": {}}
CASE = {"case_id": "c1", "position": 0, "vars": {}, "targets": ["x"], "metadata": {}, "input_text": "q"}


def _sample(run_id, index, correct):
    return {"run_id": run_id, "case_id": "c1", "template": "t", "sample_index": index, "dispatch_order": index,
            "prompt": [], "response": "x", "correct": correct, "score": float(correct)}


def _finished_run(path, n_correct=1):
    with Store(path) as store:
        run_id = store.create_run(dict(RUN), [CASE])
        store.add_sample(_sample(run_id, 0, n_correct >= 1))
        store.set_status(run_id, "complete")
    return run_id


def test_an_unchanged_database_is_not_counted_again_and_a_commit_elsewhere_is_seen(tmp_path):
    path = str(tmp_path / "runs.db")
    run_id = _finished_run(path)
    runs = RunsList(path)
    first = runs.read()
    assert [(r["id"], r["n_samples"], r["n_correct"]) for r in first] == [(run_id, 1, 1)]
    again = runs.read()
    assert again == first and runs.n_counted == 1  # answered from the last count
    again[0]["n_samples"] = 99                      # a caller's copy, not the list's
    assert runs.read()[0]["n_samples"] == 1
    with Store(path) as other:                      # another connection commits a sample
        other.add_sample(_sample(run_id, 1, False))
    after = runs.read()
    assert (after[0]["n_samples"], after[0]["n_correct"], runs.n_counted) == (2, 1, 2)
    runs.close()


def test_a_running_run_is_read_every_time(tmp_path):
    path = str(tmp_path / "runs.db")
    with Store(path) as store:
        run_id = store.create_run(dict(RUN), [CASE])
        # a live writer: this test's own process
        store.conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE id = ?", (os.getpid(), run_id))
    runs = RunsList(path)
    assert runs.read()[0]["status"] == "running"
    runs.read()
    assert runs.n_counted == 2
    runs.close()


def test_a_run_whose_writer_died_is_partial_and_then_kept(tmp_path):
    path = str(tmp_path / "runs.db")
    with Store(path) as store:
        run_id = store.create_run(dict(RUN), [CASE])
        store.conn.execute("UPDATE runs SET status = 'running', pid = ? WHERE id = ?", (2 ** 22 + 12345, run_id))
    runs = RunsList(path)
    assert runs.read()[0]["status"] == "partial"   # no such process: the run is not running
    runs.read()
    assert runs.n_counted == 1
    runs.close()


def test_a_file_replaced_under_the_same_name_is_opened_anew(tmp_path):
    path = str(tmp_path / "runs.db")
    _finished_run(path)
    runs = RunsList(path)
    assert len(runs.read()) == 1
    replacement = str(tmp_path / "other.db")
    _finished_run(replacement)
    _finished_run(replacement)
    for ext in ("-wal", "-shm"):
        if os.path.exists(path + ext):
            os.remove(path + ext)
    os.replace(replacement, path)
    for ext in ("-wal", "-shm"):
        if os.path.exists(replacement + ext):
            os.replace(replacement + ext, path + ext)
    assert len(runs.read()) == 2
    runs.close()
