"""Re-scoring a stored run with several extractors (`tuieval rescore`): how long, against reading the
rows, and side by side with the code of before.

    .venv/bin/python benchmarks/bench_rescore.py [N] [--rounds 5] [--baseline-src DIR] [--db PATH]

Builds a real SQLite run of N samples (default 100,000: 20,000 cases × 5 samples, chatty
numeric answers, one stored scorer) once, with this tree's code. Each source tree (this one, and
with `--baseline-src DIR` the code of before, e.g. `git archive c2e9bb8 | tar -x -C DIR`) runs in
its own long-lived worker process on that database; the parent asks the workers in turn to time
one call (CPU seconds of the worker, `time.process_time`, and wall seconds), alternating A B / B A
each round, so both sides see the same machine load at nearly the same moment. Rows: reading the
rows `rescore` reads (the floor, the same read as the first version so the ratios compare), and
the whole `rescore` with five built-in extractors plus the stored scorer. Printed: the median of
each side, the ratio of the medians, the median of the per-round ratios, whether both sides gave
the same result (a digest of the whole JSON), and the load average before and after.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRACTORS = ["strict", "last_number", "first_number", "number", "boxed"]
ROWS = ("read rows (floor)", "rescore")


def build(path: str, n_samples: int) -> str:
    from tuieval.store import Store

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


# ---------------------------------------------------------------------------------------------
# the worker: one source tree, one timed call per request
# ---------------------------------------------------------------------------------------------

def worker(src: str, db: str, run_id: str) -> None:
    sys.path.insert(0, src)           # before the editable install of this tree
    import gc

    from tuieval.report.rescore import rescore
    from tuieval.store import Store

    store = Store(db)
    calls = {
        ROWS[0]: lambda: (store.get_samples(run_id, columns=("case_id", "template", "sample_index", "response",
                                                             "error", "scores")),
                          store.case_targets(run_id), store.analysis_cases(run_id)),
        ROWS[1]: lambda: rescore(store, run_id, EXTRACTORS),
    }
    print(json.dumps({"src": str(Path(src).resolve())}), flush=True)
    for line in sys.stdin:
        row = line.rstrip("\n")
        gc.collect()                  # each call starts from the same heap, not the last call's garbage
        wall0, cpu0 = time.perf_counter(), time.process_time()
        out = calls[row]()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        digest = hashlib.sha256(json.dumps(out, sort_keys=True, default=str).encode()).hexdigest()[:16] \
            if row == ROWS[1] else ""
        del out
        print(json.dumps({"cpu": cpu, "wall": wall, "digest": digest}), flush=True)
    store.close()


class Worker:
    def __init__(self, src: Path, db: str, run_id: str) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(src), "--db", db, "--run", run_id],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=src)
        self.info = json.loads(self.proc.stdout.readline())

    def time(self, row: str) -> dict:
        self.proc.stdin.write(row + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("samples", nargs="?", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=5, help="timed calls per row and side (medians over them)")
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="a source tree of the code of before, timed side by side with this one")
    ap.add_argument("--db", default=None, help="reuse (or create) the database here instead of a temporary one")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--run", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--build-with", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.db, args.run)
        return
    if args.build_with:
        sys.path.insert(0, args.build_with)
        print(build(args.db, args.samples))
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or os.path.join(tmp, "bench.db")
        id_file = Path(db + f".{args.samples}.run")
        if args.db and id_file.exists() and Path(db).exists():
            run_id = id_file.read_text()
        else:
            # built by the older tree when there is one: the newer code opens an older schema (and
            # migrates it), not the reverse
            src = args.baseline_src.resolve() if args.baseline_src else ROOT
            run_id = subprocess.run([sys.executable, __file__, str(args.samples), "--db", db, "--build-with", str(src)],
                                    cwd=src, check=True, capture_output=True, text=True).stdout.strip()
            if args.db:
                id_file.write_text(run_id)
        # each side reads its own copy (a newer tree migrates the schema of the file it opens)
        copies = {side: os.path.join(tmp, f"{side}.db") for side in ("before", "this")}
        for path in copies.values():
            shutil.copyfile(db, path)
        sides = {"this": Worker(ROOT, copies["this"], run_id)}
        if args.baseline_src:
            sides = {"before": Worker(args.baseline_src.resolve(), copies["before"], run_id), **sides}
        order = list(sides)
        load_before = os.getloadavg()
        print(f"samples {args.samples}, extractors {len(EXTRACTORS)} + the stored scorer; medians of {args.rounds} "
              f"calls per side, interleaved; CPU s (wall s)")
        head = f"{'row':<20}" + "".join(f"{side:>16}" for side in order)
        print(head + (f"{'this/before':>12}{'paired':>8} same" if len(order) == 2 else ""))
        for row in ROWS:
            runs: dict[str, list[dict]] = {side: [] for side in sides}
            for k in range(args.rounds):
                for side in (order if k % 2 == 0 else order[::-1]):      # A B, B A, A B, …
                    runs[side].append(sides[side].time(row))
            med = {side: (statistics.median(r["cpu"] for r in rs), statistics.median(r["wall"] for r in rs))
                   for side, rs in runs.items()}
            line = f"{row:<20}" + "".join(f"{f'{med[s][0]:.3f} ({med[s][1]:.2f})':>16}" for s in order)
            if len(order) == 2:
                ratio = med["this"][0] / med["before"][0]
                paired = statistics.median(t["cpu"] / b["cpu"] for t, b in zip(runs["this"], runs["before"]))
                same = runs["this"][0]["digest"] == runs["before"][0]["digest"]
                line += f"{ratio:>12.2f}{paired:>8.2f} {'yes' if same else 'NO'}"
            print(line, flush=True)
        load_after = os.getloadavg()
        for w in sides.values():
            w.close()
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
