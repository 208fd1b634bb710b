"""`tuieval run`'s start-up, side by side with another source tree: cold start and what is imported
before the first request.

    python benchmarks/bench_startup.py [--before DIR] [--repeats 9] [--importtime 3]

**Cold start** — a one-case suite, not streamed, against a one-shot listener in this script (as
in ``bench_run.py``, whose listener and suite writer are reused). For every process: the wall
from spawning it to the first request's bytes arriving at the listener, the CPU seconds the
process had used when it opened that request's socket (all its threads, read inside it by a
probe that wraps ``socket.connect``), and the CPU of the whole process, spawn to exit
(getrusage). The minimal aiohttp loop of ``bench_run.py`` is measured the same way. The
contenders alternate, the order turned round every repetition (loop, this, before; before, this,
loop; …); medians.

**Imports** — the same process under ``python -X importtime``: the self time of every module
imported before the first request (the probe writes a marker line to stderr on the first
connect), summed by group, medians of ``--importtime`` runs per tree. importtime's own clock
inflates small modules, so read the groups against each other, not as CPU seconds.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_run import AIOHTTP_LOOP, FirstRequestListener, _write_suite  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: Runs argv[1:] as ``python -m tuieval …`` (or ``-c CODE …``); on the first socket connect it
#: writes "cpu_s" (the process's CPU so far) to $PROBE_OUT and, with $PROBE_MARK, a marker line
#: to stderr for -X importtime.
PROBE = """
import os, socket, sys, time, runpy
_connect = socket.socket.connect
_seen = []
def connect(self, *a):
    if not _seen:
        _seen.append(1)
        cpu = time.process_time()
        if os.environ.get("PROBE_MARK"):
            os.write(2, b"=== FIRST CONNECT ===\\n")
        with open(os.environ["PROBE_OUT"], "w") as f:
            f.write(repr(cpu))
    return _connect(self, *a)
socket.socket.connect = connect
if sys.argv[1] == "-c":
    code = sys.argv[2]; sys.argv = ["-c"] + sys.argv[3:]
    exec(compile(code, "<loop>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = ["tuieval"] + sys.argv[3:]
    runpy.run_module("tuieval", run_name="__main__", alter_sys=True)
"""

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def _child(args: list[str], env: dict[str, str], cwd: Path, listener: FirstRequestListener | None,
           probe_out: Path, importtime: bool = False) -> dict:
    cmd = [sys.executable] + (["-X", "importtime"] if importtime else []) + ["-c", PROBE] + args
    run_env = dict(env, PROBE_OUT=str(probe_out), **({"PROBE_MARK": "1"} if importtime else {}))
    if listener is not None:
        listener.arrived = None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=run_env, cwd=cwd)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1) or (listener is not None and listener.arrived is None):
        raise SystemExit(f"{args[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = {"cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
           "cpu_to_first_s": float(probe_out.read_text())}
    if listener is not None:
        out["first_s"] = listener.arrived - t0
    if importtime:
        out["stderr"] = proc.stderr
    return out


def _before_first(stderr: str) -> list[tuple[str, int]]:
    """(module, self µs) of every module imported before the marker line."""
    rows = []
    for line in stderr.splitlines():
        if line.startswith("=== FIRST"):
            break
        m = _LINE.match(line)
        if m:
            rows.append((m.group(4), int(m.group(1))))
    return rows


def _group(module: str, loop_modules: set[str]) -> str:
    root = module.split(".")[0]
    if root == "tuieval":
        return "tuieval's own modules"
    if root in ("click", "yaml", "sqlite3", "_sqlite3", "numpy"):
        return {"_sqlite3": "sqlite3"}.get(root, root)
    if module in loop_modules:
        return "what the aiohttp loop imports too (interpreter, asyncio, aiohttp)"
    return "other standard-library and third-party modules"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", metavar="DIR", default=None,
                    help="another tuieval source tree (an older commit's `git archive`), measured side by side")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--importtime", type=int, default=3, help="runs per tree under -X importtime (0: none)")
    args = ap.parse_args()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "TUIEVAL_")) and k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"this": ROOT}
    if args.before:
        trees["before"] = Path(args.before).resolve()
    for root in trees.values():  # byte-compiled, as an installed package is
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "tuieval")], cwd=root, env=env,
                       check=True)
    load_before = os.getloadavg()
    listener = FirstRequestListener()
    got: dict[str, list[dict]] = {"aiohttp loop": []}
    imports: dict[str, list[list[tuple[str, int]]]] = {label: [] for label in trees}
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            suite = _write_suite(tmp, 1)
            probe_out = tmp / "probe"
            contenders = [("aiohttp loop", ["-c", AIOHTTP_LOOP, listener.url, "1", "1", "0"], env, ROOT)]
            for label, root in trees.items():
                got[label] = []
                contenders.append((label, None, dict(env, PYTHONPATH=str(root)), root))

            def tuieval_args(label: str, i: int, kind: str) -> list[str]:
                return ["-m", "tuieval", "run", str(suite), "--model", "openai-compatible/bench", "--base-url",
                        listener.url, "--concurrency", "1", "--quiet", "--no-stream", "--db",
                        str(tmp / f"{kind}-{label}-{i}.db")]

            for i in range(args.repeats):
                for label, cmd, cenv, root in (contenders if i % 2 == 0 else contenders[::-1]):
                    got[label].append(_child(cmd or tuieval_args(label, i, "cold"), cenv, root, listener, probe_out))
            loop_modules = {m for m, _ in _before_first(
                _child(contenders[0][1], env, ROOT, listener, probe_out, importtime=True)["stderr"])}
            for i in range(args.importtime):
                for label, cmd, cenv, root in (contenders[1:] if i % 2 == 0 else contenders[:0:-1]):
                    imports[label].append(_before_first(
                        _child(tuieval_args(label, i, "imp"), cenv, root, listener, probe_out, True)["stderr"]))
    finally:
        listener.close()
    load_after = os.getloadavg()

    print(f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after; medians of {args.repeats}")
    if args.before:
        print(f"before = {trees['before']}")
    labels = list(got)
    print(f"{'cold start, one request (s)':<44}" + "".join(f"{label:>14}" for label in labels))
    for key, name in (("first_s", "spawn → first request's bytes (wall)"),
                      ("cpu_to_first_s", "CPU up to the first request"),
                      ("cpu_s", "CPU of the whole process")):
        print(f"{name:<44}" + "".join(f"{statistics.median(r[key] for r in got[label]):>14.3f}" for label in labels))
    if not args.importtime:
        return
    print(f"\n-X importtime before the first request, self ms (median of {args.importtime})"
          + "".join(f"{label:>12}" for label in trees))
    groups = sorted({_group(m, loop_modules) for runs in imports.values() for run in runs for m, _ in run})
    for group in groups + ["total", "modules imported"]:
        cells = []
        for label in trees:
            per_run = []
            for run in imports[label]:
                if group == "modules imported":
                    per_run.append(len(run))
                else:
                    per_run.append(sum(us for m, us in run if group == "total" or _group(m, loop_modules) == group)
                                   / 1000)
            cells.append(statistics.median(per_run))
        print(f"{group:<70}" + "".join(f"{c:>12.1f}" for c in cells))


if __name__ == "__main__":
    main()
