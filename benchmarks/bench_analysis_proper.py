"""Benchmark: the analysis proper of a stored run, this code beside older code, alternating.

    .venv/bin/python benchmarks/bench_analysis_proper.py --db RUN.db --run ID --before DIR [--rounds 3]

Each round copies RUN.db afresh for each code (DIR: a `git archive` of the older code) and runs
one child process per code that reads the run's cases and sample columns (not timed: that is the
store's side), then times, in CPU seconds of the main thread (`time.thread_time`), what the
million-sample target calls the analysis proper: `analyze_run_clustered` (a local tier's
clustering, the report's figures, slices, discovery, the case list), the cluster rows to store
(`records`) and the slice membership kept with the report (handed over by the analysis when it
can, `_Clustered.slice_masks`, else `masks_from_cases`), each phase timed by wrapping the
functions named in PHASES. The outputs are hashed (the report's JSON, every sample's cluster,
the cluster rows, the membership's bits), so the two codes are shown to give the same bytes.
Prints one line per child, then medians and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import functools, gc, hashlib, importlib, json, os, sys, time
db, run_id = sys.argv[1:3]
import numpy as np
from tuieval.store import Store
gc.disable()  # as tuieval.report.build does while it builds a report
store = Store(db)
run = store.get_run(run_id)
cases = store.analysis_cases(run["id"])
samples = store.analysis_sample_columns(run["id"])
phases = {}
PHASES = [("tuieval.analysis.report", "_Table.__init__"), ("tuieval.analysis.report", "_cluster_table"),
          ("tuieval.analysis.variance.groups", "_forms"), ("tuieval.analysis.report", "_Analysis.__init__"),
          ("tuieval.analysis.report", "_Analysis.metrics"), ("tuieval.analysis.report", "slice_levels"),
          ("tuieval.analysis.report", "derive_features"), ("tuieval.analysis.report", "discover_slices_columns"),
          ("tuieval.analysis.report", "_cases_output")]
for modname, name in PHASES:
    owner = importlib.import_module(modname)
    parts = name.split(".")
    for p in parts[:-1]:
        owner = getattr(owner, p)
    f = getattr(owner, parts[-1], None)
    if f is None:
        continue
    def wrap(f, name):
        @functools.wraps(f)
        def g(*a, **k):
            c = time.thread_time()
            try:
                return f(*a, **k)
            finally:
                phases[name] = phases.get(name, 0.0) + time.thread_time() - c
        return g
    setattr(owner, parts[-1], wrap(f, name))
from tuieval.analysis.report import analyze_run_clustered
from tuieval.analysis.variance.config import VarianceConfig
from tuieval.report.slice_membership_store import masks_from_cases
from tuieval.report.stored import sample_arrays
case_ids = sample_arrays(samples).case_ids
c0 = time.thread_time()
report, clustered = analyze_run_clustered(run, cases, samples, method=VarianceConfig.from_run(run).effective_method,
                                          cluster_stats={"source": "computed"})
c1 = time.thread_time()
per_sample, rows = clustered.records()
c2 = time.thread_time()
masks = clustered.slice_masks(case_ids) if hasattr(clustered, "slice_masks") else None
if masks is None:
    masks = masks_from_cases(cases, case_ids)
c3 = time.thread_time()
h = {"report": hashlib.sha256(json.dumps(report, sort_keys=True).encode()).hexdigest()[:16],
     "clusters": hashlib.sha256(per_sample.tobytes() + json.dumps(rows).encode()).hexdigest()[:16],
     "membership": hashlib.sha256(b"".join(repr(k).encode() + np.packbits(m).tobytes()
                                           for k, m in masks.items())).hexdigest()[:16]}
print(json.dumps({"proper_cpu_s": round(c3 - c0, 3), "analysis_cpu_s": round(c1 - c0, 3),
                  "records_cpu_s": round(c2 - c1, 3), "membership_cpu_s": round(c3 - c2, 3),
                  "phases": {k: round(v, 3) for k, v in phases.items()}, "hash": h}))
"""


def child(code: Path, db: str, run_id: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c", CHILD, db, run_id], capture_output=True, text=True, cwd=code,
                         check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--before", type=Path, required=True, help="a checkout of older code")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    codes = [("before", args.before.resolve()), ("this", ROOT)]
    got: dict[str, list[dict]] = {label: [] for label, _ in codes}
    loads = []
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "work.db")
        for i in range(args.rounds):
            for label, code in codes:
                for ext in ("", "-wal", "-shm"):
                    if os.path.exists(work + ext):
                        os.remove(work + ext)
                shutil.copyfile(args.db, work)
                r = child(code, work, args.run)
                loads.append(os.getloadavg()[0])
                got[label].append(r)
                print(f"# {i + 1}/{args.rounds} {label}: load {loads[-1]:.1f} {json.dumps(r)}", flush=True)
    print(f"load average (1 min) {min(loads):.1f}–{max(loads):.1f}, cpus {os.cpu_count()}")
    keys = ["proper_cpu_s", "analysis_cpu_s", "records_cpu_s", "membership_cpu_s"]
    phases = sorted({p for runs in got.values() for r in runs for p in r["phases"]})
    print(f"| CPU s, median of {args.rounds} | before | this | before / this |")
    print("|---|---:|---:|---:|")
    for key in keys + phases:
        b = [r[key] if key in r else r["phases"].get(key) for r in got["before"]]
        t = [r[key] if key in r else r["phases"].get(key) for r in got["this"]]
        if None in b or None in t:
            continue
        mb, mt = statistics.median(b), statistics.median(t)
        print(f"| {key} | {mb:.2f} ({', '.join(f'{x:.2f}' for x in b)}) | {mt:.2f} ({', '.join(f'{x:.2f}' for x in t)}) "
              f"| {mb / mt:.2f}× |" if mt else f"| {key} | {mb:.2f} | {mt:.2f} | — |")
    same = {json.dumps(r["hash"]) for runs in got.values() for r in runs}
    print("outputs identical across codes and rounds:", len(same) == 1, sorted(same))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
