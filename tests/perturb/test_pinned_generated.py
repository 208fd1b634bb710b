"""The perturbed inputs of a broad generated set of cases are pinned to the code before the
fixed-cost speed work (b0be158): the shared per-case path (reading the case, the seeded random
source, the linked copy) and every family must give the same characters, ids, targets, metadata
and edit counts as before.

The sample suites' digests (test_pinned_outputs.py) cover only short inputs; these cases add
the shapes the benchmark and real suites have and the samples lack: long documents that
distractors pad into the longest bucket, chat messages with system and assistant turns, dict and
numeric targets, several targets, non-ASCII text whose lower() changes length, a variable outside
the input (counted for length only), cases with no text input, and list variables that are not
input. Digests recorded with fixtures/pinned_generated.json's `recorded_with` code; re-record
(`python -m tests.perturb.test_pinned_generated`) only for a deliberate change of output.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest

from tuieval.perturb import FAMILIES, make_spec, perturb_cases
from tuieval.suite.model import Case

PINNED = Path(__file__).parent / "fixtures" / "pinned_generated.json"
INPUTS = ["question", "text", "chat"]

PEOPLE = ["Chloe Sanders", "Mehmet Öztürk", "Ștefan Popescu", "Kenji Sato", "İlker Yılmaz", "João Costa"]
SENTENCES = ["The committee met on a rainy afternoon.", "It is not clear who proposed the change!",
             "They didn't agree on the budget, which was 12000 dollars.", "The report was 45 pages long.",
             "Several people can't attend; it will not be held in the main hall?", "Minutes were taken.\n",
             "Prices rose 3.5% in 2019, to 1,250 euros.", "東京の会議は三時に始まった。", "We are still waiting for 3 answers."]


def generated_cases(n: int = 160) -> list[Case]:
    rng = random.Random(20261201)
    out: list[Case] = []
    for i in range(n):
        kind = i % 8
        cid = f"g{i}"
        if kind == 0:
            a, b = rng.randrange(2, 5000), rng.randrange(2, 90)
            out.append(Case(cid, {"question": f"What is {a} plus {b}? Don't show your working."}, [a + b]))
        elif kind == 1:
            name = rng.choice(PEOPLE)
            body = rng.sample(SENTENCES, 3)
            body.insert(rng.randrange(4), f"The final version was written by {name}.")
            out.append(Case(cid, {"text": " ".join(body), "question": "Who wrote it?"}, [name],
                            metadata={"topic": "people"}))
        elif kind == 2:
            opts = rng.sample(["apple", "carrot", "leek", "kale", "plum", "onion"], 4)
            body = "\n".join(f"{'ABCD'[j]}) {o}" for j, o in enumerate(opts))
            out.append(Case(cid, {"question": f"Question {i}: which is first?\n{body}\nAnswer with the letter."},
                            [rng.choice("ABCD")]))
        elif kind == 3:
            name = rng.choice(PEOPLE)
            body = [rng.choice(SENTENCES) for _ in range(rng.randrange(10, 30))]
            body.insert(rng.randrange(len(body) + 1), f"It was signed by {name} in 1998.")
            out.append(Case(cid, {"text": " ".join(body), "question": "Who signed, and when?"},
                            [{"name": name, "year": 1998}]))
        elif kind == 4:
            chat = [{"role": "system", "content": "You do not guess."},
                    {"role": "user", "content": f"I do not know what {rng.randrange(100, 999)} means. Is it 1000?"},
                    {"role": "assistant", "content": "It is not clear."},
                    {"role": "user", "content": "Answer: is it one thousand?"}]
            out.append(Case(cid, {"chat": chat}, ["yes", "Yes"]))
        elif kind == 5:
            out.append(Case(cid, {"question": "İstanbul or Ankara? The capital is not İstanbul.",
                                  "context": "A note that is not input. " * rng.randrange(1, 40),
                                  "choices": ["Ankara", "İstanbul"]}, ["Ankara", "ankara"]))
        elif kind == 6:
            out.append(Case(cid, {"count": 3}, ["3"]) if i % 16 == 6 else Case(cid, {"question": "", "count": 3}, ["3"]))
        else:
            words = rng.choices(["the", "B", "b", "x.x", "can't", "1,000", "Zürich", "naïve", "it", "is", "not"],
                                k=rng.randrange(0, 60))
            out.append(Case(cid, {"question": " ".join(words) + "?", "text": "B) yes\nC) no"}, ["B"]))
    return out


def specs_for(name: str):
    family = FAMILIES[name]
    if family.default_severity is None:
        return [make_spec(name, None)]
    return [make_spec(name, None), make_spec(name, 1.0), make_spec(name, 0.02)]


def digest(name: str) -> str:
    h = hashlib.sha256()
    cases = generated_cases()
    for seed in (3, 11):
        out = perturb_cases(cases, specs_for(name), seed=seed, input_vars=INPUTS)
        for p in out.perturbed:
            h.update(json.dumps([p.case.id, p.case.vars, p.case.targets, p.case.metadata, p.case.line, p.edits,
                                 p.detail], sort_keys=True, ensure_ascii=False, default=str).encode("utf-8"))
        for s in out.skipped:
            h.update(json.dumps([s.case_id, s.perturbation, s.reason], ensure_ascii=False).encode("utf-8"))
    return h.hexdigest()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_generated_output_is_unchanged(name):
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))["digests"]
    assert digest(name) == pinned[name]


def test_the_generated_cases_reach_every_shape():
    # the digests are only worth something if the cases exercise the paths they pin
    out = perturb_cases(generated_cases(), [make_spec("distractors", 1.0), make_spec("names", None),
                                            make_spec("options", None)], seed=3, input_vars=INPUTS)
    buckets = {tuple(p.detail["bucket"]) for p in out.perturbed if p.spec.name == "distractors"}
    assert ("medium", "long") in buckets and ("short", "long") in buckets
    assert any(p.spec.name == "names" for p in out.perturbed)
    assert any(p.spec.name == "options" for p in out.perturbed)
    assert any(s.reason == "no text input variable" for s in out.skipped)


if __name__ == "__main__":   # re-record: python -m tests.perturb.test_pinned_generated
    import subprocess

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    PINNED.write_text(json.dumps({"recorded_with": commit, "digests": {n: digest(n) for n in sorted(FAMILIES)}},
                                 indent=1) + "\n", encoding="utf-8")
