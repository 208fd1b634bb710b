"""Benchmark: generating perturbations for 10,000 cases, side by side with the code of before.

    .venv/bin/python benchmarks/bench_perturb.py [--cases 10000] [--rounds 5]
        [--baseline-src DIR] [--families typos,casing] [--no-all] [--json]

The cases are generated (seeded) and all different, so no per-case work is hidden by a cache:
a quarter each of short questions with numbers, notes naming a person (the target, from 2,500
name combinations), four-option multiple-choice questions with a letter target, and documents
of 10–30 sentences with a name and figures; mean ≈ 390 characters of input per case.

Each source tree (this one, and with `--baseline-src DIR` the code of before, e.g.
`git archive b0be158 | tar -x -C DIR`) runs in its own long-lived worker process that builds the
cases once; the parent asks the workers in turn to time one `perturb_cases` call (CPU seconds of
the worker, `time.process_time`, and wall seconds), alternating A B / B A each round, so both
sides see the same machine load at nearly the same moment. Rows: the no-op perturbation (the
fixed cost per case: reading it, its protected spans, its seeded random source, the linked
copy), each family at its default severity, and all of them in one call. Printed: the median
over the rounds of each side, the ratio of the medians, the median of the per-round ratios,
whether both sides produced the same output (a digest of every perturbed copy and skip), and the
load average before and after.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

GIVEN = ["Chloe", "Samuel", "Laura", "Mehmet", "Anna", "Kenji", "Fatima", "Peter", "Grace", "Luis", "Ivan", "Sara",
         "Emma", "Lukas", "Priya", "Oskar", "Lena", "Ștefan", "Åsa", "João", "Maria", "Tom", "Chloé", "Tariq", "Ines",
         "Marek", "Yuki", "Nadia", "Omar", "Clara", "Felix", "Hana", "Diego", "Elif", "Noah", "Zara", "Pavel", "Rosa",
         "Aditi", "Jonas", "Mira", "Karl", "Leila", "Hugo", "Vera", "Arjun", "Nora", "Emil", "Sofia", "Ravi"]
FAMILY = ["Sanders", "Price", "Bennett", "Öztürk", "Schmidt", "Sato", "Haddad", "Novak", "Okafor", "Ortega",
          "Petrov", "Cohen", "Wilson", "Bauer", "Raman", "Nieminen", "Fischer", "Popescu", "Lindqvist", "Ferreira",
          "Lopez", "Baker", "Martin", "Rahman", "Costa", "Kowalski", "Tanaka", "Aziz", "Hassan", "Weber", "Meyer",
          "Kim", "Garcia", "Yilmaz", "Brown", "Khan", "Novotny", "Silva", "Gupta", "Larsen", "Ito", "Moreau", "Berg",
          "Dubois", "Rossi", "Jensen", "Park", "Singh", "Horvat", "Keller"]
FILLER = ["The committee met on a rainy afternoon to review the plans.", "It is not clear who proposed the change.",
          "They didn't agree on the budget, which was 12000 dollars.", "The report was 45 pages long.",
          "Several people can't attend the next meeting, so it will not be held in the main hall.",
          "Minutes were taken, and the list of actions was shared with 30 people.",
          "The project, delayed twice, is now expected to finish soon.", "We are still waiting for 3 answers."]
INPUTS = ["question", "text", "sentence"]
NOOP = "(no-op: fixed cost)"
ALL = "all families in one call"


def build_cases(n: int):
    from tuieval.suite.model import Case

    rng = random.Random(0)
    cases = []
    for i in range(n):
        kind = i % 4
        if kind == 0:
            a, b = rng.randrange(2, 5000), rng.randrange(2, 90)
            cases.append(Case(f"b{i}", {"question": f"What is {a} plus {b}? Don't show your working."}, [str(a + b)]))
        elif kind == 1 or kind == 3:
            name = f"{rng.choice(GIVEN)} {rng.choice(FAMILY)}"
            sentences = rng.sample(FILLER, 3) if kind == 1 else [rng.choice(FILLER) for _ in range(rng.randrange(10, 30))]
            sentences.insert(rng.randrange(len(sentences) + 1), f"The final version was written by {name}.")
            cases.append(Case(f"b{i}", {"text": " ".join(sentences), "question": "Who wrote the final version?"},
                              [name]))
        else:
            opts = rng.sample(["apple", "carrot", "leek", "kale", "plum", "onion", "pear", "beet"], 4)
            fruit = next((j for j, o in enumerate(opts) if o in {"apple", "plum", "pear"}), 0)
            body = "\n".join(f"{'ABCD'[j]}) {o}" for j, o in enumerate(opts))
            cases.append(Case(f"b{i}", {"question": f"Question {i}: which of these is a fruit?\n{body}\n"
                                                     "Answer with the letter."}, ["ABCD"[fruit]]))
    return cases


# ---------------------------------------------------------------------------------------------
# the worker: one source tree, cases built once, one timed call per request
# ---------------------------------------------------------------------------------------------

def _digest(out) -> str:
    h = hashlib.sha256()
    for p in out.perturbed:
        h.update(json.dumps([p.case.id, p.case.vars, p.case.targets, p.case.metadata, p.edits, p.detail],
                            sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
    for s in out.skipped:
        h.update(json.dumps([s.case_id, s.perturbation, s.reason], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()[:16]


def worker(src: str, n_cases: int) -> None:
    sys.path.insert(0, src)           # before the editable install of this tree
    from tuieval.perturb import FAMILIES, make_spec, perturb_cases
    from tuieval.perturb.base import Edit, Family

    cases = build_cases(n_cases)
    names = list(FAMILIES)
    # a perturbation that changes nothing: what every family pays per case before its own work
    FAMILIES["noop"] = Family("noop", "benchmark only", lambda item, severity, rng: Edit(item.texts), 0.5)
    labels = [make_spec(name, None).label for name in names]
    specs = {NOOP: [make_spec("noop", None)], **{label: [make_spec(label.split(":")[0], None)] for label in labels},
             ALL: [make_spec(name, None) for name in names]}
    mean_chars = statistics.mean(len(c.input_text()) for c in cases)
    print(json.dumps({"rows": [NOOP, *labels, ALL], "mean_input_chars": mean_chars,
                      "src": str(Path(src).resolve())}), flush=True)
    for line in sys.stdin:
        row, _, want_digest = line.rstrip("\n").partition("\t")
        gc.collect()                  # each call starts from the same heap, not the last call's garbage
        wall0, cpu0 = time.perf_counter(), time.process_time()
        out = perturb_cases(cases, specs[row], seed=1, input_vars=INPUTS)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        reply = {"cpu": cpu, "wall": wall, "perturbed": len(out.perturbed), "skipped": len(out.skipped)}
        if want_digest:
            reply["digest"] = _digest(out)
        del out
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, src: Path, n_cases: int) -> None:
        self.proc = subprocess.Popen([sys.executable, __file__, "--worker", str(src), "--cases", str(n_cases)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=src)
        self.info = json.loads(self.proc.stdout.readline())

    def time(self, row: str, digest: bool) -> dict:
        self.proc.stdin.write(row + ("\tdigest" if digest else "") + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


# ---------------------------------------------------------------------------------------------
# the parent: interleave, medians
# ---------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--rounds", "--repeat", type=int, default=5, help="timed calls per row and side (medians over them)")
    ap.add_argument("--baseline-src", type=Path, default=None,
                    help="a source tree of the code of before, timed side by side with this one")
    ap.add_argument("--families", default="", help="comma-separated labels to time (default: every row)")
    ap.add_argument("--no-all", action="store_true", help="skip the row with every family in one call")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.cases)
        return
    sides = {"this": Worker(ROOT, args.cases)}
    if args.baseline_src:
        sides = {"before": Worker(args.baseline_src.resolve(), args.cases), **sides}
    rows = sides["this"].info["rows"]
    if args.families:
        wanted = [w.strip() for w in args.families.split(",")]
        rows = [r for r in rows if r == NOOP or r in wanted or r.split(":")[0] in wanted]
    if args.no_all:
        rows = [r for r in rows if r != ALL]
    load_before = os.getloadavg()
    results = []
    order = list(sides)
    for row in rows:
        runs: dict[str, list[dict]] = {side: [] for side in sides}
        for k in range(args.rounds):
            for side in (order if k % 2 == 0 else order[::-1]):     # A B, B A, A B, …
                runs[side].append(sides[side].time(row, digest=(k == 0)))
        entry = {"row": row}
        for side, rs in runs.items():
            entry[side] = {"cpu_median": statistics.median(r["cpu"] for r in rs),
                           "wall_median": statistics.median(r["wall"] for r in rs),
                           "cpu_all": [round(r["cpu"], 3) for r in rs],
                           "perturbed": rs[0]["perturbed"], "skipped": rs[0]["skipped"], "digest": rs[0]["digest"]}
        if "before" in runs:
            b, t = entry["before"], entry["this"]
            entry["ratio_of_medians"] = t["cpu_median"] / b["cpu_median"]
            entry["median_paired_ratio"] = statistics.median(
                x["cpu"] / y["cpu"] for x, y in zip(runs["this"], runs["before"]))
            entry["same_output"] = b["digest"] == t["digest"] and (b["perturbed"], b["skipped"]) == (
                t["perturbed"], t["skipped"])
        results.append(entry)
        if not args.json:
            _print_row(entry, first=(len(results) == 1), args=args, info=sides["this"].info)
    load_after = os.getloadavg()
    for w in sides.values():
        w.close()
    summary = {"cases": args.cases, "rounds": args.rounds, "python": sys.version.split()[0],
               "mean_input_chars": round(sides["this"].info["mean_input_chars"]),
               "load_average_before": load_before, "load_average_after": load_after, "rows": results}
    if args.json:
        print(json.dumps(summary, indent=2))
        return
    print(f"load average before {' '.join(f'{x:.2f}' for x in load_before)}, "
          f"after {' '.join(f'{x:.2f}' for x in load_after)} ({os.cpu_count()} CPUs)")


def _print_row(entry: dict, *, first: bool, args, info: dict) -> None:
    paired = "before" in entry
    if first:
        print(f"{args.cases} cases, mean input {info['mean_input_chars']:.0f} characters, Python "
              f"{sys.version.split()[0]}; medians of {args.rounds} calls per side, interleaved; CPU s (wall s)")
        if paired:
            print(f"{'perturbation':<26} {'before':>15} {'this':>15} {'this/before':>11} {'paired':>7} "
                  f"{'perturbed':>9} {'skipped':>7} same")
        else:
            print(f"{'perturbation':<26} {'CPU s (wall)':>15} {'perturbed':>9} {'skipped':>7}")
    t = entry["this"]
    this = f"{t['cpu_median']:.3f} ({t['wall_median']:.2f})"
    if paired:
        b = entry["before"]
        before = f"{b['cpu_median']:.3f} ({b['wall_median']:.2f})"
        print(f"{entry['row']:<26} {before:>15} {this:>15} {entry['ratio_of_medians']:>11.2f} "
              f"{entry['median_paired_ratio']:>7.2f} {t['perturbed']:>9} {t['skipped']:>7} "
              f"{'yes' if entry['same_output'] else 'NO'}", flush=True)
    else:
        print(f"{entry['row']:<26} {this:>15} {t['perturbed']:>9} {t['skipped']:>7}", flush=True)


if __name__ == "__main__":
    main()
