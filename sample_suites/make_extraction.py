"""Regenerate sample_suites/data/extraction.jsonl (deterministic; run from anywhere).

The extraction suite asks for the name of the person who did something, in texts of three
lengths, with English and non-English names. Its slices are the point: demo/steady and
demo/brittle score about the same on the mean and split on `length=long` and
`name_origin=non_english`.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

ENGLISH = [
    "Margaret Collins", "David Thompson", "Sarah Mitchell", "James Walker", "Emily Harper", "Robert Hughes",
    "Laura Bennett", "Thomas Reed", "Hannah Brooks", "Michael Turner", "Grace Palmer", "William Foster",
    "Olivia Grant", "Daniel Porter", "Chloe Sanders", "Henry Wallace", "Amelia Ward", "George Fletcher",
    "Lucy Chapman", "Peter Holloway", "Rachel Dunn", "Samuel Price", "Alice Morgan", "Edward Lane",
    "Jessica Cole", "Andrew Black", "Sophie Marsh", "Jack Spencer", "Katherine Wells", "Matthew Hayes",
]
NON_ENGLISH = [
    "José García", "Zoë Müller", "Nguyễn Văn An", "Søren Østergaard", "Łukasz Wróbel", "François Lefèvre",
    "Björn Ångström", "İlkay Gündoğan", "Chloé Dubois", "Jürgen Köhler", "Ramón Núñez", "Dagný Þórsdóttir",
    "Małgorzata Żak", "João Gonçalves", "Ahmet Yılmaz", "Ségolène Bézier", "Tomáš Dvořák", "Mónica Peña",
    "Håkon Bjørnstad", "Eléonore Clément", "Đorđe Petrović", "Zsófia Kovács", "Iñaki Etxeberría",
    "Renée Lefèbvre", "Gülşen Aydın", "Andrés Muñoz", "Kateřina Nováková", "Søs Højgaard", "Ólafur Ragnarsson",
    "Bartłomiej Krzyżanowski", "Jiří Černý", "Ingrid Sjöberg",
]
ROLES = [
    ("signed the lease", "The lease for the warehouse on Dock Street was signed by {name} on a Tuesday morning."),
    ("approved the budget", "After a long meeting, the quarterly budget was finally approved by {name}."),
    ("found the bug", "The memory leak that had slowed the service for weeks was found by {name}."),
    ("won the award", "This year's award for community service went to {name}."),
    ("wrote the report", "The incident report was written by {name}, who had been on call that night."),
    ("led the expedition", "The expedition to the northern glacier was led by {name}."),
    ("chaired the committee", "The housing committee was chaired by {name} for the second year running."),
    ("repaired the bridge", "The old footbridge was repaired by a crew supervised by {name}."),
]
FILLER = [
    "The weather that week was unremarkable, with light rain in the mornings and clear afternoons.",
    "Several people attended, including {other}, who mostly took notes and asked about parking.",
    "A long discussion about the coffee machine took up most of the second hour.",
    "Minutes from the previous session were read aloud and accepted without changes.",
    "{other} raised a question about the schedule, which was deferred to the next meeting.",
    "The building's heating system had been serviced the week before, to everyone's relief.",
    "Later, {other} circulated a summary that nobody seemed to have read in full.",
    "Budget figures for the following year were presented but not yet discussed in detail.",
    "A visitor from the regional office, {other}, observed the proceedings quietly.",
    "The agenda also covered recycling, the new badge system and the spring open day.",
]


def _text(rng: random.Random, name: str, role_sentence: str, length: str) -> str:
    others = [n for n in ENGLISH if n != name]
    sentences = [role_sentence.format(name=name)]
    n_filler = {"short": 0, "medium": 3, "long": 14}[length]
    for _ in range(n_filler):
        sentences.append(rng.choice(FILLER).format(other=rng.choice(others)))
    if length != "short":
        # bury the fact: in long texts it sits in the middle, among other names
        rng.shuffle(sentences)
    return " ".join(sentences)


def main() -> None:
    rng = random.Random(20261128)
    rows = []
    plan = [("english", "short")] * 68 + [("english", "medium")] * 68 + [("english", "long")] * 32 \
        + [("non_english", "short")] * 16 + [("non_english", "medium")] * 16
    for i, (origin, length) in enumerate(plan):
        name = rng.choice(ENGLISH if origin == "english" else NON_ENGLISH)
        role, sentence = rng.choice(ROLES)
        rows.append({
            "id": f"ex{i + 1:03d}",
            "text": _text(rng, name, sentence, length),
            "question": f"Who {role}?",
            "target": name,
            "metadata": {"length": length, "name_origin": origin},
        })
    rng.shuffle(rows)
    out = Path(__file__).with_name("data") / "extraction.jsonl"
    out.parent.mkdir(exist_ok=True)
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    print(f"wrote {len(rows)} cases to {out}")


if __name__ == "__main__":
    main()
