"""Benchmark: `tuieval trend` over a history of nightly runs, against the parts it is made of.

    .venv/bin/python benchmarks/bench_trend.py [--runs 30] [--cases 1000] [--samples 1]

Builds a SQLite history of --runs finished runs of one suite and model (random verdicts around
85%, 4 metadata slices, latencies), then times, side by side in one process:
  * trend   — `build_trend` (each run's report, from the store's cache after the first pass,
              and the paired comparison of each consecutive pair);
  * parts   — the same reports read with `build`, plus `build_comparison` of each consecutive pair.
The ratio trend / parts says what the trend adds on top of the reports and comparisons it needs
(its own BH and marks); the cold pass (reports not yet cached) is shown too.
Timing lives here, not in the tests.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuieval.report import build, build_comparison  # noqa: E402
from tuieval.report.trend import build_trend  # noqa: E402
from tuieval.store import Store  # noqa: E402


def history(path: Path, n_runs: int, n_cases: int, samples: int) -> list[str]:
    rng = np.random.default_rng(7)
    store = Store(path)
    cases = [{"case_id": f"c{i:05d}", "position": i, "vars": {}, "targets": ["x"],
              "metadata": {"lang": ["en", "de", "fr", "ja"][i % 4]}, "input_text": f"question {i}"}
             for i in range(n_cases)]
    ids = []
    for r in range(n_runs):
        rid = f"2026{r // 28 + 1:02d}{r % 28 + 1:02d}-000000-{r:04x}"
        store.create_run({"id": rid, "suite": "bench", "model": "demo/x", "simulated": 1,
                          "samples_per_case": samples, "temperature": 0.0, "n_cases": n_cases, "n_templates": 1,
                          "n_expected": n_cases * samples, "config": {}, "status": "complete", "pid": None,
                          "started_at": f"2026-01-01T00:00:{r:02d}+00:00"}, cases)
        ok = rng.random((n_cases, samples)) < 0.85
        lat = rng.lognormal(6, 0.5, (n_cases, samples))
        with store._transaction():
            for i in range(n_cases):
                for j in range(samples):
                    store.add_sample({"run_id": rid, "case_id": f"c{i:05d}", "template": "t", "sample_index": j,
                                      "dispatch_order": i, "prompt": [], "response": "x" if ok[i, j] else "y",
                                      "correct": bool(ok[i, j]), "score": float(ok[i, j]),
                                      "latency_ms": float(lat[i, j])})
        store.conn.execute("UPDATE runs SET finished_at = started_at WHERE id = ?", (rid,))
        ids.append(rid)
    store.close()
    return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "history.db"
        ids = history(db, args.runs, args.cases, args.samples)
        with Store(db) as store:
            t0 = time.perf_counter()
            build_trend(store, "bench")
            cold = time.perf_counter() - t0
            t0 = time.perf_counter()
            trend = build_trend(store, "bench")
            warm = time.perf_counter() - t0
            t0 = time.perf_counter()
            for rid in ids:
                build(store, rid, with_rows=True)
            for a, b in zip(ids, ids[1:]):
                build_comparison(store, a, b)
            parts = time.perf_counter() - t0
    n_marked = sum(s["accuracy"]["significant"] for s in trend["series"][0]["steps"])
    print(f"{args.runs} runs × {args.cases} cases × {args.samples} sample(s)")
    print(f"trend, reports not cached yet: {cold:.2f} s")
    print(f"trend, reports cached:        {warm:.2f} s")
    print(f"its parts (reports + {len(ids) - 1} comparisons): {parts:.2f} s")
    print(f"trend / parts: {warm / parts:.2f}   steps marked significant: {n_marked} of {len(ids) - 1}")


if __name__ == "__main__":
    main()
