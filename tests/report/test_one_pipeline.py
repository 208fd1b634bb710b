"""The app and `tuieval report` give the same figures for the same run, for every sample suite.

Both go through tuieval.report.build; these tests hold them to it from the outside: the CLI
as a subprocess, the app's loader (tuieval.tui.data) in-process, over a real SQLite file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuieval.store import Store
from tuieval.tui import data

ROOT = Path(__file__).resolve().parents[2]
SUITES = sorted((ROOT / "sample_suites").glob("*.yaml"))
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)


def _run(suite: Path, db: Path, model: str = "demo/flaky") -> str:
    done = _tuieval("run", str(suite), "--model", model, "--db", str(db), "--quiet", "--limit", "30")
    assert done.returncode in (0, 1), done.stderr  # 1: a gate failed, the run is stored all the same
    return done.stdout.strip().splitlines()[-1]


def _cli_report(db: Path, run_id: str) -> dict:
    done = _tuieval("report", run_id, "--db", str(db), "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _figures(report: dict) -> dict:
    """The figures a person reads: overall and per slice n, accuracy and its interval, p99, gates."""
    def metrics(m: dict) -> tuple:
        return (m["n_cases"], m["n_samples"], m["accuracy"], tuple(m["accuracy_ci"] or ()), m["consistency"],
                m["latency_ms"].get("p99"), m.get("flagged"))

    return {"overall": metrics(report["overall"]),
            "slices": {f"{s['key']}={s['value']}": metrics(s) for s in report["slices"]},
            "gates": [(g["gate"], g["value"], g["passed"]) for g in report.get("gates") or []]}


def test_every_sample_suite_is_covered():
    assert len(SUITES) >= 3, SUITES


@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.stem)
def test_app_and_cli_report_the_same_figures(tmp_path, suite):
    db = tmp_path / "t.db"
    run_id = _run(suite, db)
    # the app first (it stores clusters as a run it just finished does), then the CLI
    app_view = data.load_run_data(str(db), run_id, persist_clusters=True)
    cli = _cli_report(db, run_id)
    assert _figures(app_view.report) == _figures(cli)
    # read again, from the stored report: the app leaves the case list in the store until a
    # view asks for it, and then it is the CLI's
    again = data.load_run_data(str(db), run_id)
    assert "cases" not in again.report
    assert json.loads(json.dumps({**again.report, "cases": again.report_cases()})) == cli
    # the charts are drawn from the same samples the report counted
    assert app_view.latency.size == cli["overall"]["n_samples"]
    assert int(app_view.error.sum()) == cli["overall"]["n_errors"]


def test_a_run_still_being_written_reads_the_same_in_both(tmp_path):
    """A running run is never served from the cache: both analyse its rows as they are."""
    db = tmp_path / "t.db"
    run_id = _run(SUITES[0], db)
    with Store(db) as store:
        store.set_status(run_id, "running", finished=False)  # this test process is its live writer
    app_view = data.load_run_data(str(db), run_id)
    cli = _cli_report(db, run_id)
    assert cli["run"]["stored_status"] == "running"
    assert _figures(app_view.report) == _figures(cli)


def test_inspector_uses_the_reports_clusters(tmp_path):
    """A case's clusters in the inspector are the ones its report row counts."""
    suite = next(p for p in SUITES if p.stem == "qa")
    db = tmp_path / "t.db"
    run_id = _run(suite, db)
    cli = _cli_report(db, run_id)
    for case in cli["cases"][:5]:
        detail = data.load_case(str(db), run_id, case["id"])
        assert sum(len(g.clusters) for g in detail.groups) == case["n_clusters"]
        assert detail.method == cli["analysis"]["clustering"]["method"]
