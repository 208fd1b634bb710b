"""Regenerate sample_suites/data/traffic.jsonl, a simulated production traffic log (deterministic).

The log is what a team would have logged from the extraction task in production: one flat JSON
object per request (`prompt`, `response`, `model`, `latency_ms`, `timestamp`, `metadata`), no
targets. It is drifted from the extraction suite on purpose: far more long documents (the suite
has 16% long texts of 15 sentences, none past 512 tokens; the log about 45% of ~50 sentences) and non-English names (suite 14%, log about 50%, growing
over the two weeks it covers, with names the suite never uses). So `tuieval shadow` shows a
candidate like demo/brittle disagreeing with the logged answers where the traffic moved, and
`tuieval drift` shows how far it moved. The logged answers come from a simulated production model
(right about 93% of the time, slower on long inputs).
"""

from __future__ import annotations

import json
import math
import random
import sys
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_extraction import ENGLISH, FILLER, NON_ENGLISH, ROLES, _text  # noqa: E402  (one list of names)

# names production sees that the suite never does
NEW_NON_ENGLISH = ["Nguyễn Thị Mai", "Siobhán Ní Bhriain", "Zoltán Szabó", "Grzegorz Brzęczyszczykiewicz",
                   "Aurélie Thévenin", "Ægir Þórðarson", "Çağla Öztürk", "Radosław Wójcik", "Ines Ruíz-Mateo"]
LOCALES = {"english": ["en-US", "en-GB"], "non_english": ["de-DE", "pl-PL", "fr-FR", "es-ES", "tr-TR", "da-DK"]}
CHANNELS = ["web", "api", "mobile"]
START = datetime(2026, 11, 16, tzinfo=timezone.utc)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _very_long(rng: random.Random, name: str, role_sentence: str) -> str:
    """A document of ~50 sentences (about 800 tokens, `input_tokens=long`) with the fact buried
    among other names: longer than anything in the suite (whose long texts have 15 sentences)."""
    others = [n for n in ENGLISH if n != name]
    sentences = [role_sentence.format(name=name)]
    sentences += [rng.choice(FILLER).format(other=rng.choice(others)) for _ in range(48)]
    rng.shuffle(sentences)
    return " ".join(sentences)


def make_lines(n: int = 320, seed: int = 20261201) -> list[dict]:
    rng = random.Random(seed)
    lines = []
    for i in range(n):
        day = 14 * i / n   # requests in time order over two weeks
        p_foreign = 0.35 + 0.30 * day / 14           # non-English names grow from 35% to 65%
        origin = "non_english" if rng.random() < p_foreign else "english"
        length = rng.choices(["short", "medium", "long"], weights=[25, 30, 45])[0]
        pool = ENGLISH if origin == "english" else NON_ENGLISH + NEW_NON_ENGLISH
        name = rng.choice(pool)
        role, sentence = rng.choice(ROLES)
        text = _text(rng, name, sentence, length) if length != "long" else _very_long(rng, name, sentence)
        prompt = (f"Answer with the person's full name only, spelled exactly as in the text.\n\n{text}\n\n"
                  f"Question: Who {role}?")
        # the production model: right ~93%; its mistakes drop accents or name someone else
        if rng.random() < 0.93:
            response = name
        elif _fold(name) != name:
            response = _fold(name)
        else:
            response = rng.choice([x for x in ENGLISH if x != name])
        base = {"short": 320.0, "medium": 420.0, "long": 650.0}[length]
        latency = round(base * math.exp(rng.gauss(0.0, 0.35)), 1)
        when = START + timedelta(days=day, seconds=rng.randint(0, 3600))
        lines.append({
            "prompt": prompt, "response": response, "model": "prod-extractor-v3", "latency_ms": latency,
            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "metadata": {"channel": rng.choice(CHANNELS), "locale": rng.choice(LOCALES[origin])},
        })
    return lines


def main() -> None:
    out = Path(__file__).resolve().parent / "data" / "traffic.jsonl"
    out.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in make_lines()), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
