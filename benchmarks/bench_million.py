"""Benchmark: how a run's analysis, report and export grow from 10k to 100k to 1M samples.

    .venv/bin/python benchmarks/bench_million.py [--sizes 10000,100000,1000000] [--samples 10]

For each size, a synthetic run (benchmarks/bench_analysis.make_run: numeric, entity and
sentence answers, ~1% errors, long contexts; cases = size / samples) is written to a real
SQLite file, then three fresh processes are timed, each reporting its own peak RSS:
  analyse  — what `tuieval run` does at the end: build the report, store clusters and report;
  reopen   — `build_report` again: the stored report read back (what the app's scoreboard reads);
  export   — `tuieval export` streamed to /dev/null.
Targets (issue: a million samples): analysis under 15 s and 2 GB peak; export in bounded memory.

`--before DIR` (a checkout of older code, e.g. `git archive COMMIT | tar -x -C DIR`) times the
same three steps with that code too, on the same file, one after the other: the figures of a
change measured side by side under the same load (the load average is printed).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

STEP = r"""
import json, resource, sys, time
from tuieval.store import Store
from tuieval.report import build_report
from tuieval.report.export import export_rows
db, run_id, step = sys.argv[1:4]
store = Store(db)
t0 = time.perf_counter()
if step == "analyse":
    r = build_report(store, run_id, persist_clusters=True)
elif step == "reopen":
    r = build_report(store, run_id)
else:
    with open("/dev/null", "w") as out:
        for row in export_rows(store, run_id):
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
secs = time.perf_counter() - t0
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"s": secs, "cpu_s": use.ru_utime + use.ru_stime, "rss_mb": use.ru_maxrss / 1024}))
"""


def write_run(path: str, size: int, samples: int) -> str:
    from bench_analysis import make_run
    from tuieval.store.db import Store

    run, cases, rows = make_run(n_cases=size // samples, n_samples=samples)
    store = Store(path)
    row = {k: v for k, v in run.items() if k not in ("status", "id")}
    row.update(n_cases=len(cases), n_templates=1, n_expected=len(rows))
    run_id = store.create_run(row, cases)
    store.conn.execute("BEGIN")
    for s in rows:
        store.add_sample({**s, "run_id": run_id, "prompt": "[]", "attempts": 1, "created_at": row["started_at"]})
    store.conn.execute("COMMIT")
    store.set_status(run_id, "complete")
    store.close()
    return run_id


def step(db: str, run_id: str, name: str, code: Path = ROOT) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", STEP, db, run_id, name], capture_output=True, text=True,
                         cwd=code, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--before", type=Path, help="a checkout of older code, timed beside this one")
    args = ap.parse_args(argv)
    codes = [("this", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min), cpus {os.cpu_count()}")
    # wall seconds of each step, and in brackets the process's CPU seconds (start-up included):
    # on a shared machine the CPU time is what a quiet one would come closer to
    print("| samples | code | write s | analyse s (cpu) | analyse peak MB | reopen s (cpu) | reopen peak MB | "
          "export s (cpu) | export peak MB | load 1 min |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(x) for x in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "m.db")
            t0 = time.perf_counter()
            run_id = write_run(db, size, args.samples)
            write_s = time.perf_counter() - t0
            # the older code first: both analyses start from the same stored run (the second
            # overwrites the first's clusters and report; reopen reads the report last stored)
            for label, code in reversed(codes):
                a, r, e = (step(db, run_id, name, code) for name in ("analyse", "reopen", "export"))
                print(f"| {size:,} | {label} | {write_s:.1f} | {a['s']:.2f} ({a['cpu_s']:.1f}) | {a['rss_mb']:.0f} | "
                      f"{r['s']:.2f} ({r['cpu_s']:.1f}) | {r['rss_mb']:.0f} | {e['s']:.2f} ({e['cpu_s']:.1f}) | "
                      f"{e['rss_mb']:.0f} | {os.getloadavg()[0]:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
