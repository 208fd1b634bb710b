"""Benchmark: how a run's analysis, report and export grow from 10k to 100k to 1M samples.

    .venv/bin/python benchmarks/bench_million.py [--sizes 10000,100000,1000000] [--samples 10]

For each size, a synthetic run (benchmarks/bench_analysis.make_run: numeric, entity and
sentence answers, ~1% errors, long contexts; cases = size / samples) is written to a real
SQLite file, then three fresh processes are timed, each reporting its own peak RSS:
  analyse  — what `tuieval run` does at the end: build the report, store clusters and report;
  phases   — the same, with the phases timed (wall, CPU of the main thread): reading the cases
             and the sample columns, the analysis (`_analyze`, the clusters' write-back started
             in it), the arrays and membership shared by the cost section and the store, the
             cost section, storing the report (waiting there for the write-back); `--db/--run`
             only, on a copy of the run (`--steps phases`);
  reopen   — `build_report` again: the stored report read back (what the app's scoreboard reads);
  export   — `tuieval export` streamed to /dev/null;
  load     — the scoreboard's data read (`tuieval.tui.data.load_run_data`) beside the read it
             replaced (the whole report decoded and the analysis rows read), alternating, medians
             of 3, in one process;
  whole    — the whole document put back from its parts (what `tuieval report` reads) beside one
             JSON text of it decoded (how it was stored before), alternating, medians of 3;
  app      — the app, headless (Textual's test driver, 120×40): from `open_run` to the first frame
             drawn with the stored report shown (and to the screen settled after it; of which
             `load_run_data`, in its thread: the report without its case list, the charts' packed
             arrays and the slice membership; the rest is composing and painting), then the first
             slice highlighted (its charts) and opened (its cases listed), then the run's cases
             view (every case, worst first) to its first page drawn, then ctrl+end to its last row
             drawn, with the pages of rows the cases table read.
Targets (issue: a million samples): analysis under 15 s and 2 GB peak; export in bounded memory;
the scoreboard filled in under 1 s from the stored report; the cases table not loading every row.

    --db PATH --run ID   time the steps on a run already written and analysed (reuse a 1M run)
    --db PATH --run ID --before DIR --before-db PATH [--repeat 3]
                         the app step with this code on PATH and the older code on its own copy of
                         the run (analysed by that code), alternating, medians, with each process's
                         CPU seconds

`--before DIR` (a checkout of older code, e.g. `git archive COMMIT | tar -x -C DIR`) times the
same three steps with that code too, on the same file, one after the other: the figures of a
change measured side by side under the same load (the load average is printed).
`--before DIR --interleave N` times only the analysis, the two codes in alternation N times
each, every time on a fresh copy of the written run (with `--db/--run`: of that file), and
prints medians of wall and CPU seconds; `--interleave-step phases` times the `phases` step that
way instead, and adds each phase's medians (wall, main-thread CPU) per code.
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
elif step == "phases":
    # the analysis step with each storage-side phase timed (wall, and CPU of the main thread alone:
    # the clusters' write-back runs in a thread of its own beside it)
    import functools, importlib
    from tuieval.store import db as dbm
    b = importlib.import_module("tuieval.report.build")
    phases = {}

    def timed(owner, attr, label=None):
        f = getattr(owner, attr, None)
        name = label or attr
        if f is None:  # (the older code may not have it)
            return

        @functools.wraps(f)
        def g(*a, **k):
            t, c = time.perf_counter(), time.thread_time()
            try:
                return f(*a, **k)
            finally:
                w0, c0 = phases.get(name, (0.0, 0.0))
                phases[name] = (w0 + time.perf_counter() - t, c0 + time.thread_time() - c)
        setattr(owner, attr, g)

    for name in ("analysis_cases", "analysis_sample_columns", "token_usage", "token_usage_beside",
                 "analysis_cases_beside"):
        timed(dbm.Store, name)
    # the cases read beside the sample columns: what the main thread spends waiting for them
    timed(getattr(dbm, "PendingCases", None), "wait", "cases_beside_wait")
    for name in ("_analyze", "_store_clusters", "_shared_parts", "_cost_section", "store_report"):
        timed(b, name)
    c0 = time.thread_time()
    b.build_report(store, run_id, persist_clusters=True)
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"s": time.perf_counter() - t0, "main_cpu_s": time.thread_time() - c0,
                      "cpu_s": use.ru_utime + use.ru_stime, "rss_mb": use.ru_maxrss / 1024,
                      "phases": {k: [round(w, 3), round(c, 3)] for k, (w, c) in phases.items()}}))
    raise SystemExit(0)
elif step == "reopen":
    r = build_report(store, run_id)
elif step == "load":
    # side by side, alternating, medians of 3: the scoreboard's read now (the stored report
    # without its case list, the packed arrays) and as it was (the whole stored report decoded
    # and the analysis rows read for the charts: `build(with_rows=True)`)
    import statistics
    from tuieval.report import build
    from tuieval.report.stored import sample_arrays
    from tuieval.tui import data as tui_data

    new, old = [], []
    for _ in range(3):
        t = time.perf_counter()
        tui_data.load_run_data(db, run_id)
        new.append(time.perf_counter() - t)
        t = time.perf_counter()
        built = build(store, run_id, with_rows=True)
        sample_arrays(built.samples)
        old.append(time.perf_counter() - t)
        del built
    print(json.dumps({"s": statistics.median(new), "new_s": new, "old_s": old,
                      "ratio_old_over_new": statistics.median(old) / statistics.median(new),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    raise SystemExit(0)
elif step == "whole":
    # `tuieval report --format json`'s read of the whole document: the parts put back together
    # beside one JSON text of the same document decoded (the form it was stored in before),
    # alternating, medians of 3
    import statistics
    from tuieval.report.stored import load_report

    run = store.get_run(run_id)
    fingerprint = store.report_fingerprint(run)
    text = json.dumps(load_report(store, run["id"], fingerprint), ensure_ascii=False)
    parts, blob = [], []
    for _ in range(3):
        t = time.perf_counter()
        load_report(store, run["id"], fingerprint)
        parts.append(time.perf_counter() - t)
        t = time.perf_counter()
        json.loads(text)
        blob.append(time.perf_counter() - t)
    print(json.dumps({"s": statistics.median(parts), "parts_s": parts, "one_text_s": blob, "mb": len(text) / 1e6,
                      "ratio_parts_over_one_text": statistics.median(parts) / statistics.median(blob),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    raise SystemExit(0)
elif step == "app":
    # the app headless, as a person uses it: open the run (to the first frame that shows the
    # stored report's figures), highlight the first slice (its charts), open its cases, back, then
    # the whole run's cases to the first page and ctrl+end to the last row
    import asyncio
    from tuieval.tui.app import make_app
    from tuieval.tui.screens.slice_cases import SliceCasesScreen

    from tuieval.tui import data as tui_data

    real_load, loads = tui_data.load_run_data, []

    def timed_load(*a, **k):  # the scoreboard's data read, in its thread (the rest is the paint)
        t, c = time.perf_counter(), time.thread_time()
        got = real_load(*a, **k)
        loads.append((time.perf_counter() - t, time.thread_time() - c))
        return got

    tui_data.load_run_data = timed_load

    def screen_text(app):
        return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())

    async def drive():
        app = make_app(["/dev/null"], db, show_welcome=False, snapshot=True)
        async with app.run_test(size=(120, 40)) as pilot:
            # the start-up settled first: the Runs screen composed behind reads the runs list (at a
            # million samples 0.4 s of CPU) once the first frame is out, and must not be timed here
            for _ in range(50):
                await app.workers.wait_for_complete()
                await pilot.pause()
                if not any(w.is_running for w in app.workers):
                    break
            async def until(cond):
                while not cond():
                    await pilot.pause()
            frames = []
            real_display = app._display

            def display(screen, update):  # every frame Textual hands to the (headless) terminal
                real_display(screen, update)
                if getattr(screen, "mode", None) == "report":
                    frames.append(time.perf_counter())

            app._display = display
            cpu, main_cpu = time.process_time(), time.thread_time()
            t = time.perf_counter()
            app.open_run(run_id)
            await until(lambda: frames)
            # first frame: the first one drawn once the report is shown (the header, gates and
            # the slices table filled: checked below on the settled screen)
            out = {"first_frame_s": frames[0] - t, "load_run_data_s": loads[-1][0], "load_run_data_cpu_s": loads[-1][1]}
            await until(lambda: type(app.screen).__name__ == "ScoreboardScreen" and app.screen.mode == "report")
            await pilot.pause()  # the paint that follows
            out["scoreboard_s"] = time.perf_counter() - t
            out["scoreboard_cpu_s"] = time.process_time() - cpu  # every thread of the process
            out["scoreboard_main_cpu_s"] = time.thread_time() - main_cpu  # the event loop's
            sb = app.screen
            text = screen_text(app)
            out["headline_shown"] = "overall" in text and " acc " in text
            data = sb.data
            # a slice highlighted at once: its detail line and charts (the slice's samples)
            t = time.perf_counter()
            await pilot.press("down")
            await until(lambda: sb._detail_sig is not None and sb._detail_sig[1] not in (None, "overall"))
            await pilot.pause()
            out["highlight_slice_s"] = time.perf_counter() - t
            # and opened: its cases listed worst first, the first page drawn
            t = time.perf_counter()
            await pilot.press("enter")
            await until(lambda: type(app.screen).__name__ == "SliceCasesScreen" and app.screen.loaded)
            await pilot.pause()
            out.update(slice_cases_s=time.perf_counter() - t,
                       slice_n_cases=app.screen.query_one("#cases-table").row_count)
            await pilot.press("escape")
            await until(lambda: app.screen is sb)
            # what the app still does after that (a report stored without its slice membership
            # derives it in a thread): let it finish, and say how long it took
            t = time.perf_counter()
            await app.workers.wait_for_complete()
            out["after_paint_work_s"] = time.perf_counter() - t
            t = time.perf_counter()
            app.push_screen(SliceCasesScreen(data, None))
            await until(lambda: type(app.screen).__name__ == "SliceCasesScreen" and app.screen.loaded)
            await pilot.pause()
            table = app.screen.query_one("#cases-table")
            out.update(cases_first_page_s=time.perf_counter() - t, n_cases=table.row_count)
            t = time.perf_counter()
            await pilot.press("ctrl+end")
            await pilot.pause()
            out.update(cases_last_row_s=time.perf_counter() - t, pages_read=table.pages_read,
                       last_row_ok=table.cursor_row == table.row_count - 1)
            return out

    t0 = time.perf_counter()
    extra = asyncio.run(drive())
    print(json.dumps({"s": time.perf_counter() - t0, **extra,
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
    raise SystemExit(0)
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
    """One step in a fresh process; `child_cpu_s` is that process's CPU seconds (every thread)."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(code)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", STEP, db, run_id, name], capture_output=True, text=True,
                         cwd=code, check=True, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    got["child_cpu_s"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return got


#: the app step's figures compared side by side (`--db … --before DIR --before-db PATH`)
APP_FIGURES = ("first_frame_s", "scoreboard_s", "scoreboard_cpu_s", "scoreboard_main_cpu_s", "load_run_data_s",
               "load_run_data_cpu_s", "highlight_slice_s", "slice_cases_s",
               "after_paint_work_s", "cases_first_page_s", "cases_last_row_s", "child_cpu_s")


def app_side_by_side(db: str, before_db: str, run_id: str, before: Path, repeat: int) -> None:
    """The app step with this code (on `db`) and the older code (on `before_db`, a copy of the
    same run the older code analysed: it cannot open a newer schema), alternating, medians."""
    import statistics

    runs: dict[str, list[dict]] = {"this": [], "before": []}
    for i in range(repeat):
        for label, code, path in (("before", before, before_db), ("this", ROOT, db)):
            got = step(path, run_id, "app", code)
            runs[label].append(got)
            print(f"# {i + 1}/{repeat} {label}: load {os.getloadavg()[0]:.1f} {json.dumps(got)}", flush=True)
    print(f"| figure (median of {repeat}) | before | this | before / this |")
    print("|---|---:|---:|---:|")
    for key in APP_FIGURES:
        b = [r[key] for r in runs["before"] if key in r]
        t = [r[key] for r in runs["this"] if key in r]
        if not b or not t:
            continue
        mb, mt = statistics.median(b), statistics.median(t)
        ratio = f"{mb / mt:.1f}×" if mt > 0.0005 else "—"
        print(f"| {key} | {mb:.3f} | {mt:.3f} | {ratio} |")


def _fresh_copy(src: str, dst: str) -> None:
    import shutil

    for ext in ("", "-wal", "-shm"):
        if os.path.exists(dst + ext):
            os.remove(dst + ext)
    shutil.copyfile(src, dst)


def interleaved(args) -> int:
    """The analysis of each size by the older code and this code in alternation, each time on a
    fresh copy of the same written run (no clusters or report stored yet, as `tuieval run` leaves
    it): wall and CPU seconds, peak RSS, medians over the repeats, and the load average."""
    import statistics

    if args.before is None:
        raise SystemExit("--interleave needs --before DIR")
    codes = [("before", args.before.resolve()), ("this", ROOT)]
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min), cpus {os.cpu_count()}")
    print("| samples | code | analyse s, median (runs) | cpu s, median (runs) | peak MB | load 1 min |")
    print("|---:|---|---:|---:|---:|---:|")
    sizes = [None] if args.db else [int(x) for x in args.sizes.split(",")]
    for size in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            if args.db:
                src, run_id, size = args.db, args.run, None
            else:
                src = os.path.join(tmp, "m.db")
                run_id = write_run(src, size, args.samples)
            work = os.path.join(tmp, "work.db")
            got: dict[str, list[dict]] = {label: [] for label, _ in codes}
            loads = []
            for _ in range(args.interleave):
                for label, code in codes:
                    _fresh_copy(src, work)
                    got[label].append(step(work, run_id, args.interleave_step, code))
                    loads.append(os.getloadavg()[0])
                    print(f"# {label}: load {loads[-1]:.1f} {json.dumps(got[label][-1])}", flush=True)
            for label, _ in codes:
                runs = got[label]
                wall = [r["s"] for r in runs]
                cpu = [r["cpu_s"] for r in runs]
                name = f"{size:,}" if size else os.path.basename(src)
                print(f"| {name} | {label} | {statistics.median(wall):.2f} ({', '.join(f'{w:.1f}' for w in wall)}) | "
                      f"{statistics.median(cpu):.2f} ({', '.join(f'{c:.1f}' for c in cpu)}) | "
                      f"{max(r['rss_mb'] for r in runs):.0f} | {min(loads):.1f}–{max(loads):.1f} |", flush=True)
            if args.interleave_step == "phases":  # each phase's median wall and main-thread CPU, per code
                print("| phase | " + " | ".join(f"{label} wall s | {label} main CPU s" for label, _ in codes) + " |")
                print("|---|" + "---:|---:|" * len(codes))
                names = list(dict.fromkeys(k for label, _ in codes for r in got[label] for k in r["phases"]))
                for key in ["main_cpu_s"] + names:
                    cells = []
                    for label, _ in codes:
                        runs = got[label]
                        if key == "main_cpu_s":
                            cells += ["", f"{statistics.median(r['main_cpu_s'] for r in runs):.2f}"]
                        elif all(key in r["phases"] for r in runs):
                            cells += [f"{statistics.median(r['phases'][key][0] for r in runs):.2f}",
                                      f"{statistics.median(r['phases'][key][1] for r in runs):.2f}"]
                        else:
                            cells += ["—", "—"]
                    print(f"| {key} | " + " | ".join(cells) + " |", flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--steps", default="analyse,reopen,export,load,whole,app")
    ap.add_argument("--db", help="a database already holding the run (with --run): no writing, no analysis")
    ap.add_argument("--run", help="the run in --db")
    ap.add_argument("--before", type=Path, help="a checkout of older code, timed beside this one")
    ap.add_argument("--before-db", help="with --db and --before: the same run as the older code stored it; "
                                        "the app step then runs with both codes, alternating")
    ap.add_argument("--repeat", type=int, default=3, help="rounds of the side-by-side app step")
    ap.add_argument("--interleave", type=int, default=0, metavar="N",
                    help="with --before: only the analysis, N times per code in alternation (before, this, "
                         "before, this …), each on a fresh copy of the written run; medians printed")
    ap.add_argument("--interleave-step", default="analyse", choices=("analyse", "phases"),
                    help="with --interleave: the step timed (phases: each phase's medians as well)")
    args = ap.parse_args(argv)
    if args.interleave:
        return interleaved(args)
    steps = args.steps.split(",")
    codes = [("this", ROOT)] + ([("before", args.before.resolve())] if args.before else [])
    print(f"load average at the start: {os.getloadavg()[0]:.1f} (1 min), cpus {os.cpu_count()}")
    if args.db and args.before and args.before_db:
        app_side_by_side(args.db, args.before_db, args.run, args.before.resolve(), args.repeat)
        print(f"load average at the end: {os.getloadavg()[0]:.1f} (1 min)")
        return 0
    if args.db:
        for name in steps:
            print(name, json.dumps(step(args.db, args.run, name)), flush=True)
        return 0
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
            # the app-side steps with this code only (the older code may not have them)
            for name in ("load", "whole", "app"):
                if name in steps:
                    print(name, json.dumps(step(db, run_id, name)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
