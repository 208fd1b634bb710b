"""The faster non-ASCII-word pattern behind `non_ascii_name` finds exactly what the plain one does."""

from __future__ import annotations

import random
import re

from tuieval.analysis.slices import _NON_ASCII_WORD, has_non_ascii_name

# the definition: a run of letters holding at least one non-ASCII letter
PLAIN = re.compile(r"[^\W\d_]*[^\W\d_\x00-\x7f][^\W\d_]*")


def test_same_matches_as_the_plain_pattern_on_random_text():
    rng = random.Random(0)
    alphabet = "abcXYZéÉłŁßжЖΩω 19_.!?\n-'’K"
    for _ in range(5000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert [(m.start(), m.group()) for m in _NON_ASCII_WORD.finditer(s)] == \
            [(m.start(), m.group()) for m in PLAIN.finditer(s)], s


def test_names_mid_sentence_still_found():
    assert has_non_ascii_name("The report was written by José Álvarez last week.")
    assert has_non_ascii_name("Signed: Anna and Łukasz")
    assert not has_non_ascii_name("Łukasz signed it.")
