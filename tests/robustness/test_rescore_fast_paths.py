"""The re-scoring fast paths held to the plain code they replace, on generated responses.

`tuieval rescore` judges the built-in extractors by set look-ups (`member_keys`), reads the last
number from `findall`'s groups, and counts readings in C; each must give exactly what the plain
form gives: the extractor's own `equal` per (reading, case), the last entry of `find_numbers`.
"""

from __future__ import annotations

import random
from decimal import Decimal

import numpy as np
import pytest

from tuieval.report.rescore import extractor_columns
from tuieval.scoring.extractors import build_extractor
from tuieval.scoring.numeric import extract_last_number, find_numbers

PIECES = ["Answer: ", "answer：", "**Answer**: ", "\\boxed{", "}", "{", "$", "€", "-", "\u2212", "+", ",", ".",
          "%", "e3", "E-2", " ", "\n", "The total is ", "(B)", "B", "c", "D)", "so ", "x2", "1,000", "12,345.67",
          "29.00", "29", "7", "0", ".5", "1e99999999999999999999", "{\"answer\": 29}", "Paris", "the Paris",
          "İ", "ſ", "3-5", "42.", "v1.2.3"]
RIGHT = ["Answer: {}", "\\boxed{{{}}}", "({})", '{{"answer": "{}"}}', "So it is {}.", "Answer: ${}"]
EXTRACTORS = ["strict", "last_number", "first_number", "number", "choice", "boxed", "json_field:answer"]
TARGETS = [["29"], [29], [29.0], ["1000"], [1000], ["B"], ["b"], ["Paris"], ["7", "8"], [0.5], ["12345.67"],
           [None, "29"], [], ["-1000"], [True], [{"x": 1}], ["$29.00"]]


def _responses(rng: random.Random, n: int) -> list[str | None]:
    out: list[str | None] = []
    for _ in range(n):
        if rng.random() < 0.03:
            out.append(None)
        else:
            out.append("".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 9))))
    return out


def test_last_number_is_the_last_of_find_numbers():
    rng = random.Random(5)
    texts = [t for t in _responses(rng, 3000) if t is not None]
    assert extract_last_number("a 3, b $4.5") == ("$4.5", Decimal("4.5"))
    for text in texts:
        every = find_numbers(text)
        assert extract_last_number(text) == (every[-1] if every else None), text


@pytest.mark.parametrize("name", EXTRACTORS)
def test_keyed_judging_is_the_plain_equal_per_pair(name):
    rng = random.Random(name)
    n_cases = 60
    # responses repeat within and across cases, and a case may hold several targets or none
    pool = _responses(rng, 120)
    targets = {f"c{i}": rng.choice(TARGETS) for i in range(n_cases)}
    samples = [{"case_id": f"c{rng.randrange(n_cases)}", "response": rng.choice(pool)} for _ in range(900)]
    for s in samples[::3]:
        # a third answer their own case's target in one of the shapes the extractors read
        said = next((t for t in targets[s["case_id"]] if isinstance(t, (str, int, float))), "29")
        s["response"] = rng.choice(RIGHT).format(said)
    extractor = build_extractor(name)
    assert extractor.member_keys, "every built-in extractor has the look-up form"
    (fast_ok,), (fast_read,) = extractor_columns([extractor], samples, targets)
    (plain_ok,), (plain_read,) = extractor_columns([extractor], samples, targets, keyed=False)
    assert fast_read == plain_read
    assert np.array_equal(fast_ok, plain_ok)
    # and the plain path is the extractor's own judge, one sample at a time
    for s, ok, read in zip(samples, plain_ok.tolist(), plain_read):
        assert extractor.judge(s["response"], extractor.prepare(list(targets[s["case_id"]]))) == (read, ok)
    assert 0 < int(fast_ok.sum()) < len(samples)


def test_several_extractors_share_prepared_targets_and_keep_their_verdicts():
    rng = random.Random(9)
    pool = _responses(rng, 80)
    samples = [{"case_id": f"c{rng.randrange(40)}", "response": rng.choice(pool)} for _ in range(500)]
    targets = {f"c{i}": rng.choice(TARGETS) for i in range(40)}
    built = [build_extractor(n) for n in EXTRACTORS]
    fast_ok, fast_read = extractor_columns(built, samples, targets)
    plain_ok, plain_read = extractor_columns(built, samples, targets, keyed=False)
    assert fast_read == plain_read
    assert all(np.array_equal(a, b) for a, b in zip(fast_ok, plain_ok))


def test_normalize_shortcut_for_one_ascii_word_is_the_full_normalization():
    from tuieval.scoring.normalize import normalize_text, normalize_text_full

    rng = random.Random(11)
    alphabet = "aAbBeEhHnNtT0123456789zZ"
    words = ["a", "A", "an", "An", "AN", "the", "The", "THE", "thE", "then", "at", "3702", "B", "Paris", "x2"]
    words += ["".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 6))) for _ in range(3000)]
    for w in words:
        assert normalize_text(w) == normalize_text_full(w), w
    # by hand: an article alone is dropped, anything else is lower-cased
    assert (normalize_text("The"), normalize_text("THEN"), normalize_text("42")) == ("", "then", "42")
