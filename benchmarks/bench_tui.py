"""App responsiveness: event-loop lag while streams flow in, and time to a filled scoreboard.

1. **Streaming lag.** The loopback test server (`python -m tests.support.model_server`, its own
   process) streams 64 concurrent answers at 50 deltas/s each (~4 characters a delta) into the
   app, which runs the engine in its async worker on its own event loop with the Live screen
   showing (headless `run_test`, so the compositor renders every frame but nothing is written to
   a terminal). A probe scheduled every 10 ms on the same loop records how late it fires; key
   presses (Down / Up in the in-flight table, sent through the driver as a terminal would) are
   timed from send until the table's cursor action has run.
2. **Opening a big run.** A database holding one run of 100,000 samples (10,000 cases × 10
   samples, realistic metadata) is opened: the time from `open_run` to a filled scoreboard
   (report computed in a thread, table painted, latency charts drawn).
3. **First visits.** In a fresh process on the two-run demo database (demo/steady and
   demo/brittle on the extraction suite, reports stored), each screen is visited once, as a
   user's first hour would: the time from the key press (sent through the driver) until the
   screen *answers*: its headline content is in its widgets (Live and the run form: the screen is
   up; Runs, the slice's cases, Suites: the table has rows; the scoreboard: the run's header and
   the slice table of the report; the inspector: the case loaded; compare: the verdict line and
   the *paired* table) and the first frame after that has been rendered. `--until idle` ends a
   visit instead once the process is idle after that (`Pilot.pause`), as the first rounds in
   benchmarks/README.md did: that also counted the threads still busy after the screen answered.
   Between visits the app settles (untimed). `--baseline-src DIR` measures another source tree
   with this same script, interleaved.

    python benchmarks/bench_tui.py [--streams 64] [--rate 50] [--cases 256] [--samples 100000]
    python benchmarks/bench_tui.py --first-visit-only [--repeat 5] [--until frame|idle] [--baseline-src DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# a child measuring another source tree (--baseline-src) imports tuieval from that tree: it must
# come first on the path (before this one), or both sides would measure this tree's code
sys.path.insert(0, os.environ.get("TUIEVAL_BENCH_SRC") or str(ROOT))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[min(len(s), max(1, math.ceil(q * len(s)))) - 1] if s else float("nan")


# -- 1. streaming ---------------------------------------------------------------------------------

def start_server(rate: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.model_server", "--port", "0",
                             "--tokens-per-s", str(rate)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http://"):
        proc.kill()
        raise SystemExit(f"model server did not start ({url!r})")
    return proc, url


def write_stream_suite(directory: Path, n_cases: int, deltas_per_answer: int) -> Path:
    import yaml

    word = "abcd"  # the server streams ~4-character deltas: one delta per word
    cases = [{"id": f"c{i:04d}", "token": f"t{i}" + word * (deltas_per_answer - 1),
              "target": f"t{i}" + word * (deltas_per_answer - 1), "metadata": {"parity": ("even", "odd")[i % 2]}}
             for i in range(n_cases)]
    suite = {"name": "stream-bench", "template": "Repeat <<{{ token }}>>", "cases": cases,
             "scorers": [{"type": "regex", "pattern": r"Answer: (\w+)", "then": "exact"}],
             "sampling": {"samples": 1, "temperature": 0.0, "seed": 1}}
    path = directory / "stream-bench.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


async def bench_streaming(streams: int, rate: float, n_cases: int, deltas: int) -> dict:
    from textual import events
    from textual.widgets import DataTable

    from tuieval.suite import load_suite
    from tuieval.tui.app import make_app
    from tuieval.tui.screens.run_form import RunRequest
    from tuieval.tui.widgets.keyed_table import KeyedTable

    proc, url = start_server(rate)
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    try:
        suite_path = write_stream_suite(tmp, n_cases, deltas)
        # as `tuieval app` runs it (run_app): start-up heap frozen out of the GC's scans
        app = make_app([str(suite_path)], str(tmp / "stream.db"), show_welcome=False, freeze_startup_heap=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await app.workers.wait_for_complete()
            await pilot.pause()
            await pilot.pause()
            loop = asyncio.get_running_loop()
            run_id = app.start_run(load_suite(suite_path), RunRequest(
                "openai-compatible/bench", concurrency=streams, base_url=url + "/v1"))
            assert run_id, "run did not start"
            app.watch_live(run_id)
            await pilot.pause()
            live = app.live_runs[run_id]
            lags: list[float] = []
            lag_at: list[float] = []
            keys: list[float] = []
            in_flight: list[int] = []
            chars_seen = 0
            stop = asyncio.Event()

            async def probe() -> None:
                due = loop.time() + 0.010
                while not stop.is_set():
                    await asyncio.sleep(max(0.0, due - loop.time()))
                    now = loop.time()
                    lags.append((now - due) * 1000.0)
                    lag_at.append(now)
                    due = now + 0.010

            handled = asyncio.Event()
            table_cls = KeyedTable
            for name in ("action_cursor_down", "action_cursor_up"):
                original = getattr(table_cls, name)

                def hooked(self, _original=original) -> None:
                    _original(self)
                    handled.set()

                setattr(table_cls, name, hooked)
            probe_task = asyncio.create_task(probe())
            t0 = time.perf_counter()
            steady_from = None
            while not live.finished:
                await asyncio.sleep(0.25)
                in_flight.append(len(live.in_flight))
                if steady_from is None and len(live.in_flight) >= streams * 0.9:
                    steady_from = len(lags)
                # Up/Down in the in-flight table (its rows come and go 4 times a second): timed
                # from the key leaving the driver to the table's cursor action running
                table = app.screen.query_one("#inflight", DataTable)
                if app.focused is not table:
                    table.focus()
                    await asyncio.sleep(0.05)
                handled.clear()
                k0 = time.perf_counter()
                event = events.Key("down" if len(keys) % 2 == 0 else "up", None)
                event.set_sender(app)
                app._driver.send_message(event)  # as the terminal driver would
                await asyncio.wait_for(handled.wait(), 10)
                keys.append((time.perf_counter() - k0) * 1000.0)
            wall = time.perf_counter() - t0
            stop.set()
            await probe_task
            chars_seen = sum(len(f.response) for f in live.recent)
            steady = lags[steady_from or 0:]
            worst = sorted(range(len(lags)), key=lags.__getitem__)[-5:]
            t_start = lag_at[0] if lag_at else 0.0
            worst_at = [(round(lag_at[i] - t_start, 2), round(lags[i], 1)) for i in worst]
        return {
            "streams": streams, "deltas_per_s_each": rate, "answers": live.n_done, "errors": live.n_errors,
            "deltas_per_answer": deltas, "wall_s": round(wall, 2),
            "max_in_flight": max(in_flight, default=0),
            "delta_events_per_s": round(live.n_done * deltas / wall),
            "lag_ms": {"n": len(steady), "p50": round(pct(steady, 0.5), 2), "p99": round(pct(steady, 0.99), 2),
                       "max": round(max(steady, default=float("nan")), 2)},
            "key_ms": {"n": len(keys), "p50": round(pct(keys, 0.5), 1), "p99": round(pct(keys, 0.99), 1),
                       "max": round(max(keys, default=float("nan")), 1)},
            "recent_chars": chars_seen, "worst_lags_at_s": worst_at,
        }
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- 2. a big database ---------------------------------------------------------------------------------

def build_big_db(path: Path, n_samples: int, samples_per_case: int = 10) -> str:
    """One complete run: n_samples / samples_per_case cases with metadata, written in one transaction."""
    from tuieval.store import Store
    from tuieval.store.db import SAMPLE_COLUMNS

    rng = random.Random(7)
    n_cases = n_samples // samples_per_case
    store = Store(path)
    first = ["Ada", "Jonas", "Ségolène", "Bartłomiej", "Mary", "Søren", "Kwame", "Li"]
    last = ["Lovelace", "Berg", "Bézier", "Krzyżanowski", "Smith", "Østergaard", "Mensah", "Wei"]
    cases = []
    for i in range(n_cases):
        name = f"{rng.choice(first)} {rng.choice(last)}"
        length = rng.choice(["short", "medium", "long"])
        text = ("Filler sentence about the agenda. " * {"short": 1, "medium": 6, "long": 30}[length]
                + f"The report was written by {name}.")
        cases.append({"case_id": f"c{i:05d}", "position": i, "vars": {"text": text}, "targets": [name],
                      "metadata": {"length": length, "region": rng.choice(["eu", "us", "apac", "latam"]),
                                   "source": rng.choice(["email", "minutes", "ticket"])},
                      "input_text": text})
    config = {"templates": [{"id": "direct", "prompt": "{{ text }}", "system": None, "messages_var": None}],
              "scorers": ["normalized"], "gates": [], "variance": {"method": "canonical"}}
    run_id = store.create_run({"suite": "big", "model": "demo/steady", "simulated": 1,
                               "samples_per_case": samples_per_case, "temperature": 0.7, "slo_ms": 600.0,
                               "n_cases": n_cases, "n_templates": 1, "n_expected": n_cases * samples_per_case,
                               "status": "complete", "config": config}, cases)
    rows = []
    order = list(range(n_cases * samples_per_case))
    rng.shuffle(order)
    for ci, case in enumerate(cases):
        target = case["targets"][0]
        p = {"short": 0.95, "medium": 0.9, "long": 0.7}[case["metadata"]["length"]]
        for s in range(samples_per_case):
            ok = rng.random() < p
            answer = target if ok else rng.choice([target.split()[0], "I am not sure.", f"{target}son"])
            lat = 80 * math.exp(rng.gauss(0, 0.5)) * (20 if rng.random() < 0.01 else 1)
            rows.append({"run_id": run_id, "case_id": case["case_id"], "template": "direct", "sample_index": s,
                         "dispatch_order": order[ci * samples_per_case + s],
                         "prompt": json.dumps([{"role": "user", "content": case["input_text"]}]),
                         "response": answer, "extracted": answer.lower(), "correct": int(ok), "score": float(ok),
                         "latency_ms": lat, "ttft_ms": lat * 0.4, "output_tokens": 4, "input_tokens": 40,
                         "finish_reason": "stop", "attempts": 1, "created_at": "2026-01-01T00:00:00+00:00"})
    with store._transaction():
        store.conn.executemany(
            f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}) VALUES ({', '.join('?' * len(SAMPLE_COLUMNS))})",
            [[r.get(c) for c in SAMPLE_COLUMNS] for r in rows])
    store.set_status(run_id, "complete")
    store.close()
    return run_id


async def bench_open(n_samples: int) -> dict:
    from textual.widgets import DataTable

    from tuieval.tui import data
    from tuieval.tui.app import make_app

    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    db = tmp / "big.db"
    t = time.perf_counter()
    run_id = build_big_db(db, n_samples)
    build_s = time.perf_counter() - t
    size_mb = os.path.getsize(db) / 1e6

    t = time.perf_counter()
    data.load_run_data(str(db), run_id)
    load_cold_s = time.perf_counter() - t
    t = time.perf_counter()
    data.load_run_data(str(db), run_id)
    load_warm_s = time.perf_counter() - t

    app = make_app([], str(db), show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        ready = asyncio.Event()
        # woken by the app's own signal rather than by polling, which would steal the GIL
        # from the analysis thread and slow down what is being measured
        app.run_changed.subscribe(app.screen, lambda rid: ready.set() if app.run_data(rid) else None)
        t = time.perf_counter()
        app.open_run(run_id)
        await asyncio.wait_for(ready.wait(), 60)
        await pilot.pause()  # the filled table's first paint
        open_s = time.perf_counter() - t
        screen = app.screen
        assert getattr(screen, "mode", None) == "report"
        rows = screen.query_one("#sb-table", DataTable).row_count
    return {"samples": n_samples, "db_mb": round(size_mb, 1), "build_db_s": round(build_s, 1),
            "load_run_data_s": {"first": round(load_cold_s, 3), "again": round(load_warm_s, 3)},
            "open_to_filled_scoreboard_s": round(open_s, 3), "scoreboard_rows": rows}


# -- 3. first visits ---------------------------------------------------------------------------------

def _env(src: str | None) -> dict[str, str]:
    """The environment of a child: with `src`, the tuieval of that source tree comes first on the path."""
    env = dict(os.environ, TUIEVAL_DEMO_SPEED="0")
    env.pop("TUIEVAL_BENCH_SRC", None)
    if src:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
        env["TUIEVAL_BENCH_SRC"] = src
    return env


def build_demo_db(path: Path, src: str | None = None) -> list[str]:
    """The two demo runs, as `tuieval run … --model demo/…` writes them, with their reports stored."""
    env = _env(src)
    ids = []
    for model in ("demo/steady", "demo/brittle"):
        out = subprocess.run([sys.executable, "-m", "tuieval", "run", str(ROOT / "sample_suites" / "extraction.yaml"),
                              "--model", model, "--db", str(path), "-q"], capture_output=True, text=True, env=env,
                             cwd=ROOT)
        ids.append(out.stdout.strip().splitlines()[-1])
    return ids


async def bench_first_visit(db: Path, ids: list[str], until: str = "frame") -> dict:
    from textual import events
    from textual.worker import WorkerCancelled

    from tuieval.tui.app import make_app

    # the heap frozen after start-up, as `tuieval` runs the app (run_app)
    app = make_app([str(ROOT / "sample_suites" / "extraction.yaml"), str(ROOT / "sample_suites" / "qa.yaml")],
                   str(db), show_welcome=False, freeze_startup_heap=True)
    timings: dict[str, float | None] = {}
    # the visit's readiness test, checked at the end of every frame the compositor renders
    # (headless, a frame is rendered and not written): the first frame rendered while it holds
    # showed the headline content
    waiting: dict[str, Any] = {"ready": None, "at": None, "cpu": None}
    display = app._display

    def displayed(screen, renderable) -> None:
        display(screen, renderable)
        if (renderable is not None and not app._batch_count and waiting["ready"] is not None
                and waiting["at"] is None and waiting["ready"]()):
            waiting["at"], waiting["cpu"] = time.perf_counter(), time.process_time()

    app._display = displayed
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()

        async def visit(name: str, keys: list[str], ready) -> None:
            t = time.perf_counter()
            c = time.process_time()  # CPU of every thread of this process: less at the mercy of other load
            waiting.update(ready=ready if until == "frame" else None, at=None)
            for key in keys:
                event = events.Key(key, None)
                event.set_sender(app)
                app._driver.send_message(event)  # as the terminal driver would
            while not (waiting["at"] if until == "frame" else ready()):
                if time.perf_counter() - t > 10:  # never got there (e.g. a key that did nothing)
                    timings[name] = None
                    waiting["ready"] = None
                    return
                await asyncio.sleep(0.002)
            waiting["ready"] = None
            if until == "frame":
                end, cpu = waiting["at"], waiting["cpu"]
            else:
                # the first rounds of this benchmark: until the process is idle (Pilot.pause), which
                # also counted the threads still working after the content was shown
                await pilot.pause()
                end, cpu = time.perf_counter(), time.process_time()
            timings[name] = round((end - t) * 1000, 1)
            timings[f"{name} [CPU]"] = round((cpu - c) * 1000, 1)
            # what the visit left running finishes before the next key (not timed)
            await pilot.pause()
            try:
                await app.workers.wait_for_complete()
            except WorkerCancelled:  # an exclusive poll superseded by a newer one
                pass
            await pilot.pause()

        def screen_is(name: str):
            return lambda: type(app.screen).__name__ == name and app.screen.is_mounted

        def table_filled(name: str, table: str):
            def ready() -> bool:
                if not screen_is(name)():
                    return False
                found = app.screen.query(table)
                return bool(found) and found.first().row_count > 0
            return ready

        await visit("live (2)", ["2"], screen_is("LiveScreen"))
        await visit("runs (3)", ["3"], table_filled("RunsScreen", "#runs-table"))
        await visit("scoreboard (enter)", ["enter"], lambda: table_filled("ScoreboardScreen", "#sb-table")()
                    and getattr(app.screen, "mode", "") == "report")
        await visit("slice cases (enter)", ["down", "enter"], table_filled("SliceCasesScreen", "#cases-table"))
        await visit("inspector (enter)", ["enter"], lambda: screen_is("InspectorScreen")()
                    and getattr(app.screen, "detail", None) is not None)
        await visit("suites (1)", ["1"], table_filled("SuitesScreen", "#case-table"))
        await visit("run form (n)", ["n"], screen_is("RunFormScreen"))
        await visit("back (escape)", ["escape"], screen_is("SuitesScreen"))
        await visit("help (?)", ["question_mark"], screen_is("HelpScreen"))
        await visit("close help (escape)", ["escape"], screen_is("SuitesScreen"))
        await visit("runs again (3)", ["3"], screen_is("RunsScreen"))
        # ready once the paired comparison is on screen (not the descriptive table shown before it)
        await visit("mark, compare (space down space c)", ["space", "down", "space", "c"],
                    lambda: table_filled("CompareScreen", "#cmp-table")() and getattr(app.screen, "_paired", False))
    return timings


def _copy_db(src: Path, dst: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        if Path(str(src) + suffix).exists():
            shutil.copy(str(src) + suffix, str(dst) + suffix)
    return dst


def first_visits(repeat: int, baseline_src: str | None = None, until: str = "frame") -> dict:
    """Median and max of `repeat` fresh processes per visit; with `baseline_src` (another source
    tree, e.g. an older commit's `git archive`), that tuieval too, its repetitions interleaved with
    these so both meet the same load, each on a database its own `tuieval run` wrote."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-tui-"))
    sides = {"this": None, **({"baseline": baseline_src} if baseline_src else {})}
    masters = {name: tmp / f"{name}.db" for name in sides}
    ids = {name: build_demo_db(masters[name], src) for name, src in sides.items()}
    runs: dict[str, list[dict]] = {name: [] for name in sides}

    def child(name: str, db: Path) -> dict:
        out = subprocess.run([sys.executable, __file__, "--first-visit-child", until, str(db), *ids[name]],
                             capture_output=True, text=True, cwd=ROOT, env=_env(sides[name]))
        if out.returncode != 0:
            raise SystemExit(out.stderr[-2000:])
        return json.loads(out.stdout.strip().splitlines()[-1])

    for i in range(repeat):
        for name in sides:
            # a fresh process each time: a first visit includes the imports and CSS it triggers;
            # and a fresh copy of the database as `tuieval run` left it, so nothing an earlier
            # repetition stored (a comparison) is found
            runs[name].append(child(name, _copy_db(masters[name], tmp / f"{name}-{i}.db")))
    # a later session on the last copy: what the first stored (the comparison) is read back
    later = {name: child(name, tmp / f"{name}-{repeat - 1}.db") for name in sides}
    result = {}
    for name in sides:
        out = {}
        for k in runs[name][0]:
            got = sorted(r[k] for r in runs[name] if r.get(k) is not None)
            out[k] = ({"median_ms": got[len(got) // 2], "max_ms": got[-1]} if len(got) == len(runs[name])
                      else {"median_ms": None, "note": f"not reached in {len(runs[name]) - len(got)} of "
                                                      f"{len(runs[name])} runs"})
        out["later session: mark, compare (comparison stored)"] = {
            "ms": later[name].get("mark, compare (space down space c)")}
        result[name] = out
    return result if baseline_src else result["this"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--streams", type=int, default=64)
    ap.add_argument("--rate", type=float, default=50.0, help="deltas per second per stream")
    ap.add_argument("--cases", type=int, default=256, help="answers to stream (4 waves of 64)")
    ap.add_argument("--deltas", type=int, default=150, help="deltas per answer (3 s at 50/s)")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--skip-stream", action="store_true")
    ap.add_argument("--skip-open", action="store_true")
    ap.add_argument("--first-visit-only", action="store_true")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--baseline-src", metavar="DIR",
                    help="first visits also with the tuieval in DIR (e.g. `git archive` of an older commit), "
                         "interleaved, side by side")
    ap.add_argument("--until", choices=("frame", "idle"), default="frame",
                    help="a first visit ends at the first frame painted with its headline content (frame), "
                         "or once the process is idle after it, as the first rounds measured (idle)")
    ap.add_argument("--first-visit-child", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.first_visit_child:
        until, db, *ids = args.first_visit_child
        print(json.dumps(asyncio.run(bench_first_visit(Path(db), ids, until))))
        return
    if args.first_visit_only:
        print(json.dumps(first_visits(args.repeat, args.baseline_src, args.until), indent=2), flush=True)
        return
    out = {}
    if not args.skip_stream:
        out["streaming"] = asyncio.run(bench_streaming(args.streams, args.rate, args.cases, args.deltas))
        print(json.dumps(out["streaming"], indent=2), flush=True)
    if not args.skip_open:
        out["open"] = asyncio.run(bench_open(args.samples))
        print(json.dumps(out["open"], indent=2), flush=True)
    out["first_visit"] = first_visits(args.repeat, until=args.until)
    print(json.dumps(out["first_visit"], indent=2), flush=True)


if __name__ == "__main__":
    main()
