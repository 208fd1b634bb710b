"""The stored paired comparison (tuieval.report.compare_cache): computed once for two finished runs,
read back while neither run changes, recomputed when one does, never kept for a run still going."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

import tuieval.report.compare_cache as compare_cache
from tuieval.backends.demo import DemoBackend
from tuieval.engine import Engine, RunOptions
from tuieval.report import build_comparison
from tuieval.report.compare_cache import stored_comparison
from tuieval.store import Store
from tuieval.suite import load_suite

EXTRACTION = Path(__file__).resolve().parents[2] / "sample_suites" / "extraction.yaml"


def _run(store: Store, profile: str) -> str:
    options = RunOptions(model=f"demo/{profile}", seed=3, concurrency=8, limit=40, samples=2)
    engine = Engine(store, DemoBackend(f"demo/{profile}", profile, speed=0))
    run_id = engine.create_run(load_suite(EXTRACTION), options)
    asyncio.run(engine.run(run_id, options))
    return run_id


@pytest.fixture
def two_runs(tmp_path):
    store = Store(tmp_path / "runs.db")
    ids = _run(store, "steady"), _run(store, "brittle")
    yield store, ids
    store.close()


def _rows(store: Store) -> list[tuple]:
    return store.conn.execute("SELECT baseline, candidate, body FROM comparisons").fetchall()


def test_computed_once_then_read_back(two_runs, monkeypatch):
    store, (a, b) = two_runs
    assert _rows(store) == []
    first = stored_comparison(store, a, b)
    # what is kept is exactly the comparison `tuieval compare` computes
    assert first == json.loads(json.dumps(build_comparison(store, a, b)))
    rows = _rows(store)
    assert [(r[0], r[1]) for r in rows] == [(a, b)]
    assert json.loads(rows[0][2]) == first

    def refuse(*_a, **_k):
        raise AssertionError("recomputed although nothing changed")

    monkeypatch.setattr(compare_cache, "build_comparison", refuse)
    assert stored_comparison(store, a, b) == first
    # the other direction is another comparison (deltas negated): not answered from this one
    with pytest.raises(AssertionError, match="recomputed"):
        stored_comparison(store, b, a)
    # other test settings are another comparison too
    with pytest.raises(AssertionError, match="recomputed"):
        stored_comparison(store, a, b, B=2_000)


def _candidate_accuracy(store: Store, run_id: str) -> float:
    """Mean over cases of each case's share of correct, non-error samples, straight from SQL."""
    rows = store.conn.execute("SELECT case_id, AVG(correct = 1 AND error IS NULL) FROM samples WHERE run_id = ? "
                              "GROUP BY case_id", (run_id,)).fetchall()
    return sum(r[1] for r in rows) / len(rows)


def test_a_new_sample_makes_it_stale(two_runs):
    store, (a, b) = two_runs
    before = stored_comparison(store, a, b)
    assert before["overall"]["candidate_accuracy"] == pytest.approx(_candidate_accuracy(store, b))
    # one more, wrong, sample of a case the candidate got right at least once: that case's
    # score falls (k/2 -> k/3), so the kept comparison no longer holds and must not be served
    case_id = store.conn.execute("SELECT case_id FROM samples WHERE run_id = ? AND correct = 1 ORDER BY case_id "
                                 "LIMIT 1", (b,)).fetchone()[0]
    assert store.add_sample({"run_id": b, "case_id": case_id, "template": "direct", "sample_index": 99,
                             "dispatch_order": 10_000, "prompt": "[]", "response": "nonsense", "extracted": None,
                             "correct": 0, "score": 0.0, "latency_ms": 10.0, "attempts": 1,
                             "created_at": "2026-01-01T00:00:00+00:00"})
    expected = _candidate_accuracy(store, b)
    assert expected < before["overall"]["candidate_accuracy"]
    after = stored_comparison(store, a, b)
    assert after["overall"]["candidate_accuracy"] == pytest.approx(expected)
    assert json.loads(_rows(store)[0][2]) == after


def test_a_run_still_going_is_never_kept(two_runs):
    store, (a, b) = two_runs
    store.set_status(b, "running", finished=False)
    stored_comparison(store, a, b)
    assert _rows(store) == []
