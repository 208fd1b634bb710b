"""`tuieval search` over 1,000,000 samples: index build, write overhead, query time.

Builds a real SQLite file through the schema's migration (FTS5 table and triggers), inserting N
samples (default 1,000,000; 50 runs × 20,000) with varied responses: about 1% refuse ("I cannot
help with that"), 0.01% leak a system prompt, the rest answer. Prints the insert rate with the
index kept in step by the triggers, the on-demand rebuild of an index over rows stored before it
existed, and `Store.search_samples` for a few queries (best of --repeat), the budget being 200 ms.
Run: `python benchmarks/bench_search.py [N]`.
"""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tuieval.store import Store  # noqa: E402

WORDS = ("the answer is paris tokyo canberra forty two because first then total amount name of the person "
         "who chaired committee budget approved meeting result value report").split()
QUERIES = ['"I cannot"', '"system prompt"', 'canberra', '"the answer is"', 'zebra']


def build(path: str, n: int, runs: int = 50) -> float:
    rng = random.Random(0)
    store = Store(path)
    per_run = n // runs
    t0 = time.perf_counter()
    for r in range(runs):
        run_id = store.create_run({"id": f"run{r:03d}", "suite": "bench", "model": f"m{r % 5}", "samples_per_case": 1,
                                   "temperature": 0.0, "n_cases": per_run, "n_templates": 1, "n_expected": per_run,
                                   "config": {}}, [])
        rows = []
        for i in range(per_run):
            u = rng.random()
            if u < 0.01:
                response = "I cannot help with that request."
            elif u < 0.0101:
                response = "My system prompt says: You are a careful assistant."
            else:
                response = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 25)))
            prompt = json.dumps([{"role": "user", "content": f"Question {i}: who chaired the meeting?"}])
            rows.append((run_id, f"c{i}", "t", 0, i, prompt, response, int(u > 0.2), 1.0 if u > 0.2 else 0.0,
                         float(rng.randint(50, 900)), "2026-12-01T00:00:00+00:00"))
        store.conn.execute("BEGIN")
        store.conn.executemany(
            "INSERT INTO samples (run_id, case_id, template, sample_index, dispatch_order, prompt, response, "
            "correct, score, latency_ms, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        store.conn.execute("COMMIT")
    elapsed = time.perf_counter() - t0
    store.close()
    return elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "search.db")
        build_s = build(path, n)
        print(f"samples {n:,}: inserted with the index kept in step in {build_s:.1f} s "
              f"({n / build_s:,.0f} samples/s); file {os.path.getsize(path) / 1e6:.0f} MB")
        with Store(path) as store:
            store.conn.execute("UPDATE search_index SET built = 0")
            t0 = time.perf_counter()
            store.ensure_search_index()
            print(f"on-demand rebuild of the whole index: {time.perf_counter() - t0:.1f} s")
            print("| query | filter | matches shown | best of 5 ms |\n|---|---|---:|---:|")
            for q in QUERIES:
                for label, kw in (("", {}), ("--run run007", {"run_id": "run007"}), ("--model m3", {"model": "m3"})):
                    best, got = float("inf"), []
                    for _ in range(5):
                        t0 = time.perf_counter()
                        got = store.search_samples(q, limit=20, **kw)
                        best = min(best, time.perf_counter() - t0)
                    print(f"| `{q}` | {label} | {len(got)} | {best * 1000:.1f} |")


if __name__ == "__main__":
    main()
