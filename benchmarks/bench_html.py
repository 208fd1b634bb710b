"""`tuieval report RUN --format html` on a 10,000-case run: time, size, and a headless-browser check.

Builds a real SQLite run (default 10,000 cases × 1 sample; answers of a few kinds, some long and
some with markup, heavy-tailed latencies, three metadata columns for slices), then:

- times the page in-process: `run_page` + `report_to_html`, cold (analysis included, as right after a
  run whose report was not cached) and warm (the finished run's cached report, as `tuieval report`
  finds it after `tuieval run`), best of --repeat;
- runs `python -m tuieval report RUN --format html` as a subprocess (start-up included) and writes the file;
- renders it with Chromium (when installed): screenshot not blank, no console errors.

Budget: under 2 s and under 2 MB. Run: `python benchmarks/bench_html.py [N_CASES] [SAMPLES] [PNG]`.
With `BENCH_BEFORE=DIR` (a checkout of older code) the cold, warm and CLI times are measured with
that code too, on a copy of the same never-analysed file, just before this code's: side by side.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import numpy as np  # noqa: E402

from tuieval.report.formats.html import report_to_html  # noqa: E402
from tuieval.report.page import run_page  # noqa: E402
from tuieval.store import Store  # noqa: E402


def build(path: str, n_cases: int, per_case: int) -> str:
    rng = random.Random(0)
    store = Store(path)
    langs, lengths, sources = ["en", "de", "fr", "ja", "pt"], ["short", "medium", "long"], ["a", "b", "c", "d"]
    cases = [{"case_id": f"c{i:05d}", "position": i, "vars": {"q": f"question {i}"}, "targets": [f"ans{i}"],
              "metadata": {"lang": langs[i % 5], "length": lengths[i % 3], "source": sources[i % 4]},
              "input_text": f"Question {i}: " + "lorem ipsum " * (5 + i % 40)} for i in range(n_cases)]
    run_id = store.create_run(
        {"suite": "bench-html", "model": "openai/bench", "samples_per_case": per_case, "temperature": 0.7,
         "n_cases": n_cases, "n_templates": 1, "n_expected": n_cases * per_case, "slo_ms": 800.0,
         "config": {"scorers": ["normalized"]}}, cases)
    store.conn.execute("BEGIN")
    for i in range(n_cases):
        # German and long inputs fail more often: the page has flagged slices to draw
        p_right = 0.9 - (0.25 if i % 5 == 1 else 0) - (0.1 if i % 3 == 2 else 0)
        for k in range(per_case):
            right = rng.random() < p_right
            answer = f"ans{i}" if right else rng.choice([f"ans{i + 1}", "<b>I cannot</b> answer that.",
                                                         "It depends. " * 30, f"ans{i} or maybe ans{i + 7}"])
            store.add_sample({"run_id": run_id, "case_id": f"c{i:05d}", "template": "t", "sample_index": k,
                              "dispatch_order": i * per_case + k, "prompt": "[]", "response": answer,
                              "extracted": answer, "correct": right, "score": float(right),
                              "latency_ms": float(np.exp(rng.gauss(5.5, 0.6)) + (4000 if rng.random() < 0.01 else 0)),
                              "ttft_ms": 50.0, "scores": {}})
    store.conn.execute("COMMIT")
    store.set_status(run_id, "complete")
    store.close()
    return run_id


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


TIMED = r"""
import subprocess, sys, time
from tuieval.report.formats.html import report_to_html
from tuieval.report.page import run_page
from tuieval.store import Store
db, run_id = sys.argv[1:3]
with Store(db) as store:
    t0 = time.perf_counter(); report_to_html(run_page(store, run_id)); cold = time.perf_counter() - t0
    t0 = time.perf_counter(); report_to_html(run_page(store, run_id)); warm = time.perf_counter() - t0
t0 = time.perf_counter()
subprocess.run([sys.executable, "-m", "tuieval", "report", run_id, "--db", db, "--format", "html"],
               stdout=subprocess.DEVNULL, check=True)
print(f"{cold:.2f} {warm:.2f} {time.perf_counter() - t0:.2f}")
"""


def timed_with(code: str, db: str, run_id: str) -> str:
    """Cold page, warm page and CLI seconds with the code at `code`, in a fresh process."""
    env = {**os.environ, "PYTHONPATH": code}
    out = subprocess.run([sys.executable, "-c", TIMED, db, run_id], capture_output=True, text=True, check=True,
                         env=env, cwd=code)
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    per_case = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        run_id = build(db, n, per_case)
        before = os.environ.get("BENCH_BEFORE")
        if before:
            import shutil

            for name in ("before", "this"):
                copy = os.path.join(tmp, f"{name}.db")
                shutil.copy(db, copy)
                cold_s, warm_s, cli_s = timed_with(before if name == "before" else str(Path(__file__).parents[1]),
                                                   copy, run_id).split()
                print(f"{name:>6}: page cold {cold_s} s, warm {warm_s} s, tuieval report --format html {cli_s} s "
                      f"(load average {os.getloadavg()[0]:.1f})")
        with Store(db) as store:
            t0 = time.perf_counter()
            html = report_to_html(run_page(store, run_id))  # first: analysis, then cached
            cold = time.perf_counter() - t0
            warm = best_of(lambda: report_to_html(run_page(store, run_id)), 3)
            render_only = best_of(lambda: report_to_html(page), 3) if (page := run_page(store, run_id)) else 0.0
        t0 = time.perf_counter()
        out = Path(tmp) / "report.html"
        with out.open("w") as fh:
            subprocess.run([sys.executable, "-m", "tuieval", "report", run_id, "--db", db, "--format", "html"],
                           stdout=fh, check=True)
        cli = time.perf_counter() - t0
        print(f"cases {n} × {per_case} sample(s)")
        print(f"page, cold (analysis included) {cold:.2f} s")
        print(f"page, warm (cached report)     {warm:.2f} s   (formatting alone {render_only:.3f} s)")
        print(f"tuieval report --format html   {cli:.2f} s   (subprocess, start-up included)")
        print(f"size                           {out.stat().st_size / 1e6:.2f} MB  ({len(html):,} characters)")
        try:
            sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
            from tests.support.browser import CHROMIUM, render
        except ImportError:
            CHROMIUM = None
        if CHROMIUM is None:
            print("chromium not installed: browser check skipped")
            return
        t0 = time.perf_counter()
        pixels, log, dom = render(out, Path(tmp) / "report.png")
        colours = len(np.unique(pixels[:, :, :3].reshape(-1, 3), axis=0))
        errors = [line for line in log.splitlines() if "Uncaught" in line or "CONSOLE" in line]
        print(f"chromium: {colours} distinct colours in the screenshot, {len(errors)} console errors, "
              f"DOM {len(dom):,} characters ({time.perf_counter() - t0:.1f} s)")
        if len(sys.argv) > 3:
            (Path(sys.argv[3])).write_bytes((Path(tmp) / "report.png").read_bytes())


if __name__ == "__main__":
    main()
