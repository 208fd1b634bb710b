"""Benchmark: generating perturbations for 10,000 cases.

    .venv/bin/python benchmarks/bench_perturb.py [--cases 10000] [--repeat 3] [--json]

The cases are generated (seeded) and all different, so no per-case work is hidden by a cache:
a quarter each of short questions with numbers, notes naming a person (the target, from 2,500
name combinations), four-option multiple-choice questions with a letter target, and documents
of 10–30 sentences with a name and figures; mean ≈ 390 characters of input per case. Times
`perturb_cases` (best of --repeat, CPU time of this process) for each family at its default
severity, and for all ten families in one call; counts the perturbed and the skipped cases.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tuieval.perturb import FAMILIES, make_spec, perturb_cases  # noqa: E402
from tuieval.perturb.base import Edit, Family  # noqa: E402
from tuieval.suite.model import Case  # noqa: E402


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


def build_cases(n: int) -> list[Case]:
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


def best_cpu(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.process_time()
        out = fn()
        best = min(best, time.process_time() - start)
    return best, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    cases = build_cases(args.cases)
    inputs = ["question", "text", "sentence"]
    mean_chars = statistics.mean(len(c.input_text()) for c in cases)
    rows = []
    # the fixed cost per case and spec (reading the case, protected spans, the seeded random
    # source, the linked copy), measured with a perturbation that changes nothing
    FAMILIES["noop"] = Family("noop", "benchmark only", lambda item, severity, rng: Edit(item.texts), 0.5)
    seconds, out = best_cpu(lambda: perturb_cases(cases, [make_spec("noop", None)], seed=1, input_vars=inputs),
                            args.repeat)
    del FAMILIES["noop"]
    rows.append({"perturbation": "(no-op: fixed cost)", "cpu_s": round(seconds, 3), "perturbed": len(out.perturbed),
                 "skipped": len(out.skipped)})
    for name, family in FAMILIES.items():
        spec = make_spec(name, None)
        seconds, out = best_cpu(lambda: perturb_cases(cases, [spec], seed=1, input_vars=inputs), args.repeat)
        rows.append({"perturbation": spec.label, "cpu_s": round(seconds, 3), "perturbed": len(out.perturbed),
                     "skipped": len(out.skipped)})
    specs = [make_spec(name, None) for name in FAMILIES]
    seconds, out = best_cpu(lambda: perturb_cases(cases, specs, seed=1, input_vars=inputs), args.repeat)
    rows.append({"perturbation": "all ten in one call", "cpu_s": round(seconds, 3), "perturbed": len(out.perturbed),
                 "skipped": len(out.skipped)})
    result = {"cases": args.cases, "mean_input_chars": round(mean_chars), "python": sys.version.split()[0],
              "rows": rows}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{args.cases} cases, mean input {mean_chars:.0f} characters, Python {result['python']}, "
          f"best of {args.repeat} (CPU s)")
    print(f"{'perturbation':<22} {'CPU s':>7} {'perturbed':>10} {'skipped':>8}")
    for r in rows:
        print(f"{r['perturbation']:<22} {r['cpu_s']:>7.3f} {r['perturbed']:>10} {r['skipped']:>8}")


if __name__ == "__main__":
    main()
