"""Regenerate sample_suites/data/hidden.jsonl (deterministic; run from anywhere).

The hidden-variables suite asks for totals of small shopping sums, under three prompt
templates. It is built so that, without a key, one run shows what moves a score without the
model changing: the template (demo/sensitive), the answer extractor (demo/verbose: `tuieval
rescore` with the built-in extractors) and, per slice, money amounts vs plain counts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ITEMS = ["notebooks", "pencils", "mugs", "lamps", "chairs", "tickets", "plates", "towels", "batteries", "cables"]


def make_cases(n: int = 60, seed: int = 11) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        item = rng.choice(ITEMS)
        count = rng.randint(2, 40)
        if i % 2 == 0:
            price = rng.choice([3, 4, 5, 12, 25, 40, 75, 120])
            question = f"A shop sells {item} at ${price} each. How much do {count} {item} cost, in dollars?"
            target, kind = count * price, "money"
        else:
            per_box = rng.choice([6, 12, 24, 50])
            question = f"A box holds {per_box} {item}. How many {item} are in {count} boxes?"
            target, kind = count * per_box, "count"
        size = "large" if target >= 1000 else "small"
        cases.append({"id": f"h{i:03d}", "question": question, "target": target,
                      "metadata": {"kind": kind, "size": size}})
    return cases


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "hidden.jsonl"
    out.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in make_cases()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
