"""A finished run's report is stored in parts (its cases one row each, the charts' arrays packed)
and read back: whole, it is the document the analysis built, byte for byte as `tuieval report
--format json` prints it; the scoreboard's read leaves the cases out; a stale or older stored
report is never served as current."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path

import pytest

from tests.report.test_one_pipeline import SUITES, _run, _tuieval
from tuieval.report import build_report
from tuieval.report.formats import RENDERERS
from tuieval.report.stored import load_report
from tuieval.store import Store
from tuieval.tui import data


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory) -> tuple[Path, str]:
    db = tmp_path_factory.mktemp("stored") / "t.db"
    run_id = _run(next(p for p in SUITES if p.stem == "qa"), db)
    return db, run_id


def _fresh(db: Path, run_id: str) -> dict:
    """The report computed again from the samples (persist_clusters never reads a stored one),
    which also stores it again."""
    with Store(db) as store:
        return build_report(store, run_id, persist_clusters=True)


def test_the_cli_prints_the_document_the_analysis_built(stored_run):
    db, run_id = stored_run
    fresh = _fresh(db, run_id)
    done = _tuieval("report", run_id, "--db", str(db), "--format", "json")
    assert done.returncode == 0, done.stderr
    assert done.stdout == RENDERERS["json"](fresh)  # same text: same keys, same order, same numbers
    assert list(json.loads(done.stdout)) == list(fresh)


def test_the_cases_are_kept_one_row_each_worst_first_keys_as_columns(stored_run):
    db, run_id = stored_run
    fresh = _fresh(db, run_id)
    with sqlite3.connect(db) as conn:
        body, apart = conn.execute("SELECT body, cases_apart FROM reports WHERE run_id = ?", (run_id,)).fetchone()
        rows = conn.execute("SELECT ord, case_id, accuracy, consistency, body FROM report_cases WHERE run_id = ? "
                            "ORDER BY ord", (run_id,)).fetchall()
        n_cases = conn.execute("SELECT COUNT(*) FROM cases WHERE run_id = ?", (run_id,)).fetchone()[0]
    head = json.loads(body)
    assert apart == 1 and head["cases"] is None
    assert {k: v for k, v in head.items() if k != "cases"} == {k: v for k, v in fresh.items() if k != "cases"}
    assert n_cases > 1 and len(fresh["cases"]) == n_cases and len(rows) == n_cases
    for (ord_, case_id, acc, cons, entry), case in zip(rows, fresh["cases"]):
        assert json.loads(entry) == case and case_id == case["id"]
        assert (acc, cons) == (case["accuracy"], case["consistency"])
    assert [r[0] for r in rows] == list(range(n_cases))


def test_the_scoreboards_read_leaves_the_cases_out_and_reads_them_on_demand(stored_run):
    db, run_id = stored_run
    fresh = _fresh(db, run_id)
    with Store(db) as store:
        run = store.get_run(run_id)
        head = load_report(store, run_id, store.report_fingerprint(run), with_cases=False)
    assert "cases" not in head and head == {k: v for k, v in fresh.items() if k != "cases"}
    view = data.load_run_data(str(db), run_id)
    assert view.cases_stored and "cases" not in view.report and view.cases is None
    assert view.report_cases() == fresh["cases"]
    # the charts' arrays, as the samples table holds them (a cached sample's latency not counted)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, latency_ms, cached, correct, error FROM samples WHERE run_id = ? "
                            "ORDER BY case_id, template, sample_index", (run_id,)).fetchall()
    assert view.latency.size == len(rows) == fresh["overall"]["n_samples"]
    ids = sorted({r[0] for r in rows})
    assert view.case_ids == ids
    # kept in latency order (ties in the rows' order, an unknown latency last), so the charts
    # never sort: the rows put in that order here with Python's stable sort
    def known(r):
        return r[1] is not None and not r[2]
    rows = sorted(rows, key=lambda r: (0, r[1]) if known(r) else (1, 0))
    assert [view.case_ids[i] for i in view.sample_case.tolist()] == [r[0] for r in rows]
    for got, (_, lat, cached, correct, error) in zip(view.latency.tolist(), rows):
        assert math.isnan(got) if (lat is None or cached) else got == lat
    assert view.correct.tolist() == [bool(r[3]) and r[4] is None for r in rows]
    assert view.error.tolist() == [r[4] is not None for r in rows]
    # the analysis rows of the cases (slice membership) are read only when first asked for
    assert [c["case_id"] for c in view.ensure_cases()] == [c["id"] for c in fresh["cases"]]


def test_a_report_stored_before_the_split_still_reads_whole(stored_run, tmp_path):
    src, run_id = stored_run
    db = tmp_path / "old.db"
    with sqlite3.connect(src) as a, sqlite3.connect(db) as b:
        a.backup(b)
    fresh = _fresh(db, run_id)
    with Store(db) as store:
        fingerprint = store.report_fingerprint(store.get_run(run_id))
        store.cache_report(run_id, fingerprint, json.dumps(fresh, ensure_ascii=False))  # one JSON text, as before
        assert store.conn.execute("SELECT COUNT(*) FROM report_cases WHERE run_id = ?", (run_id,)).fetchone()[0] == 0
        assert load_report(store, run_id, fingerprint) == fresh
        assert load_report(store, run_id, fingerprint, with_cases=False) == fresh
    view = data.load_run_data(str(db), run_id)  # no packed arrays: built from the rows
    assert not view.cases_stored and view.report_cases() == fresh["cases"]


def test_a_stored_report_is_not_read_once_its_samples_changed(stored_run, tmp_path):
    src, run_id = stored_run
    db = tmp_path / "changed.db"
    with sqlite3.connect(src) as a, sqlite3.connect(db) as b:
        a.backup(b)
    with Store(db) as store:
        before = store.report_fingerprint(store.get_run(run_id))
        n_samples = store.count_samples(run_id)
        assert load_report(store, run_id, before) is not None
        store.conn.execute("DELETE FROM samples WHERE id = (SELECT MAX(id) FROM samples WHERE run_id = ?)", (run_id,))
        after = store.report_fingerprint(store.get_run(run_id))
        assert after != before and load_report(store, run_id, after) is None
    view = data.load_run_data(str(db), run_id)  # analysed again, one sample fewer
    assert view.latency.size == n_samples - 1
