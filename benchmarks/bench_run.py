"""Whole-process cost of `tuieval run` against a minimal aiohttp loop doing the same requests.

Four configurations — 2,000 and 10,000 requests, streamed and not — at concurrency 64 against
the loopback test server (50 ms before the first byte). Each contender runs as its own process;
wall time and CPU seconds (getrusage of the children) come from that process. The two
contenders alternate within each repetition (aiohttp, tuieval, aiohttp, tuieval, ...) and the
medians of the repetitions are compared, because the machine is shared and noisy: only ratios
measured side by side in one run of this script mean anything.

Cold start, measured the same way (medians):

* ``first request``: from spawning the process to the first request's bytes arriving at a
  listener inside this script (interpreter start, imports, suite load, database, the backend
  client) — for `tuieval run` on a one-case suite and for the aiohttp loop with one request;
* ``--version`` and ``--help``: the whole process, start to exit;
* ``python -c pass``: the interpreter alone, the floor under all of them;
* ``1-request CPU``: the CPU seconds of that one-case process, spawn to exit (the run, its
  report, its exit too), which a loaded machine disturbs far less than any wall time.

tuieval's modules are byte-compiled first (``compileall``), as an installed package's are.

    python benchmarks/bench_run.py [--sizes 2000,10000] [--repeats 3] [--concurrency 64]
                                   [--latency-ms 50] [--only stream|no-stream] [--no-cold] [--cold-only]
                                   [--also DIR] [--old-loop]

``--also DIR`` measures a second tuieval source tree (an older commit's ``git archive``) in the
same repetitions, so a before/after comparison is side by side too.

The loop sends the request body tuieval sends for the bench suite (``"Say <<tokN>>"``, the
temperature and seed, and, streamed, ``stream_options: {"include_usage": true}``, which tuieval
asks for to price the request: the server then sends one more event per stream), so both ask the
server for the same work. Until 2026-12-02 it sent a shorter body without ``stream_options``;
``--old-loop`` measures that loop too, in the same repetitions, and prints the ratios to both.
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

AIOHTTP_LOOP = textwrap.dedent("""
    import asyncio, json, sys, aiohttp
    url, n, conc, stream = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    same = len(sys.argv) > 5 and sys.argv[5] == "same"
    async def main():
        sem = asyncio.Semaphore(conc)
        conn = aiohttp.TCPConnector(limit=conc)
        async with aiohttp.ClientSession(connector=conn) as s:
            async def one(i):
                if same:  # the body tuieval sends for the bench suite (its usage event included)
                    body = {"model": "bench", "messages": [{"role": "user", "content": f"Say <<tok{i}>>"}],
                            "temperature": 0.0, "stream": stream}
                    if stream:
                        body["stream_options"] = {"include_usage": True}
                    body["seed"] = 0
                else:
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

#: The whole answer the cold-start listener sends (non-streamed Chat Completions).
_CANNED = (b'{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant",'
           b'"content":"Answer: tok0"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2}}')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _measure(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> dict[str, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu}


def _write_suite(directory: Path, n: int) -> Path:
    lines = [
        "name: bench",
        "template: 'Say <<{{ token }}>>'",
        "scorers: [{type: regex, pattern: 'Answer: (\\w+)', then: exact}]",
        "cases:",
    ]
    lines += [f"  - {{id: c{i}, token: tok{i}, target: tok{i}}}" for i in range(n)]
    path = directory / f"bench-{n}.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class FirstRequestListener:
    """A one-shot HTTP listener: notes when the first request's bytes arrive, answers it whole."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        self.arrived: float | None = None
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                data = conn.recv(65536)
                if self.arrived is None and data:
                    self.arrived = time.perf_counter()
                head, _, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    more = conn.recv(65536)
                    if not more:
                        break
                    body += more
                conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n"
                             b"content-length: " + str(len(_CANNED)).encode() + b"\r\n\r\n" + _CANNED)

    def time_to_first(self, cmd: list[str], env: dict[str, str], cwd: Path = ROOT) -> tuple[float, float]:
        """(seconds from spawn to the first request's bytes, CPU seconds of the whole process)."""
        self.arrived = None
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if proc.returncode not in (0, 1) or self.arrived is None:
            raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return self.arrived - t0, cpu

    def close(self) -> None:
        self.sock.close()


def _tuieval_cmd(suite: Path, base: str, concurrency: int, db: Path, stream: bool) -> list[str]:
    cmd = [sys.executable, "-m", "tuieval", "run", str(suite), "--model", "openai-compatible/bench",
           "--base-url", base, "--concurrency", str(concurrency), "--quiet", "--db", str(db)]
    return cmd if stream else cmd + ["--no-stream"]


def _cold_start(tmp: Path, env: dict[str, str], repeats: int,
                trees: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Medians of the cold-start figures (seconds), for each tuieval source tree."""
    listener = FirstRequestListener()
    suite = _write_suite(tmp, 1)
    got: dict[str, list[float]] = {"aiohttp first request": [], "aiohttp 1-request CPU": [], "python -c pass": []}

    def first(label: str, cmd: list[str], tree_env: dict[str, str], root: Path = ROOT) -> None:
        wall, cpu = listener.time_to_first(cmd, tree_env, root)
        got.setdefault(f"{label} first request", []).append(wall)
        # the whole process's CPU (to its exit): under load, steadier than any wall figure
        got.setdefault(f"{label} 1-request CPU", []).append(cpu)

    try:
        for i in range(repeats):
            first("aiohttp", [sys.executable, "-c", AIOHTTP_LOOP, listener.url, "1", "1", "0", "same"], env)
            for label, root in trees.items():
                tree_env = dict(env, PYTHONPATH=str(root))
                first(label, _tuieval_cmd(suite, listener.url, 1, tmp / f"cold-{label}-{i}.db", False), tree_env, root)
                for flag in ("--version", "--help"):
                    got.setdefault(f"{label} {flag}", []).append(
                        _measure([sys.executable, "-m", "tuieval", flag], tree_env, root)["wall_s"])
            got["python -c pass"].append(_measure([sys.executable, "-c", "pass"], env)["wall_s"])
    finally:
        listener.close()
    return {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in got.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,10000", help="request counts, comma-separated")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency-ms", type=float, default=50)
    ap.add_argument("--only", choices=["stream", "no-stream"], default=None)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold-start figures")
    ap.add_argument("--cold-only", action="store_true", help="only the cold-start figures (no --sizes runs)")
    ap.add_argument("--old-loop", action="store_true",
                    help="also measure the loop's shorter body of before 2026-12-02 (no stream_options)")
    ap.add_argument("--also", metavar="DIR", default=None,
                    help="another tuieval source tree (e.g. an older commit's `git archive`), measured side by side")
    args = ap.parse_args()
    sizes = [] if args.cold_only else [int(s) for s in args.sizes.split(",") if s]
    modes = [m for m in (True, False) if args.only is None or args.only == ("stream" if m else "no-stream")]
    # Bytecode is written and used, as for an installed package (pip compiles a wheel's modules):
    # with PYTHONDONTWRITEBYTECODE set, every tuieval process would compile ~130 modules first.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OPENAI_", "TUIEVAL_")) and k != "PYTHONDONTWRITEBYTECODE"}
    trees = {"tuieval": ROOT}
    if args.also:
        trees["other"] = Path(args.also).resolve()
    for root in trees.values():
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(root / "tuieval")], cwd=root, env=env,
                       check=True)
    load_before = os.getloadavg()
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "tests.support.model_server", "--port", str(port),
                               "--latency-ms", str(args.latency_ms)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows = []
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
                break
            except OSError:
                time.sleep(0.1)
        base = f"http://127.0.0.1:{port}/v1"
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            cold = None if args.no_cold else _cold_start(tmp, env, max(args.repeats, 5), trees)
            for n in sizes:
                suite = _write_suite(tmp, n)
                for stream in modes:
                    refs: list[dict[str, float]] = []
                    olds: list[dict[str, float]] = []
                    ours: dict[str, list[dict[str, float]]] = {label: [] for label in trees}
                    for rep in range(args.repeats):
                        loop = [sys.executable, "-c", AIOHTTP_LOOP, base, str(n), str(args.concurrency),
                                "1" if stream else "0"]
                        refs.append(_measure(loop + ["same"]))
                        if args.old_loop:
                            olds.append(_measure(loop + ["old"]))
                        for label, root in trees.items():
                            db = tmp / f"bench-{label}-{n}-{stream}-{rep}.db"
                            ours[label].append(_measure(_tuieval_cmd(suite, base, args.concurrency, db, stream),
                                                        dict(env, PYTHONPATH=str(root)), root))
                    for label in trees:
                        rows.append((n, stream, label, refs, ours[label], olds))
    finally:
        server.terminate()
        server.wait()
    load_after = os.getloadavg()

    def med(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    print(f"concurrency {args.concurrency}, server latency {args.latency_ms:g} ms, medians of {args.repeats}; "
          f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
    if args.also:
        print(f"other = {trees['other']}")
    print(f"{'requests':>8} {'mode':<10} {'tree':<8} {'aiohttp wall s':>14} {'tuieval wall s':>14} {'ratio':>6} "
          f"{'CPU ms/req aiohttp':>18} {'CPU ms/req tuieval':>18}  tuieval walls")
    for n, stream, label, refs, ours, olds in rows:
        ref_w, our_w = med(refs, "wall_s"), med(ours, "wall_s")
        print(f"{n:>8} {'stream' if stream else 'no-stream':<10} {label:<8} {ref_w:>14.2f} {our_w:>14.2f} "
              f"{our_w / ref_w:>6.2f} {med(refs, 'cpu_s') / n * 1000:>18.3f} {med(ours, 'cpu_s') / n * 1000:>18.3f}"
              "  " + " ".join(f"{r['wall_s']:.2f}" for r in ours))
        if olds:
            old_w = med(olds, "wall_s")
            print(f"{'':>8} {'':<10} {'':<8} old loop: wall {old_w:.2f} s, CPU {med(olds, 'cpu_s') / n * 1000:.3f} "
                  f"ms/req, ratio to it {our_w / old_w:.2f}")
    if cold is not None:
        print(f"{'cold start (s)':<24} median    min    max")
        for name, v in sorted(cold.items()):
            print(f"{name:<24} {v['median']:>6.3f} {v['min']:>6.3f} {v['max']:>6.3f}")


if __name__ == "__main__":
    main()
