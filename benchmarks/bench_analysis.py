"""Benchmark: full analysis of a synthetic 10,000-case × 10-sample run.

    .venv/bin/python benchmarks/bench_analysis.py [--cases 10000] [--samples 10]
        [--method lexical] [--repeat 3] [--no-sqlite] [--free-text] [--json]

Builds the run in memory (deterministic, seeded), times `analyze_run` (best of
--repeat), reports peak memory, and — when `tuieval.store` is importable — writes the
same run to a temporary SQLite file and times reading it back plus the analysis.
The budget is 2 s for the in-memory analysis of 10k × 10 on the 2-core dev machine.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tuieval.analysis.report import analyze_run  # noqa: E402

LANGS = {
    "en": ("Question {i}: how many apples does Maria have if she buys {a} and eats {b}?", 0.50),
    "de": ("Frage {i}: Wie viele Äpfel hat Jürgen, wenn er {a} kauft und {b} isst?", 0.15),
    "fr": ("Question {i} : combien de pommes a José s'il en achète {a} et en mange {b} ?", 0.15),
    "ru": ("Вопрос {i}: сколько яблок у Дмитрия, если он купил {a} и съел {b}?", 0.10),
    "ja": ("質問{i}：りんごを{a}個買って{b}個食べると、何個残りますか？", 0.10),
}
ENTITIES = ["Paris", "Lyon", "Berlin", "Madrid", "Rome", "Vienna", "Prague", "Warsaw", "Lisbon", "Dublin"]


def make_run(n_cases: int = 10_000, n_samples: int = 10, seed: int = 0):
    """A synthetic run shaped like the store's rows: numeric, entity and sentence answers,
    format variants, wrong answers, ~1% errors (half of them timeouts), long contexts."""
    rng = np.random.default_rng(seed)
    langs = list(LANGS)
    lang = rng.choice(langs, n_cases, p=[LANGS[k][1] for k in langs])
    difficulty = rng.choice(["easy", "medium", "hard"], n_cases, p=[0.4, 0.4, 0.2])
    category = rng.integers(0, 12, n_cases)
    kind = rng.choice(["number", "entity", "sentence"], n_cases, p=[0.5, 0.3, 0.2])
    long_ctx = rng.random(n_cases) < 0.1
    base_p = {"easy": 0.92, "medium": 0.75, "hard": 0.5}
    cases, samples = [], []
    filler = "Context sentence about the topic at hand. " * 60
    order = 0
    for i in range(n_cases):
        a, b = int(rng.integers(100, 5000)), int(rng.integers(1, 99))
        text = LANGS[lang[i]][0].format(i=i, a=a, b=b)
        if long_ctx[i]:
            text = filler + text
        if kind[i] == "number":
            truth = str(a - b)
            variants = [truth, f"{a - b:,}", f"{a - b}.0", f"The answer is {a - b}."]
            wrongs = [str(a + b), str(a - b + 10), str(a)]
        elif kind[i] == "entity":
            e = ENTITIES[i % len(ENTITIES)]
            truth = e
            variants = [e, e.lower(), f"It is {e}.", f"The answer is {e}"]
            wrongs = [ENTITIES[(i + 3) % 10], ENTITIES[(i + 5) % 10]]
        else:
            e = ENTITIES[i % len(ENTITIES)]
            truth = f"The meeting takes place in {e} on Monday"
            variants = [truth, f"The meeting takes place in {e} on Monday.", f"It takes place in {e} on Monday",
                        f"In {e}, on Monday."]
            wrongs = [f"The meeting takes place in {e} on Tuesday", f"The meeting does not take place in {e}",
                      f"The meeting takes place in {ENTITIES[(i + 1) % 10]} on Monday"]
        p = base_p[difficulty[i]] - (0.25 if (lang[i] == "ru" and difficulty[i] == "hard") else 0.0)
        cases.append({"case_id": f"c{i:05d}", "position": i, "vars": {"a": a, "b": b}, "targets": [truth],
                      "metadata": {"lang": str(lang[i]), "difficulty": str(difficulty[i]),
                                   "category": f"cat{int(category[i])}", "passage": f"p{i // 5}"},
                      "input_text": text})
        ok = rng.random(n_samples) < p
        pick_v = rng.integers(0, len(variants), n_samples)
        pick_w = rng.integers(0, len(wrongs), n_samples)
        err = rng.random(n_samples) < 0.01
        timeout = rng.random(n_samples) < 0.5
        lat = rng.lognormal(np.log(800.0), 0.5, n_samples) + (1500.0 if long_ctx[i] else 0.0)
        ttft = lat * rng.uniform(0.1, 0.3, n_samples)
        toks = rng.integers(5, 120, n_samples)
        for j in range(n_samples):
            if err[j]:
                is_to = bool(timeout[j])
                samples.append({"case_id": f"c{i:05d}", "template": "default", "sample_index": j, "response": None,
                                "extracted": None, "correct": 0, "score": 0.0,
                                "latency_ms": 30000.0 if is_to else float(lat[j]), "ttft_ms": None,
                                "output_tokens": None, "error": "timeout" if is_to else "HTTP 500",
                                "error_kind": "timeout" if is_to else "server", "dispatch_order": order})
            else:
                resp = variants[pick_v[j]] if ok[j] else wrongs[pick_w[j]]
                samples.append({"case_id": f"c{i:05d}", "template": "default", "sample_index": j,
                                "response": f"Let me think. {resp}" if kind[i] == "number" else resp,
                                "extracted": resp if kind[i] == "number" else None,
                                "correct": int(bool(ok[j])), "score": float(ok[j]),
                                "latency_ms": float(lat[j]), "ttft_ms": float(ttft[j]),
                                "output_tokens": int(toks[j]), "error": None, "error_kind": None,
                                "dispatch_order": order})
            order += 1
    run = {"id": "bench-run", "suite": "synthetic", "model": "demo/bench", "status": "complete",
           "samples_per_case": n_samples, "temperature": 0.7, "started_at": "2026-01-01T00:00:00+00:00",
           "finished_at": "2026-01-01T00:20:00+00:00", "slo_ms": 1500.0, "simulated": True,
           "config": {"variance": {"method": "lexical"}, "cluster_key": None}}
    return run, cases, samples


def _free_text(samples, seed: int = 0) -> None:
    """Replace every answer by a distinct 80-word paragraph with no extracted answer."""
    rng = np.random.default_rng(seed)
    vocab = np.array("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho "
                     "sigma tau upsilon phi chi psi omega".split())
    words = vocab[rng.integers(0, vocab.size, (len(samples), 80))]
    for s, row in zip(samples, words):
        if s["error"] is None:
            s["extracted"] = None
            s["response"] = " ".join(row.tolist())


def _time(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _sqlite_roundtrip(run, cases, samples, method, repeat):
    try:
        from tuieval.store.db import Store
    except ImportError:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        store = Store(path)
        row = {k: v for k, v in run.items() if k not in ("status", "id")}
        row.update(n_cases=len(cases), n_templates=1, n_expected=len(samples))
        run_id = store.create_run(row, cases)
        t0 = time.perf_counter()
        store.conn.execute("BEGIN")
        for s in samples:
            store.add_sample({**s, "run_id": run_id, "prompt": "[]", "attempts": 1, "created_at": row["started_at"]})
        assert store.count_samples(run_id) == len(samples), "store dropped samples"
        store.conn.execute("COMMIT")
        write_s = time.perf_counter() - t0

        def read_and_analyze():
            r = store.get_run(run_id)
            c = store.get_cases(run_id)
            s = store.get_samples(run_id)
            return r, c, s

        read_s, (r, c, s) = _time(read_and_analyze, repeat)
        r["status"] = "complete"
        an_s, _ = _time(lambda: analyze_run(r, c, s, method=method), repeat)
        store.close()
        return {"write_s": write_s, "read_s": read_s, "analyze_s": an_s}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--samples", type=int, default=10)
    ap.add_argument("--method", default="lexical", choices=["canonical", "lexical"])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--free-text", action="store_true",
                    help="worst case: every answer a distinct unextracted 80-word paragraph")
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    run, cases, samples = make_run(args.cases, args.samples)
    if args.free_text:
        _free_text(samples)
    build_s = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    an_s, report = _time(lambda: analyze_run(run, cases, samples, method=args.method), args.repeat)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gc.collect()
    tracemalloc.start()
    analyze_run(run, cases, samples, method=args.method)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    json_s, text = _time(lambda: json.dumps(report), 1)
    figures = {
        "cases": args.cases, "samples_per_case": args.samples, "n_samples": len(samples), "method": args.method,
        "free_text": args.free_text,
        "build_s": round(build_s, 3), "analyze_s": round(an_s, 3),
        "peak_alloc_mb": round(peak / 2 ** 20, 1), "max_rss_mb": round(rss_after / 1024, 1),
        "rss_growth_mb": round((rss_after - rss_before) / 1024, 1),
        "json_dump_s": round(json_s, 3), "report_json_mb": round(len(text) / 2 ** 20, 2),
        "n_slices": len(report["slices"]), "n_flagged": sum(s["flagged"] for s in report["slices"]),
        "groups_clustered": report["analysis"]["clustering"].get("groups_clustered"),
        "cpu_count": os.cpu_count(),
    }
    if not args.no_sqlite:
        rt = _sqlite_roundtrip(run, cases, samples, args.method, 1)
        if rt is not None:
            figures.update({f"sqlite_{k}": round(v, 3) for k, v in rt.items()})
    if args.json:
        print(json.dumps(figures))
    else:
        for k, v in figures.items():
            print(f"{k:>22}: {v}")
        budget = 2.0
        print(f"{'budget':>22}: {'OK' if an_s < budget else 'OVER'} (< {budget} s for analyze_run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
