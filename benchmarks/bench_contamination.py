"""Benchmark: the 13-gram corpus probe streams — its memory does not grow with the corpus.

    .venv/bin/python benchmarks/bench_contamination.py [--mb 4,16] [--cases 1000]

Writes seeded corpora of each size (random words from a 5,000-word vocabulary, lines of 5–25
words, 20 of the cases' texts planted at random places), then scans them for the 13-grams of
`--cases` generated case texts, each scan in its own subprocess so its peak RSS (`os.wait4`) is
its own. Side by side: `scan_corpus` (streamed in 1 MiB pieces) and the naive way — read the
whole file, tokenise it, then scan (`scan_tokens` over the list). Prints throughput, peak RSS
and the ratios of the larger corpus to the smaller; every scan must find the planted cases.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PLANTED = 20


def _vocab(rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(5000)]


def _cases(n: int, vocab: list[str], rng: random.Random) -> dict[str, str]:
    return {f"c{i}": " ".join(rng.choice(vocab) for _ in range(rng.randint(20, 60))) + "?" for i in range(n)}


def _write_corpus(path: Path, mb: int, vocab: list[str], cases: dict[str, str], rng: random.Random) -> None:
    target = mb * 1024 * 1024
    planted = rng.sample(sorted(cases), PLANTED)
    at = sorted(rng.randrange(target) for _ in planted)
    written = 0
    with open(path, "w", encoding="utf-8") as fh:
        while written < target:
            line = " ".join(rng.choice(vocab) for _ in range(rng.randint(5, 25))) + ".\n"
            while at and written >= at[0]:
                at.pop(0)
                line = cases[planted[len(planted) - len(at) - 1]].upper() + "\n" + line
            fh.write(line)
            written += len(line)


def _child(mode: str, corpus: str, cases_file: str) -> None:
    from tuieval.contamination.corpus import scan_corpus, scan_tokens
    from tuieval.contamination.text import tokens

    cases = json.loads(Path(cases_file).read_text())
    t0 = time.perf_counter()
    if mode == "streamed":
        scan = scan_corpus(cases, corpus)
    else:
        scan = scan_tokens(cases, [tokens(Path(corpus).read_text(encoding="utf-8"))])
    print(json.dumps({"s": time.perf_counter() - t0, "hits": len(scan.hits), "tokens": scan.n_corpus_tokens}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", default="4,16")
    ap.add_argument("--cases", type=int, default=1000)
    ap.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return _child(*args.child)
    rng = random.Random(13)
    vocab = _vocab(rng)
    cases = _cases(args.cases, vocab, rng)
    sizes = [int(x) for x in args.mb.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cases_file = Path(tmp) / "cases.json"
        cases_file.write_text(json.dumps(cases))
        for mb in sizes:
            corpus = Path(tmp) / f"corpus{mb}.txt"
            _write_corpus(corpus, mb, vocab, cases, random.Random(mb))
            for mode in ("streamed", "naive"):
                proc = subprocess.Popen([sys.executable, __file__, "--child", mode, str(corpus), str(cases_file)],
                                        stdout=subprocess.PIPE, text=True)
                out = proc.stdout.read()
                _, status, usage = os.wait4(proc.pid, 0)
                result = json.loads(out)
                rows.append({"mb": mb, "mode": mode, **result, "rss_mb": usage.ru_maxrss / 1024})
    print(f"{'corpus MB':>9} {'mode':>9} {'scan s':>7} {'Mtok/s':>7} {'hits':>5} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r['mb']:>9} {r['mode']:>9} {r['s']:>7.2f} {r['tokens'] / r['s'] / 1e6:>7.2f} {r['hits']:>5} "
              f"{r['rss_mb']:>11.1f}")
    small, large = sizes[0], sizes[-1]
    for mode in ("streamed", "naive"):
        a = next(r for r in rows if r["mb"] == small and r["mode"] == mode)
        b = next(r for r in rows if r["mb"] == large and r["mode"] == mode)
        print(f"{mode}: {large}/{small} MB corpus → time ×{b['s'] / a['s']:.2f}, peak RSS ×{b['rss_mb'] / a['rss_mb']:.2f}")
    assert all(r["hits"] >= PLANTED for r in rows), "a planted case was not found"


if __name__ == "__main__":
    main()
