"""The engine's own CPU per sample, with the HTTP taken out: side by side with another source tree.

`bench_run.py` measures the whole process against a loopback server, where aiohttp, the asyncio
loop and the server's own noise are most of the CPU. This isolates what tuieval adds around each
request — planning, the limiter, events and progress, scoring, the sample row, the writer's
batched commits with their full-text index — by running a real `Engine` on a real SQLite file
against a backend that answers at once in-process (it yields to the loop once, as a socket read
would, and parses nothing). The figures are CPU seconds of the process (`time.process_time`),
each tree in its own child process, the trees alternating (A B B A …), medians reported:

    python benchmarks/bench_engine.py [--cases 10000] [--concurrency 64] [--repeats 4] [--also DIR]

``--also DIR`` is an older commit's `git archive`, measured in the same alternations.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import asyncio, json, sys, time
    from tuieval.backends.base import ChatResult
    from tuieval.engine import Engine, RunOptions
    from tuieval.progress import Progress
    from tuieval.store import Store
    from tuieval.suite import load_suite

    class Instant:
        spec, simulated, enforces_total_timeout, base_url = "openai-compatible/bench", False, True, "http://x"
        async def complete(self, request, on_delta=None):
            await asyncio.sleep(0)
            token = request.messages[-1]["content"].split("<<")[1].split(">>")[0]
            return ChatResult(text="Answer: " + token, finish_reason="stop", output_tokens=2, input_tokens=3,
                              latency_ms=1.0)
        async def aclose(self):
            pass

    suite_path, db, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = time.process_time()
    suite = load_suite(suite_path)
    t1 = time.process_time()
    store = Store(db)
    engine = Engine(store, Instant(), on_event=Progress(quiet=True))
    options = RunOptions(model="openai-compatible/bench", concurrency=concurrency, stream=False)
    t2 = time.process_time()
    run_id = engine.create_run(suite, options)
    t3 = time.process_time()
    asyncio.run(engine.run(run_id, options))
    t4 = time.process_time()
    correct = sum(store.latency_and_correct(run_id)[1])
    print(json.dumps({"suite": t1 - t0, "create_run": t3 - t2, "run": t4 - t3, "n": store.count_samples(run_id),
                      "correct": correct}))
""")


def _suite(directory: Path, n: int) -> Path:
    lines = ["name: bench", "template: 'Say <<{{ token }}>>'",
             "scorers: [{type: regex, pattern: 'Answer: (\\w+)', then: exact}]", "cases:"]
    lines += [f"  - {{id: c{i}, token: tok{i}, target: tok{i}}}" for i in range(n)]
    path = directory / f"engine-{n}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--also", metavar="DIR", default=None, help="another tuieval source tree, measured side by side")
    args = ap.parse_args()
    trees = {"this": ROOT}
    if args.also:
        trees["other"] = Path(args.also).resolve()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE" and not k.startswith("TUIEVAL_")}
    got: dict[str, list[dict]] = {label: [] for label in trees}
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        suite = _suite(tmp, args.cases)
        labels = list(trees)
        for rep in range(args.repeats):
            for label in labels if rep % 2 == 0 else labels[::-1]:
                db = tmp / f"{label}-{rep}.db"
                out = subprocess.run([sys.executable, "-c", CHILD, str(suite), str(db), str(args.concurrency)],
                                     env=dict(env, PYTHONPATH=str(trees[label])), cwd=trees[label],
                                     capture_output=True, text=True, check=True)
                row = json.loads(out.stdout.strip().splitlines()[-1])
                if row["correct"] != args.cases:  # every answer is right: the work measured is the real one
                    raise SystemExit(f"{label}: {row['correct']} of {args.cases} samples correct")
                got[label].append(row)
    print(f"{args.cases} cases, concurrency {args.concurrency}, medians of {args.repeats}, CPU seconds; "
          f"load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    for label, rows in got.items():
        med = {k: statistics.median(r[k] for r in rows) for k in ("suite", "create_run", "run")}
        print(f"{label:6s} {trees[label]}: suite {med['suite']:.3f}  create_run {med['create_run']:.3f}  "
              f"run {med['run']:.3f} = {med['run'] / rows[0]['n'] * 1e3:.3f} ms/sample   runs: "
              + " ".join(f"{r['run']:.2f}" for r in rows))


if __name__ == "__main__":
    main()
