"""`tuieval compare` end to end: demo/steady vs demo/brittle on the extraction suite tie on the
mean and split on the tails; the paired comparison flags the tails as regressions, not the mean."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tuieval.backends.demo import DemoBackend
from tuieval.engine import Engine, RunOptions
from tuieval.report import build_comparison
from tuieval.report.formats import comparison_to_markdown
from tuieval.store import Store
from tuieval.suite import load_suite

ROOT = Path(__file__).resolve().parents[2]
EXTRACTION = ROOT / "sample_suites" / "extraction.yaml"
QA = ROOT / "sample_suites" / "qa.yaml"
TUIEVAL = [sys.executable, "-m", "tuieval"]


def _run(store: Store, suite, profile: str, seed: int, **kw) -> str:
    backend = DemoBackend(f"demo/{profile}", profile, speed=0)
    options = RunOptions(model=f"demo/{profile}", seed=seed, concurrency=16, **kw)
    engine = Engine(store, backend)
    run_id = engine.create_run(suite, options)
    asyncio.run(engine.run(run_id, options))
    return run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    db = tmp_path_factory.mktemp("compare") / "runs.db"
    store = Store(db)
    extraction = load_suite(EXTRACTION)
    ids = {
        "steady": _run(store, extraction, "steady", 1),
        "brittle": _run(store, extraction, "brittle", 1),
        "steady_again": _run(store, extraction, "steady", 1),
        "qa": _run(store, load_suite(QA), "steady", 1, limit=10),
    }
    store.close()
    return db, ids


def _env():
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}


def test_brittle_regresses_on_its_tails_not_on_the_mean(runs):
    db, ids = runs
    with Store(db) as store:
        cmp = build_comparison(store, ids["steady"], ids["brittle"])
    assert cmp["schema"] == "tuieval.compare/1"
    assert cmp["baseline"]["model"] == "demo/steady" and cmp["baseline"]["simulated"] is True
    assert cmp["candidate"]["model"] == "demo/brittle"
    assert cmp["test"] == "sign_flip"  # 3 samples per case
    assert cmp["n_cases"] == 200 and cmp["unpaired_cases"] == 0
    o = cmp["overall"]
    assert abs(o["delta"]) < 0.04
    assert o["p_value"] > 0.05 and o["delta_ci"][0] < 0 < o["delta_ci"][1]
    assert o["significant"] is False
    regressed = {(r["key"], str(r["value"])) for r in cmp["regressions"]}
    assert {("length", "long"), ("name_origin", "non_english")} <= regressed
    deltas = [r["delta"] for r in cmp["regressions"]]
    assert deltas == sorted(deltas) and all(d < -0.1 for d in deltas)
    for r in cmp["regressions"]:
        assert r["q_value"] < 0.05 and r["delta_ci"][1] < 0
    by = {(s["key"], str(s["value"])): s for s in cmp["slices"]}
    for key in [("length", "short"), ("length", "medium"), ("name_origin", "english")]:
        assert not by[key]["significant"] or by[key]["delta"] > 0
    md = comparison_to_markdown(cmp)
    assert "demo/steady (simulated)" in md and "demo/brittle (simulated)" in md
    assert md.index("## Regressions") < md.index("## All slices")


def test_a_run_against_its_replay_shows_no_difference(runs):
    db, ids = runs
    with Store(db) as store:
        cmp = build_comparison(store, ids["steady"], ids["steady_again"])
    assert cmp["overall"]["delta"] == 0.0 and cmp["overall"]["p_value"] == 1.0
    assert cmp["regressions"] == [] and cmp["improvements"] == []


def test_cli_compare_json_exits_1_on_regressions(runs):
    db, ids = runs
    proc = subprocess.run(TUIEVAL + ["compare", ids["steady"], ids["brittle"], "--db", str(db), "--format", "json"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 1, proc.stderr
    out = json.loads(proc.stdout)
    assert out["schema"] == "tuieval.compare/1"
    assert {("length", "long"), ("name_origin", "non_english")} <= {(r["key"], r["value"]) for r in out["regressions"]}
    with Store(db) as store:
        assert out == json.loads(json.dumps(build_comparison(store, ids["steady"], ids["brittle"])))  # deterministic


def test_cli_compare_markdown_and_clean_exit_without_regressions(runs):
    db, ids = runs
    proc = subprocess.run(TUIEVAL + ["compare", ids["steady"], ids["steady_again"], "--db", str(db)],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# Comparison · extraction")
    assert "No slice regressed significantly" in proc.stdout


def test_cli_compare_runs_of_different_suites_is_bad_input(runs):
    db, ids = runs
    proc = subprocess.run(TUIEVAL + ["compare", ids["steady"], ids["qa"], "--db", str(db)],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "different suites" in lines[0] and "Traceback" not in proc.stderr
