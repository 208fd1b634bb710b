"""The faster scans behind the derived slices find exactly what the plain rules do."""

from __future__ import annotations

import random
import re

from tuieval.analysis.slices import _SENTENCE_END, has_non_ascii_name

# the definition: a run of letters holding at least one non-ASCII letter
PLAIN = re.compile(r"[^\W\d_]*[^\W\d_\x00-\x7f][^\W\d_]*")


def plain_has_non_ascii_name(text: str) -> bool:
    """The rule as the docstring states it, word by word."""
    if text.isascii():
        return False
    for m in PLAIN.finditer(text):
        w = m.group(0)
        if not w[0].isupper() or (len(w) > 1 and w.isupper()):
            continue
        if m.start() <= 8 and not text[: m.start()].strip():
            continue
        if _SENTENCE_END.search(text[max(0, m.start() - 8): m.start()]):
            continue
        return True
    return False


def test_same_verdict_as_the_plain_rule_on_random_text():
    rng = random.Random(0)
    alphabet = "abcXYZéÉłŁßжЖΩωǅⒶ 19_.!?\n-'’KĲ"
    for _ in range(8000):
        s = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert has_non_ascii_name(s) == plain_has_non_ascii_name(s), s


def test_same_verdict_on_long_mostly_ascii_text():
    # past 512 characters the few non-ASCII letters are located first: words around them must
    # come out as the plain scan sees them, at any position in the text
    rng = random.Random(1)
    words = ["the", "Report", "was", "filed", "by", "José", "müller", "Łukasz", "ÉCOLE", "—", "café", "x²",
             "Ⓐbc", "ǅemal", "Anna", "1999", "_", ".", "?", "\n", "Ж", "жена", "Øst"]
    n_long = 0
    for _ in range(1000):
        parts = [rng.choice(words[:5] + words[14:16]) for _ in range(rng.randint(100, 160))]
        for _ in range(rng.randint(0, 4)):
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(words))
        s = " ".join(parts) if rng.random() < 0.8 else "".join(parts)
        n_long += len(s) > 512
        assert has_non_ascii_name(s) == plain_has_non_ascii_name(s), s
    assert n_long > 700


def test_names_mid_sentence_still_found():
    assert has_non_ascii_name("The report was written by José Álvarez last week.")
    assert has_non_ascii_name("Signed: Anna and Łukasz")
    assert has_non_ascii_name("Договор подписал Иван вчера")
    assert not has_non_ascii_name("Łukasz signed it.")
    assert not has_non_ascii_name("the café was closed, said ÉCOLE staff")


def test_script_labels_of_many_rows_match_the_rule_row_by_row():
    import numpy as np

    from tuieval.analysis.slices import _SCRIPT_ID, _SCRIPTS, _script_labels

    def one(row):  # the rule as stated, one text at a time
        votes = row.copy()
        votes[_SCRIPT_ID["symbol"]] = 0
        if votes.sum() == 0:
            return "none"
        best = int(votes.argmax())
        if votes[[_SCRIPT_ID["han"], _SCRIPT_ID["kana"], _SCRIPT_ID["hangul"]]].sum() >= votes[best]:
            if votes[_SCRIPT_ID["kana"]] > 0:
                return "japanese"
            return "korean" if votes[_SCRIPT_ID["hangul"]] > votes[_SCRIPT_ID["han"]] else "cjk"
        return _SCRIPTS[best]

    rng = np.random.default_rng(5)
    counts = rng.integers(0, 3, size=(3000, len(_SCRIPTS))) * (rng.random((3000, len(_SCRIPTS))) < 0.25)
    assert _script_labels(counts) == [one(r) for r in counts]
    assert {"none", "cjk", "japanese", "korean", "latin"} <= set(_script_labels(counts))
