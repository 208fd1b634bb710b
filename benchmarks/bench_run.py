"""Whole-process cost of `tuieval run` against a minimal aiohttp loop doing the same requests.

2,000 requests at concurrency 64 against the loopback test server (50 ms before the first
byte), streamed and not. Each contender runs as its own process; wall time, CPU seconds and
peak RSS come from that process. Ratios are taken within one run of this script, because the
machine is shared and noisy.

    python benchmarks/bench_run.py [--requests 2000] [--concurrency 64] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

AIOHTTP_LOOP = textwrap.dedent("""
    import asyncio, json, sys, aiohttp
    url, n, conc, stream = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    async def main():
        sem = asyncio.Semaphore(conc)
        conn = aiohttp.TCPConnector(limit=conc)
        async with aiohttp.ClientSession(connector=conn) as s:
            async def one(i):
                body = {"model": "m", "messages": [{"role": "user", "content": f"<<tok{i}>>"}], "stream": stream}
                async with sem:
                    async with s.post(url + "/chat/completions", json=body) as r:
                        if stream:
                            text = []
                            async for line in r.content:
                                if line.startswith(b"data: {"):
                                    d = json.loads(line[6:])
                                    if d.get("choices"):
                                        text.append(d["choices"][0]["delta"].get("content") or "")
                        else:
                            (await r.json())["choices"][0]["message"]["content"]
            await asyncio.gather(*(one(i) for i in range(n)))
    asyncio.run(main())
""")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": after.ru_maxrss / 1024}


def _write_suite(directory: Path, n: int) -> Path:
    lines = [
        "name: bench",
        "template: 'Say <<{{ token }}>>'",
        "scorers: [{type: regex, pattern: 'Answer: (\\w+)', then: exact}]",
        "cases:",
    ]
    lines += [f"  - {{id: c{i}, token: tok{i}, target: tok{i}}}" for i in range(n)]
    path = directory / "bench.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50)
    args = ap.parse_args()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.model_server", "--port", str(port),
                               "--latency-ms", str(args.latency_ms)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as tmp:
            suite = _write_suite(Path(tmp), args.requests)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "TUIEVAL_"))}
            rows = []
            for stream in (True, False):
                ref = _measure([sys.executable, "-c", AIOHTTP_LOOP, base, str(args.requests), str(args.concurrency),
                                "1" if stream else "0"])
                cmd = [sys.executable, "-m", "tuieval", "run", str(suite), "--model", "openai-compatible/bench",
                       "--base-url", base, "--concurrency", str(args.concurrency), "--quiet",
                       "--db", str(Path(tmp) / f"bench-{stream}.db")]
                if not stream:
                    cmd.append("--no-stream")
                ours = _measure(cmd, env)
                rows.append((stream, ref, ours))
    finally:
        server.terminate()
        server.wait()
    n = args.requests
    print(f"{n} requests, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms")
    print(f"{'mode':<10} {'aiohttp wall':>12} {'tuieval wall':>12} {'ratio':>6} {'CPU s/1k (aiohttp)':>19} "
          f"{'CPU s/1k (tuieval)':>19} {'peak RSS MB':>12}")
    for stream, ref, ours in rows:
        print(f"{'stream' if stream else 'no-stream':<10} {ref['wall_s']:>12.2f} {ours['wall_s']:>12.2f} "
              f"{ours['wall_s'] / ref['wall_s']:>6.2f} {ref['cpu_s'] / n * 1000:>19.2f} "
              f"{ours['cpu_s'] / n * 1000:>19.2f} {ours['peak_rss_mb']:>12.0f}")


if __name__ == "__main__":
    main()
