"""The product's point, end to end: demo/steady and demo/brittle tie on the mean of the
extraction suite and split on its slices, which slice discovery finds (and only there)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tuieval.backends.demo import DemoBackend
from tuieval.engine import Engine, RunOptions
from tuieval.report import build_report
from tuieval.store import Store
from tuieval.suite import load_suite

SUITE = Path(__file__).resolve().parents[2] / "sample_suites" / "extraction.yaml"


@pytest.fixture(scope="module")
def extraction():
    return load_suite(SUITE)


def _report(store: Store, suite, profile: str, seed: int) -> dict:
    backend = DemoBackend(f"demo/{profile}", profile, speed=0)
    options = RunOptions(model=f"demo/{profile}", seed=seed, concurrency=16)
    engine = Engine(store, backend)
    run_id = engine.create_run(suite, options)
    asyncio.run(engine.run(run_id, options))
    return build_report(store, run_id)


def _flagged(report: dict) -> set[tuple[str, str]]:
    return {(s["key"], str(s["value"])) for s in report["slices"] if s["flagged"]}


def test_brittle_and_steady_tie_on_the_mean_and_split_on_the_tails(tmp_path, extraction):
    store = Store(tmp_path / "d.db")
    steady = _report(store, extraction, "steady", 1)
    brittle = _report(store, extraction, "brittle", 1)
    assert steady["run"]["model"] == "demo/steady"
    # same mean: both about 90%, intervals overlapping
    assert abs(steady["overall"]["accuracy"] - brittle["overall"]["accuracy"]) < 0.04
    assert 0.84 <= brittle["overall"]["accuracy"] <= 0.94
    lo_s, hi_s = steady["overall"]["accuracy_ci"]
    lo_b, hi_b = brittle["overall"]["accuracy_ci"]
    assert lo_s < hi_b and lo_b < hi_s
    # different tails: the long-input and non-English-name slices are flagged for brittle only
    flagged = _flagged(brittle)
    assert ("length", "long") in flagged
    assert ("name_origin", "non_english") in flagged
    for s in brittle["slices"]:
        if s["flagged"]:
            assert s["q_value"] < 0.05
    by_slice = {(s["key"], str(s["value"])): s for s in brittle["slices"]}
    assert by_slice[("length", "long")]["accuracy"] < 0.8 < by_slice[("length", "short")]["accuracy"]


def test_steady_flags_nothing_in_at_least_19_of_20_seeds(tmp_path, extraction):
    store = Store(tmp_path / "s.db")
    clean = 0
    for seed in range(20):
        report = _report(store, extraction, "steady", 100 + seed)
        # discovered slices are the ones with a q-value below the level
        if not _flagged(report):
            clean += 1
    assert clean >= 19
