"""HTTP backend overhead: tuieval's OpenAIBackend vs a bare aiohttp loop vs plain httpx.

Starts the loopback test server (``python -m tests.support.model_server``) as its own
process with a fixed added latency, then runs each client variant in its own
subprocess so that wall time, CPU seconds and peak RSS belong to that client alone
(``os.wait4`` gives each child's own rusage; the server is never counted).

Variants, each sending the same N chat requests at concurrency C, streaming or not:
  tuieval  OpenAIBackend over make_client() (httpx API on aiohttp's pool), Semaphore loop
  aiohttp  a minimal aiohttp.ClientSession loop: read the body / iterate lines, json.loads
  httpx    plain httpx.AsyncClient with its default transport, same parsing

Only 127.0.0.1; request counts are bounded. Usage:
  python benchmarks/bench_http.py [--requests 2000] [--concurrency 64] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VARIANTS = ("aiohttp", "tuieval", "httpx")
MODES = ("stream", "whole")
MAX_REQUESTS = 20_000


def _messages(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"What is the key? <<k{i}>>"}]


def _payload(i: int, stream: bool) -> dict:
    body = {"model": "bench", "messages": _messages(i), "temperature": 0.0, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return body


def _content_of_sse_line(line: str, parts: list[str]) -> None:
    """The parsing every baseline does: data lines → JSON → choices[0].delta.content."""
    if line.startswith("data: ") and line != "data: [DONE]":
        chunk = json.loads(line[6:])
        for choice in chunk.get("choices") or ():
            content = choice.get("delta", {}).get("content")
            if content:
                parts.append(content)


async def _run_tuieval(url: str, n: int, conc: int, stream: bool) -> list[str]:
    sys.path.insert(0, str(REPO))
    from tuieval.backends.base import ChatRequest, Timeouts
    from tuieval.backends.http import make_client
    from tuieval.backends.openai import OpenAIBackend

    timeouts = Timeouts(connect=10, read=30, total=60)
    backend = OpenAIBackend("openai/bench", "bench", url + "/v1", None, make_client(timeouts, conc), timeouts)
    sem = asyncio.Semaphore(conc)

    async def one(i: int) -> str:
        async with sem:
            return (await backend.complete(ChatRequest(_messages(i), stream=stream))).text

    try:
        return await asyncio.gather(*(one(i) for i in range(n)))
    finally:
        await backend.aclose()


async def _run_aiohttp(url: str, n: int, conc: int, stream: bool) -> list[str]:
    import aiohttp

    sem = asyncio.Semaphore(conc)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=conc)) as session:

        async def one(i: int) -> str:
            async with sem:
                async with session.post(url + "/v1/chat/completions", json=_payload(i, stream)) as resp:
                    resp.raise_for_status()
                    if not stream:
                        return (await resp.json())["choices"][0]["message"]["content"]
                    parts: list[str] = []
                    async for raw in resp.content:
                        _content_of_sse_line(raw.decode().rstrip("\r\n"), parts)
                    return "".join(parts)

        return await asyncio.gather(*(one(i) for i in range(n)))


async def _run_httpx(url: str, n: int, conc: int, stream: bool) -> list[str]:
    import httpx

    sem = asyncio.Semaphore(conc)
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:

        async def one(i: int) -> str:
            async with sem:
                if not stream:
                    resp = await client.post(url + "/v1/chat/completions", json=_payload(i, stream))
                    resp.raise_for_status()
                    return resp.json()["choices"][0]["message"]["content"]
                async with client.stream("POST", url + "/v1/chat/completions", json=_payload(i, stream)) as resp:
                    resp.raise_for_status()
                    parts: list[str] = []
                    async for line in resp.aiter_lines():
                        _content_of_sse_line(line, parts)
                    return "".join(parts)

        return await asyncio.gather(*(one(i) for i in range(n)))


def worker(variant: str, mode: str, url: str, n: int, conc: int) -> None:
    run = {"tuieval": _run_tuieval, "aiohttp": _run_aiohttp, "httpx": _run_httpx}[variant]
    cpu0, t0 = time.process_time(), time.perf_counter()
    texts = asyncio.run(run(url, n, conc, mode == "stream"))
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    wrong = sum(t != f"Answer: k{i}" for i, t in enumerate(texts))
    print(json.dumps({"loop_wall_s": wall, "loop_cpu_s": cpu, "wrong": wrong}))


def _start_server(latency_ms: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.model_server", "--host", "127.0.0.1", "--port", "0",
         "--latency-ms", str(latency_ms)],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    url = proc.stdout.readline().strip()  # type: ignore[union-attr]
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"model server did not start (got {url!r})")
    return proc, url


def _measure(variant: str, mode: str, url: str, n: int, conc: int) -> dict:
    cmd = [sys.executable, __file__, "--worker", variant, "--mode", mode, "--url", url,
           "--requests", str(n), "--concurrency", str(conc)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()  # type: ignore[union-attr]
    # wait4: this child's own CPU and peak RSS, not the server's nor earlier children's.
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{variant}/{mode} failed with exit status {proc.returncode}")
    report = json.loads(out.strip().splitlines()[-1])
    return {
        "variant": variant,
        "mode": mode,
        "process_wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "max_rss_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        **report,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--worker", choices=VARIANTS)
    parser.add_argument("--mode", choices=MODES, default="stream")
    parser.add_argument("--url")
    args = parser.parse_args()
    if not 0 < args.requests <= MAX_REQUESTS:
        raise SystemExit(f"--requests must be in 1..{MAX_REQUESTS}")
    if args.worker:
        if not (args.url or "").startswith("http://127.0.0.1:"):
            raise SystemExit("--url must be a 127.0.0.1 address")
        worker(args.worker, args.mode, args.url, args.requests, args.concurrency)
        return

    server, url = _start_server(args.latency_ms)
    rows = []
    try:
        for mode in MODES:
            for variant in VARIANTS:
                rows.append(_measure(variant, mode, url, args.requests, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)

    print(f"{args.requests} requests, concurrency {args.concurrency}, server latency {args.latency_ms:g} ms, "
          f"Python {sys.version.split()[0]}")
    print(f"{'mode':7} {'client':8} {'loop wall s':>11} {'proc wall s':>11} {'CPU s':>7} {'loop CPU s':>10} "
          f"{'peak RSS MB':>11} {'CPU x':>6} {'loop CPU x':>10} {'RSS x':>6} {'wrong':>5}")
    for mode in MODES:
        base = next(r for r in rows if r["mode"] == mode and r["variant"] == "aiohttp")
        for r in (r for r in rows if r["mode"] == mode):
            print(f"{mode:7} {r['variant']:8} {r['loop_wall_s']:11.2f} {r['process_wall_s']:11.2f} "
                  f"{r['cpu_s']:7.2f} {r['loop_cpu_s']:10.2f} {r['max_rss_mb']:11.1f} "
                  f"{r['cpu_s'] / base['cpu_s']:6.2f} {r['loop_cpu_s'] / base['loop_cpu_s']:10.2f} "
                  f"{r['max_rss_mb'] / base['max_rss_mb']:6.2f} {r['wrong']:5d}")


if __name__ == "__main__":
    main()
