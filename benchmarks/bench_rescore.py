"""Re-scoring a stored run with several extractors (`tuieval rescore`): how long, against reading the rows.

Builds a real SQLite run of N samples (default 100,000: 20,000 cases × 5 samples, chatty
numeric answers), then times, side by side in one process: reading the rows `rescore` reads
(the floor), and the whole `rescore` with five built-in extractors plus the stored scorer.
Prints seconds and the ratio to the floor. Run: `python benchmarks/bench_rescore.py [N]`.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from tuieval.report.rescore import rescore  # noqa: E402
from tuieval.store import Store  # noqa: E402

EXTRACTORS = ["strict", "last_number", "first_number", "number", "boxed"]


def build(path: str, n_samples: int) -> str:
    rng = random.Random(0)
    per_case = 5
    n_cases = n_samples // per_case
    store = Store(path)
    run_id = store.create_run(
        {"suite": "bench", "model": "demo/verbose", "samples_per_case": per_case, "temperature": 0.7,
         "n_cases": n_cases, "n_templates": 1, "n_expected": n_samples, "config": {"scorers": ["numeric"]}},
        [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": [i * 3], "metadata": {"kind": "k" + str(i % 4)},
          "input_text": f"question {i}"} for i in range(n_cases)])
    store.conn.execute("BEGIN")
    for i in range(n_cases):
        for k in range(per_case):
            value = i * 3 + (0 if rng.random() < 0.9 else 1)
            response = rng.choice([f"Working: {i} × 3. The total comes to ${value:,.2f}.", f"Answer: {value}",
                                   f"So it is {value:,}.", f"\\boxed{{{value}}}"])
            store.add_sample({"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": k,
                              "dispatch_order": i * per_case + k, "prompt": "[]", "response": response,
                              "correct": value == i * 3, "score": float(value == i * 3), "latency_ms": 10.0,
                              "scores": {"numeric": {"extracted": str(value), "correct": value == i * 3,
                                                     "score": float(value == i * 3)}}})
    store.conn.execute("COMMIT")
    store.close()
    return run_id


def best_of(fn, repeat: int = 3) -> tuple[float, float]:
    """(best wall-clock seconds, best CPU seconds of this process): on a shared machine the CPU
    time is the steadier figure."""
    wall = cpu = float("inf")
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall = min(wall, time.perf_counter() - t0)
        cpu = min(cpu, time.process_time() - c0)
    return wall, cpu


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        run_id = build(path, n)
        with Store(path) as store:
            # the floor is the read of the first version (samples with their stored scores, targets,
            # cases), kept as it was so the ratios of every version compare
            floor = best_of(lambda: (store.get_samples(run_id, columns=("case_id", "template", "sample_index",
                                                                        "response", "error", "scores")),
                                     store.case_targets(run_id), store.analysis_cases(run_id)))
            whole = best_of(lambda: rescore(store, run_id, EXTRACTORS))
    print(f"samples {n}, extractors {len(EXTRACTORS)} + the stored scorer; load average {os.getloadavg()[0]:.1f}")
    print(f"read rows (floor) {floor[0]:.2f} s wall, {floor[1]:.2f} s CPU")
    print(f"rescore          {whole[0]:.2f} s wall, {whole[1]:.2f} s CPU   "
          f"({whole[0] / floor[0]:.1f}x the read wall, {whole[1] / floor[1]:.1f}x CPU)")


if __name__ == "__main__":
    main()
