"""Traffic-log reading and `tuieval shadow` overhead, measured side by side.

    .venv/bin/python benchmarks/bench_shadow.py [--lines 1000000] [--prompts 400]

1. The log reader: `iter_log` over a flat JSONL log of --lines lines (1 in 1,000 malformed)
   against a bare `for line in f: json.loads(line)` loop over the same file (the floor), and
   the peak traced memory of each over a 100,000-line log; then `plan_sample` (two passes,
   derived features, strata) over the 100,000-line log, against one `iter_log` pass over it.
2. Shadow overhead: the same --prompts prompts through demo/steady (TUIEVAL_DEMO_SPEED=0, so the
   simulated model costs no time) as a `tuieval run` of a JSONL dataset and as `tuieval shadow`
   of a log (budget = every prompt, logged baseline): wall and CPU time in-process. With
   `--baseline-src DIR` (another version's `tuieval` package, e.g. from `git archive OLD tuieval
   | tar -x -C DIR`) the same is measured with that code too, each pair in its own child
   process (best of two rounds by CPU), alternating with the current code `--alternations`
   times, medians, so both see the same load; `--sizes 400,1600,6400` sets the prompt counts.
   The last column is each child's own shadow × run ratio (its rounds alternate the two), sorted,
   and their median. The run's time includes reading its dataset (`load_suite`), as the
   shadow's includes reading and sampling its log.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

if os.environ.get("BENCH_SHADOW_SRC"):   # a child measuring another version of the code
    sys.path.insert(0, os.environ["BENCH_SHADOW_SRC"])
else:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["TUIEVAL_DEMO_SPEED"] = "0"

from tuieval.traffic.log import iter_log  # noqa: E402
from tuieval.traffic.sample import plan_sample  # noqa: E402


def write_log(path: Path, n: int) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            if i % 1000 == 999:
                fh.write("{broken line\n")
                continue
            fh.write(json.dumps({"prompt": f"Who signed lease {i}? It was signed by Person {i % 97} on day {i % 31}.",
                                 "response": f"Person {i % 97}", "model": "prod", "latency_ms": 100 + i % 400,
                                 "timestamp": 1764496800 + i, "metadata": {"channel": ("web", "api")[i % 2]}}) + "\n")


def bare(path: Path) -> int:
    n = 0
    with path.open("rb") as fh:
        for line in fh:
            try:
                json.loads(line)
                n += 1
            except ValueError:
                pass
    return n


def reader(path: Path) -> int:
    return sum(1 for _ in iter_log(path))


def timed(fn, *a) -> float:
    t0 = time.perf_counter()
    fn(*a)
    return time.perf_counter() - t0


def peak(fn, *a) -> int:
    tracemalloc.start()
    fn(*a)
    p = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return p


def shadow_overhead(tmp: Path, n: int, rounds: int = 3) -> tuple[tuple[float, float], tuple[float, float]]:
    """((run wall s, run CPU s), (shadow wall s, shadow CPU s)), each the best of `rounds`."""
    from tuieval.backends.demo import DemoBackend
    from tuieval.engine import Engine, RunOptions
    from tuieval.store import Store
    from tuieval.suite import load_suite
    from tuieval.traffic.shadow import ShadowSettings, make_plan, run_shadow

    prompts = [f"Who signed lease {i}? It was signed by Person {i}." for i in range(n)]
    data = tmp / "cases.jsonl"
    data.write_text("".join(json.dumps({"id": f"c{i}", "input": p, "target": f"Person {i}"}) + "\n"
                            for i, p in enumerate(prompts)))
    log = tmp / "log.jsonl"
    log.write_text("".join(json.dumps({"prompt": p, "response": f"Person {i}", "latency_ms": 100}) + "\n"
                           for i, p in enumerate(prompts)))
    best_run = best_shadow = (float("inf"), float("inf"))
    for k in range(rounds):
        store = Store(tmp / f"run{k}.db")
        opts = RunOptions(model="demo/steady", samples=1, temperature=0.0, concurrency=8)
        t0, c0 = time.perf_counter(), time.process_time()
        # `run` reads its prompts from their file as `shadow` reads its log (make_plan, timed below)
        suite = load_suite(str(data))
        engine = Engine(store, DemoBackend("demo/steady", "steady", speed=0))
        rid = engine.create_run(suite, opts)
        asyncio.run(engine.run(rid, opts))
        best_run = min(best_run, (time.perf_counter() - t0, time.process_time() - c0), key=lambda x: x[1])
        store.close()
        store = Store(tmp / f"shadow{k}.db")
        settings = ShadowSettings(log_path=str(log), candidate="demo/steady", budget=n, concurrency=8)
        t0, c0 = time.perf_counter(), time.process_time()
        plan = make_plan(settings)
        asyncio.run(run_shadow(store, settings, plan, DemoBackend("demo/steady", "steady", speed=0), None))
        best_shadow = min(best_shadow, (time.perf_counter() - t0, time.process_time() - c0), key=lambda x: x[1])
        store.close()
    return best_run, best_shadow


def _child_overhead(src: str | None, n: int, rounds: int) -> list[float]:
    """[run wall, run CPU, shadow wall, shadow CPU] (seconds, best of `rounds` by CPU) measured in a
    child process importing tuieval from `src`."""
    import subprocess

    env = dict(os.environ, BENCH_SHADOW_SRC=src or str(Path(__file__).resolve().parents[1]))
    out = subprocess.run([sys.executable, __file__, "--overhead-child", str(n), "--rounds", str(rounds)],
                         capture_output=True, text=True, env=env, cwd=tempfile.gettempdir(), check=True)
    return [float(x) for x in out.stdout.split()[-4:]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--prompts", type=int, default=400)
    ap.add_argument("--baseline-src", default=None, help="a directory with another version's tuieval package")
    ap.add_argument("--overhead-only", action="store_true", help="skip the reader measurements")
    ap.add_argument("--overhead-child", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("--rounds", type=int, default=3, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default=None, help="prompt counts for the overhead table, e.g. 400,1600,6400")
    ap.add_argument("--alternations", type=int, default=3, help="children per version and size (medians)")
    args = ap.parse_args()
    if args.overhead_child is not None:
        with tempfile.TemporaryDirectory() as d:
            (rw, rc), (sw, sc) = shadow_overhead(Path(d), args.overhead_child, args.rounds)
        print(rw, rc, sw, sc)
        return
    if args.baseline_src or args.overhead_only:
        from statistics import median

        sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else sorted({args.prompts, 4 * args.prompts})
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("| prompts | code | run wall s | run CPU s | shadow wall s | shadow CPU s | shadow × run (CPU) | "
              "shadow × run (wall) | per-child CPU ratios (median) |")
        print("|---:|---|---:|---:|---:|---:|---:|---:|---|")
        for n in sizes:
            got: dict[str, list[list[float]]] = {}
            for _ in range(args.alternations):   # alternate the two versions, a child each time
                for label, src in (("current", None), ("baseline", args.baseline_src)):
                    if label == "baseline" and not src:
                        continue
                    # best of two by CPU: the first pays one-time set-up
                    got.setdefault(label, []).append(_child_overhead(src, n, 2))
            for label, rows in got.items():
                rw, rc, sw, sc = (median(r[i] for r in rows) for i in range(4))
                # each child times run and shadow in alternate rounds, so its own ratio pairs the
                # two under the same load; the medians of the columns pair children minutes apart
                ratios = sorted(r[3] / r[1] for r in rows)
                print(f"| {n:,} | {label} | {rw:.2f} | {rc:.2f} | {sw:.2f} | {sc:.2f} | {sc / rc:.2f} | {sw / rw:.2f} | "
                      f"{' '.join(f'{x:.2f}' for x in ratios)} ({median(ratios):.2f}) |", flush=True)
        print(f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
        return
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        big, small = tmp / "big.jsonl", tmp / "small.jsonl"
        write_log(big, args.lines)
        write_log(small, 100_000)
        size = big.stat().st_size / 1e6
        t_bare, t_reader = timed(bare, big), timed(reader, big)
        m_bare, m_reader = peak(bare, small), peak(reader, small)
        t_plan = timed(lambda: plan_sample(lambda: iter_log(small), 500))
        t_small = timed(reader, small)
        print(f"log: {args.lines:,} lines, {size:.0f} MB")
        print(f"| reader | wall s | × bare | peak traced MB (100k lines) |")
        print(f"| bare json.loads loop | {t_bare:.2f} | 1.00 | {m_bare / 1e6:.2f} |")
        print(f"| iter_log | {t_reader:.2f} | {t_reader / t_bare:.2f} | {m_reader / 1e6:.2f} |")
        print(f"| plan_sample, 100k lines (budget 500, two passes) | {t_plan:.2f} | {t_plan / t_small:.2f} × iter_log | |")
        (r, rc), (s, sc) = shadow_overhead(tmp, args.prompts)
        print(f"\n{args.prompts} prompts, demo/steady at speed 0, best of 3 by CPU:")
        print(f"| command | wall s | CPU s | × run (CPU) |")
        print(f"| run (JSONL dataset) | {r:.2f} | {rc:.2f} | 1.00 |")
        print(f"| shadow (logged baseline) | {s:.2f} | {sc:.2f} | {sc / rc:.2f} |")


if __name__ == "__main__":
    main()
