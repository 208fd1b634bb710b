"""Throughput of a whole engine run under 429s: transient ones, and a token-bucket server.

Each scenario starts the loopback server (``python -m tests.support.model_server``) as its own
process and runs the real engine (adaptive limiter, retries, back-off, SQLite store) against it,
in this process: N one-sample cases at concurrency C, streaming.

Scenarios (run side by side, so ratios come from one run on one machine):
  no-fault     plain server                                     → T0
  transient    p_429 share of requests answered 429, Retry-After 1 s, not tied to load
  bucket       token bucket of R requests/s (burst B); 429 + Retry-After beyond it
  bucket+hdr   the same, with x-ratelimit-remaining-requests / -reset-requests headers

Reported per scenario: wall s, successes/s (over the whole run, and over the first 90% of
samples: the steady state, without the tail that the last 429's Retry-After adds), retries,
errors stored, the longest gap
between two finished samples (a stall), and the concurrency limit at the end.
Usage: python benchmarks/bench_limiter.py [--requests 500] [--concurrency 32] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _start(args: list[str]) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.model_server", "--port", "0", *args],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"model server did not start (got {url!r})")
    return proc, url


def _run(url: str, n: int, conc: int, tmp: Path, name: str) -> dict:
    from tests.support.suites import write_echo_suite
    from tuieval.backends.base import Timeouts
    from tuieval.backends.registry import create_backend
    from tuieval.engine import Engine, RunOptions, SampleFinished
    from tuieval.store import Store
    from tuieval.suite import load_suite

    suite = load_suite(write_echo_suite(tmp, n, name=name))
    timeouts = Timeouts(connect=10, read=30, total=60)
    backend = create_backend("openai-compatible/bench", base_url=url + "/v1", timeouts=timeouts,
                             max_connections=max(conc, 10))
    store = Store(tmp / f"{name}.db")
    options = RunOptions(model="openai-compatible/bench", concurrency=conc, timeouts=timeouts)
    finished_at: list[float] = []

    def on_event(event) -> None:
        if isinstance(event, SampleFinished):
            finished_at.append(time.perf_counter())

    engine = Engine(store, backend, on_event)
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    t0 = time.perf_counter()
    done = asyncio.run(go())
    wall = time.perf_counter() - t0
    samples = store.get_samples(run_id)
    ok = sum(s["error"] is None for s in samples)
    gaps = [b - a for a, b in zip([t0, *finished_at], finished_at)]
    # Steady state: the time to finish 90% of the samples (a 429 near the end adds its whole
    # Retry-After to the wall time whatever the limiter does).
    t90 = finished_at[int(0.9 * len(finished_at)) - 1] - t0 if finished_at else wall
    return {"wall_s": wall, "ok90_per_s": 0.9 * n / t90, "ok": ok, "errors": done.n_errors, "ok_per_s": ok / wall, "retries": engine.n_retries,
            "max_gap_s": max(gaps) if gaps else 0.0, "final_limit": engine.limiter.limit if engine.limiter else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--p-429", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=50.0, help="token bucket: requests/s")
    parser.add_argument("--burst", type=float, default=5.0, help="token bucket: capacity")
    args = parser.parse_args()
    if not 0 < args.requests <= 5000:
        raise SystemExit("--requests must be in 1..5000")
    lat = ["--latency-ms", str(args.latency_ms)]
    bucket = ["--bucket-rate", str(args.rate), "--bucket-capacity", str(args.burst)]
    scenarios = [
        ("no-fault", lat),
        ("transient", lat + ["--p-429", str(args.p_429), "--retry-after", "1", "--seed", "7"]),
        ("bucket", lat + bucket),
        ("bucket+hdr", lat + bucket + ["--ratelimit-headers"]),
    ]
    rows = []
    with tempfile.TemporaryDirectory() as tmpdir:
        for name, server_args in scenarios:
            server, url = _start(server_args)
            try:
                rows.append((name, _run(url, args.requests, args.concurrency, Path(tmpdir), name.replace("+", "_"))))
            finally:
                server.terminate()
                server.wait(10)
    base = rows[0][1]
    print(f"{args.requests} requests, concurrency {args.concurrency}, latency {args.latency_ms:g} ms, "
          f"transient 429 share {args.p_429:g} (Retry-After 1 s), bucket {args.rate:g}/s burst {args.burst:g}, "
          f"Python {sys.version.split()[0]}")
    print(f"{'scenario':11} {'wall s':>7} {'ok/s':>7} {'vs no-fault':>11} {'90% ok/s':>9} {'vs no-fault':>11} "
          f"{'vs R':>6} {'errors':>6} {'retries':>7} {'max gap s':>9} {'limit':>5}")
    for name, r in rows:
        vs_r = f"{r['ok_per_s'] / args.rate:6.2f}" if name.startswith("bucket") else "     -"
        print(f"{name:11} {r['wall_s']:7.2f} {r['ok_per_s']:7.1f} {r['ok_per_s'] / base['ok_per_s']:11.2f} "
              f"{r['ok90_per_s']:9.1f} {r['ok90_per_s'] / base['ok90_per_s']:11.2f} {vs_r} "
              f"{r['errors']:6d} {r['retries']:7d} {r['max_gap_s']:9.2f} {r['final_limit']:5d}")


if __name__ == "__main__":
    main()
