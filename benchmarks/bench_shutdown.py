"""Time from SIGTERM (or SIGINT) to process exit for `tuieval run`, under the worst mix.

The loopback server answers 15% of requests 429 (Retry-After 1 s), cuts 30% of streams,
fails 5% with 500 and closes every body 3 s after its last event. Each trial starts a run,
waits until a 429 was served (so some sample is waiting out its Retry-After), sends the
signal and measures until the process has exited; exit status and the run's status are
checked. Usage: python benchmarks/bench_shutdown.py [--trials 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> None:
    from tests.support.model_server import ModelServer
    from tests.support.suites import write_echo_suite

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    times, bad = [], []
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
    with tempfile.TemporaryDirectory() as tmp, ModelServer() as server:
        suite = write_echo_suite(Path(tmp), 300)
        for trial in range(args.trials):
            server.reset()
            server.configure(seed=trial, p_429=0.15, retry_after="1", p_cut=0.30, p_500=0.05, slow_close_ms=3000,
                             latency_ms=20)
            db = Path(tmp) / f"t{trial}.db"
            proc = subprocess.Popen([sys.executable, "-m", "tuieval", "run", str(suite), "--model",
                                     "openai-compatible/echo", "--base-url", server.openai_base_url,
                                     "--concurrency", "8", "--db", str(db), "--quiet"],
                                    cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while server.status_counts[429] == 0 and proc.poll() is None:
                time.sleep(0.005)
            sig = signal.SIGTERM if trial % 2 == 0 else signal.SIGINT
            t0 = time.perf_counter()
            proc.send_signal(sig)
            try:
                code = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                code = None
            times.append(time.perf_counter() - t0)
            with sqlite3.connect(db) as conn:
                status = conn.execute("SELECT status FROM runs").fetchone()[0]
            if code != 130 or status != "partial":
                bad.append((trial, code, status))
    times.sort()
    print(f"{args.trials} trials: exit after signal median {times[len(times) // 2]:.2f} s, "
          f"max {times[-1]:.2f} s; not (130, partial): {bad or 'none'}")


if __name__ == "__main__":
    main()
