"""CPU per request of the OpenAI backend alone, against the minimal aiohttp loop of bench_run.py.

``bench_run.py`` times whole ``tuieval run`` processes; this isolates the backend's share: a
child process sends N chat requests at concurrency C to the loopback test server
(``python -m tests.support.model_server``, its own process), and the child's CPU seconds
(``time.process_time``) are measured around the request loop only — no imports, no suite, no
store. Contenders, each its own child, alternating within every repetition (loop, tuieval,
before, loop, tuieval, before, ...), medians compared:

* ``loop``    — bench_run.py's aiohttp loop, the same request and parsing (``AIOHTTP_LOOP``);
* ``tuieval`` — ``OpenAIBackend.complete`` over ``make_pool`` (what ``tuieval run`` sends
  through), driven by a semaphore, the request built by the engine's ``chat_request`` shape
  (messages, temperature, seed, hint); every answer checked;
* ``before``  — the same code from another source tree (``--before DIR``, a ``git archive``).

``--profile FILE`` instead runs the tuieval contender once under cProfile with
``time.process_time`` as its clock and writes the stats to FILE (read it with ``pstats``).

    python benchmarks/bench_backend.py [--requests 4000] [--concurrency 64] [--latency-ms 50]
        [--repeats 5] [--modes stream,no-stream] [--before DIR] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_run import AIOHTTP_LOOP  # noqa: E402  (the one minimal loop, shared with bench_run)


async def _run_tuieval(url: str, n: int, conc: int, stream: bool) -> list[str]:
    from tuieval.backends.base import ChatRequest
    from tuieval.backends.http import make_pool
    from tuieval.backends.openai import OpenAIBackend
    from tuieval.cli import timeouts_from_flags  # imported by worker() before the clock

    timeouts = timeouts_from_flags(None, None, None)  # `tuieval run`'s defaults (read = total)
    backend = OpenAIBackend("openai-compatible/bench", "bench", url, None, make_pool(timeouts, conc), timeouts)
    sem = asyncio.Semaphore(conc)

    async def one(i: int) -> str:
        request = ChatRequest(messages=[{"role": "user", "content": f"Say <<tok{i}>>"}], temperature=0.0,
                              max_tokens=None, seed=None, stream=stream,
                              hint={"case_id": f"c{i}", "template": "default", "sample_index": 0})
        async with sem:
            return (await backend.complete(request)).text

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await backend.aclose()


def _run_loop(url: str, n: int, conc: int, stream: bool) -> None:
    """bench_run's loop as it is, run in this process (worker imported aiohttp before the clock)."""
    argv = sys.argv
    sys.argv = ["loop", url, str(n), str(conc), "1" if stream else "0"]
    try:
        exec(_LOOP_CODE, {"__name__": "__main__"})
    finally:
        sys.argv = argv


_LOOP_CODE = compile(AIOHTTP_LOOP, "<bench_run AIOHTTP_LOOP>", "exec")


def worker(contender: str, url: str, n: int, conc: int, stream: bool, profile: str | None,
           sample: str | None) -> None:
    # Imports before the clock, for both: only the requests are timed.
    import aiohttp  # noqa: F401

    if contender == "tuieval":
        import tuieval.backends.http  # noqa: F401
        import tuieval.backends.openai  # noqa: F401
        import tuieval.cli  # noqa: F401
    prof = sampler = None
    if profile:
        import cProfile

        prof = cProfile.Profile(time.process_time)
        prof.enable()
    if sample:
        from sampler import Sampler

        sampler = Sampler().__enter__()
    cpu0, t0 = time.process_time(), time.perf_counter()
    if contender == "loop":
        _run_loop(url, n, conc, stream)
        wrong = 0
    else:
        texts = asyncio.run(_run_tuieval(url, n, conc, stream))
        wrong = sum(t != f"Answer: tok{i}" for i, t in enumerate(texts))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if sampler is not None:
        sampler.__exit__()
        sampler.dump(sample)
    if prof is not None:
        prof.disable()
        prof.dump_stats(profile)
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "wrong": wrong}))


def _child(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, float]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[:3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["wrong"]:
        raise SystemExit(f"{cmd[:3]}: {out['wrong']} wrong answers")
    return out


def _start_server(latency_ms: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.model_server", "--host", "127.0.0.1",
                             "--port", "0", "--latency-ms", str(latency_ms)],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"model server did not start (got {url!r})")
    return proc, url + "/v1"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=4000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--modes", default="stream,no-stream")
    ap.add_argument("--before", metavar="DIR", default=None, help="another tuieval source tree, measured alongside")
    ap.add_argument("--profile", metavar="FILE", default=None,
                    help="cProfile one tuieval run per mode instead (FILE.MODE)")
    ap.add_argument("--sample", metavar="FILE", default=None,
                    help="sample (sampler.py) --repeats runs of the loop, tuieval (and --before) per mode "
                         "instead, alternating (FILE.CONTENDER.MODE.N.json)")
    ap.add_argument("--worker", metavar="URL", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--contender", default="tuieval", help=argparse.SUPPRESS)
    ap.add_argument("--stream", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.contender, args.worker, args.requests, args.concurrency, args.stream, args.profile,
               args.sample)
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUIEVAL_", "HTTP_PROXY", "HTTPS_PROXY"))}
    trees = {"tuieval": REPO}
    if args.before:
        trees["before"] = Path(args.before).resolve()
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    load_before = os.getloadavg()
    server, url = _start_server(args.latency_ms)

    def child(contender: str, root: Path, stream: bool, *extra: str) -> dict[str, float]:
        return _child([sys.executable, str(REPO / "benchmarks" / "bench_backend.py"), "--worker", url,
                       "--contender", contender, "--requests", str(args.requests),
                       "--concurrency", str(args.concurrency), *extra] + (["--stream"] if stream else []),
                      dict(env, PYTHONPATH=str(root)), root)

    try:
        if args.profile or args.sample:
            for mode in modes:
                if args.profile:
                    child("tuieval", REPO, mode == "stream", "--profile", f"{args.profile}.{mode}")
                    print(f"profile written to {args.profile}.{mode}")
                for rep in range(args.repeats if args.sample else 0):
                    for contender, root in (("loop", REPO), *(("tuieval" if label == "tuieval" else label, root)
                                                              for label, root in trees.items())):
                        path = f"{args.sample}.{contender}.{mode}.{rep}.json"
                        child("loop" if contender == "loop" else "tuieval", root, mode == "stream", "--sample", path)
                        print(f"samples written to {path}")
            return
        got: dict[tuple[str, str], list[dict[str, float]]] = {}
        for _ in range(args.repeats):
            for mode in modes:
                stream = mode == "stream"
                got.setdefault((mode, "loop"), []).append(child("loop", REPO, stream))
                for label, root in trees.items():
                    got.setdefault((mode, label), []).append(child("tuieval", root, stream))
    finally:
        server.terminate()
        server.wait(10)
    load_after = os.getloadavg()
    print(f"{args.requests} requests, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms, "
          f"medians of {args.repeats}; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.before:
        print(f"before = {trees['before']}")
    # Paired: each repetition's contenders ran one after another, so a ratio within a repetition
    # cancels most of the load's drift between repetitions.
    print(f"{'mode':<10} {'contender':<9} {'CPU ms/req':>10} {'min':>6} {'max':>6} {'× loop':>7} "
          f"{'paired × loop (min–max)':>24} {'paired × before':>16} {'wall s':>7}")

    def paired(a: list[dict[str, float]], b: list[dict[str, float]]) -> str:
        ratios = [x["cpu_s"] / y["cpu_s"] for x, y in zip(a, b)]
        return f"{statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f})"

    for mode in modes:
        loop = statistics.median(r["cpu_s"] for r in got[(mode, "loop")])
        for label in ("loop", *trees):
            runs = got[(mode, label)]
            cpu = [r["cpu_s"] / args.requests * 1000 for r in runs]
            med = statistics.median(r["cpu_s"] for r in runs)
            vs_before = paired(runs, got[(mode, "before")]) if "before" in trees and label == "tuieval" else ""
            print(f"{mode:<10} {label:<9} {statistics.median(cpu):>10.3f} {min(cpu):>6.3f} {max(cpu):>6.3f} "
                  f"{med / loop:>7.2f} {paired(runs, got[(mode, 'loop')]):>24} {vs_before:>16} "
                  f"{statistics.median(r['wall_s'] for r in runs):>7.2f}")


if __name__ == "__main__":
    main()
