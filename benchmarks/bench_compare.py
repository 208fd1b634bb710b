"""Benchmark: `compare_runs` on 10,000 paired cases, one and five samples per case.

    .venv/bin/python benchmarks/bench_compare.py [--cases 10000] [--B 10000] [--repeat 3]

Times the whole comparison (pairing, 25 metadata slices, a paired test, bootstrap
interval and MDE per slice, Benjamini–Hochberg), best of --repeat, for 0/1 scores
(McNemar) and for five samples per case (sign-flip).  Ratios are printed against the
index-based reference resamplers (`stats.paired_bootstrap` + `stats.sign_flip_test`
run once on the overall line with the same B): the exact-distribution path of
`compare.py` is meant to make a whole comparison cost less than one index-based test.
Timing lives here, not in the tests (a loaded machine would make timed tests flaky).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuieval.analysis.compare import compare_runs  # noqa: E402
from tuieval.analysis.stats import paired_bootstrap, sign_flip_test  # noqa: E402


def rows(run_id: str, outcomes: np.ndarray, meta: list[dict]) -> tuple[dict, list[dict], list[dict]]:
    k = outcomes.shape[1]
    run = {"id": run_id, "suite": "bench", "model": "demo/x", "simulated": True, "samples_per_case": k,
           "status": "complete", "temperature": 0.0, "started_at": "2026-01-01T00:00:00+00:00"}
    cases, samples = [], []
    for i, res in enumerate(outcomes.tolist()):
        cid = f"c{i:05d}"
        cases.append({"case_id": cid, "position": i, "metadata": meta[i], "input_text": "What is it?"})
        for j, r in enumerate(res):
            samples.append({"case_id": cid, "template": "t", "sample_index": j, "correct": bool(r), "error": None})
    return run, cases, samples


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--B", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.cases
    rng = np.random.default_rng(0)
    meta = [{"lang": ["en", "de", "fr", "es", "ja"][i % 5], "topic": f"t{i % 17}", "level": i % 3}
            for i in range(n)]
    print(f"{n} cases, B = {args.B}, best of {args.repeat}")
    print("| samples/case | test | compare_runs s | reference (one index-based test) s | ratio |")
    print("|---:|---|---:|---:|---:|")
    for k in (1, 5):
        a = (rng.random((n, k)) < 0.8).astype(int)
        b = (rng.random((n, k)) < 0.78).astype(int)
        A, B_ = rows("A", a, meta), rows("B", b, meta)
        out = compare_runs(A, B_, B=args.B)
        t_cmp = best(lambda: compare_runs(A, B_, B=args.B), args.repeat)
        sa, sb = a.mean(axis=1), b.mean(axis=1)

        def reference() -> None:
            paired_bootstrap(sb, sa, B=args.B, rng=np.random.default_rng(1))
            sign_flip_test(sb - sa, B=args.B, rng=np.random.default_rng(2))

        t_ref = best(reference, args.repeat)
        print(f"| {k} | {out['test']} ({len(out['slices'])} slices) | {t_cmp:.3f} | {t_ref:.3f} | "
              f"{t_cmp / t_ref:.2f} |")


if __name__ == "__main__":
    main()
