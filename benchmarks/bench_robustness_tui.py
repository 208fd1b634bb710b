"""First visits to the robustness views of the app, timed from the key to the painted content.

    python benchmarks/bench_robustness_tui.py [--repeat 3] [--limit N]

Builds demo/fragile on the hidden-variables suite with typo copies at three rates and the
distractor padding (`tuieval run … --perturb typos:0.05,typos:0.2,typos:0.5,distractors:1`), with its
report stored, then in a fresh process per repetition opens the run's scoreboard and visits, in a
user's order: a slice's cases and back (the reference: screens the app already had), Robustness (`r`), the pairs of its first row (Enter, until the pair is painted), back,
the extractor list (`x`), the inspector of its first sample (Enter, until the extractor readings
are in), back to the scoreboard, and the template pivot (`t`, until its cells are in). Prints the
median and maximum per visit, in ms, as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PERTURB = "typos:0.05,typos:0.2,typos:0.5,distractors:1"


def build_db(path: Path, limit: int | None) -> str:
    env = dict(os.environ, TUIEVAL_DEMO_SPEED="0")
    cmd = [sys.executable, "-m", "tuieval", "run", str(ROOT / "sample_suites" / "hidden_variables.yaml"),
           "--model", "demo/fragile", "--perturb", PERTURB, "--db", str(path), "-q"]
    if limit:
        cmd += ["--limit", str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    return out.stdout.strip().splitlines()[-1]


async def visits(db: str, run_id: str) -> dict:
    from textual import events

    from tuieval.tui.app import make_app

    app = make_app([str(ROOT / "sample_suites" / "hidden_variables.yaml")], db, show_welcome=False)
    timings: dict[str, float | None] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.open_run(run_id)
        while not (type(app.screen).__name__ == "ScoreboardScreen" and getattr(app.screen, "mode", "") == "report"):
            await asyncio.sleep(0.005)
        await app.workers.wait_for_complete()
        await pilot.pause()

        async def visit(name: str, keys: list[str], ready) -> None:
            t = time.perf_counter()
            for key in keys:
                event = events.Key(key, None)
                event.set_sender(app)
                app._driver.send_message(event)  # as the terminal driver would
            while not ready():
                if time.perf_counter() - t > 10:
                    timings[name] = None
                    return
                await asyncio.sleep(0.002)
            await pilot.pause()  # the frame with the content
            timings[name] = round((time.perf_counter() - t) * 1000, 1)

        def on(name: str):
            return lambda: type(app.screen).__name__ == name and app.screen.is_mounted

        def rows(name: str, table: str):
            return lambda: on(name)() and bool(app.screen.query(table)) and app.screen.query_one(table).row_count > 0

        # the reference, measured beside them: a screen of the same kind the app already had
        await visit("reference: slice cases (enter)", ["enter"], rows("SliceCasesScreen", "#cases-table"))
        await visit("reference: back (escape)", ["escape"], on("ScoreboardScreen"))
        await visit("robustness (r)", ["r"], rows("RobustnessScreen", "#rb-table"))
        await visit("pairs (enter)", ["enter"], lambda: rows("PerturbedCasesScreen", "#pairs-table")()
                    and bool(app.screen.details))
        await visit("back (escape)", ["escape"], on("RobustnessScreen"))
        await visit("extractors (x)", ["x"], rows("ExtractorsScreen", "#ex-samples"))
        await visit("inspector + extractor panel (enter)", ["enter"], lambda: on("InspectorScreen")()
                    and app.screen.detail is not None and app.screen._readings is not None)
        await visit("back to the scoreboard (escape ×3)", ["escape", "escape", "escape"], on("ScoreboardScreen"))
        await visit("template pivot (t)", ["t"], lambda: on("ScoreboardScreen")()
                    and app.screen.pivot_cells is not None and "t0" in app.screen.query_one("#sb-table").shown_columns)
    return timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--limit", type=int, default=None, help="original cases (default: all 60)")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(visits(*args.child))))
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-robust-"))
    db = tmp / "robust.db"
    run_id = build_db(db, args.limit)
    subprocess.run([sys.executable, "-m", "tuieval", "report", run_id, "--db", str(db)], capture_output=True, cwd=ROOT)
    runs = []
    for _ in range(args.repeat):
        # a fresh process each time: a first visit includes the imports and CSS it triggers
        out = subprocess.run([sys.executable, __file__, "--child", str(db), run_id], capture_output=True, text=True,
                             cwd=ROOT)
        if out.returncode != 0:
            raise SystemExit(out.stderr[-2000:])
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    result = {}
    for k in runs[0]:
        got = sorted(r[k] for r in runs if r.get(k) is not None)
        result[k] = ({"median_ms": got[len(got) // 2], "max_ms": got[-1]} if len(got) == len(runs)
                     else {"median_ms": None, "note": f"not reached in {len(runs) - len(got)} of {len(runs)} runs"})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
