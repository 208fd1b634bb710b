"""Each fast path of the perturbation code held to the plain rule it replaces, written out here.

The speed work on the shared per-case path and the splitters must not change a character: the
seeded random source must be `random.Random(n)`'s, each splitter must give `re.split`'s pieces
for the plain pattern, letter targets must be found as the plain whole-word regex finds them,
and the linked copy must carry every field of its original. The texts are drawn (seeded) from an
alphabet chosen to hit the edges: digits around marks, tabs and double spaces, apostrophes of
both kinds, underscores, and non-ASCII characters whose case folding is not ASCII's
(Kelvin sign, long s, dotted capital I) or that are digits or letters outside ASCII.
"""

from __future__ import annotations

import dataclasses
import random
import re

import pytest

from tuieval.perturb import make_spec, perturb_case, perturb_cases
from tuieval.perturb import casing, contractions, numbers, punctuation, whitespace
from tuieval.perturb.base import (
    Item, RngKeys, draw_positions, frozen, make_item, pick_chars, protected_spans, seeded_random, target_strings,
)
from tuieval.perturb.apply import Perturbed, Skipped
from tuieval.suite.model import Case

PIECES = ["a", "b", "B", "x", "do", "not", "Do", "NOT", "is", "it", "I", "am", "can't", "don’t", "cannot", "won't",
          "1", "7", "42", "1,000", "3.5", "12,34", "2024", "in", "0", "_", "é", "İ", "ſ", "\u212a", "٣", "ок",
          ".", ",", ";", ":", "!", "?", "-", "+", "'", "’", "(", ")", " ", " ", " ", "  ", "\t", " \t", "\n", "\n\n"]


def texts(n: int, seed: int, ascii_only: bool = False) -> list[str]:
    rng = random.Random(seed)
    pieces = [p for p in PIECES if p.isascii()] if ascii_only else PIECES
    out = ["", " ", "a", "B", ".", "1.5", "a  b", "\ta", "a\t"]
    for _ in range(n):
        out.append("".join(rng.choice(pieces) for _ in range(rng.randrange(0, 40))))
    return out


ALL = texts(1500, 1)
ASCII = texts(1500, 2, ascii_only=True)


# ---------------------------------------------------------------------------------------------
# the seeded random source
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2**32 - 1, 2**32, 2**63 + 12345, 2**64 - 1, 0x9F3A5C7E11223344])
def test_seeded_random_is_random_Random_of_the_same_int(n):
    fast, plain = seeded_random(n), random.Random(n)
    assert fast.getstate() == plain.getstate()
    assert [fast.random() for _ in range(3)] + [fast.getrandbits(70)] == \
        [plain.random() for _ in range(3)] + [plain.getrandbits(70)]
    items = list(range(20))
    other = list(items)
    fast.shuffle(items)
    plain.shuffle(other)
    assert items == other


def test_rng_keys_are_the_blake2b_rule_for_every_case():
    import hashlib

    keys = RngKeys(42, "typos", 0.05)
    for case_id in ["c01", "q-07", "ex 3", "é~x", ""]:
        key = f"42\x1f{case_id}\x1ftypos\x1f0.05".encode("utf-8")
        plain = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))
        assert keys.rng(case_id).getstate() == plain.getstate()


# ---------------------------------------------------------------------------------------------
# targets and protected spans
# ---------------------------------------------------------------------------------------------

def _plain_target_strings(targets):
    # the rule: every scalar leaf as text, stripped, non-empty, first occurrence kept, longest first
    seen: list[str] = []
    for t in targets:
        s = t.strip()
        if s and s not in seen:
            seen.append(s)
    return tuple(sorted(seen, key=len, reverse=True))


@pytest.mark.parametrize("targets", [["Canberra"], [" Canberra ", "canberra", "Canberra"], ["", "  "], ["a", "bb", "c"],
                                     ("x", "yy", "x"), []])
def test_flat_text_targets_give_what_the_rule_gives(targets):
    assert target_strings(targets) == _plain_target_strings(targets)


def _plain_letter_spans(text: str, letter: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"(?<!\w)" + re.escape(letter) + r"(?!\w)", text, re.IGNORECASE)]


@pytest.mark.parametrize("letter", ["a", "B", "I", "x", "7", "0", "_", "k", "s"])
def test_letter_targets_are_found_as_the_whole_word_regex_finds_them(letter):
    # the fast path is for ASCII text (where lower() keeps offsets and folds case as the regex
    # does); other text takes the general path, unchanged and pinned by the digests
    for text in ASCII + [t for t in ALL if t.isascii()]:
        assert protected_spans(text, (letter,)) == _plain_letter_spans(text, letter), (letter, text)


def _plain_pick(rng, text, spans, rate, eligible):
    return [i for i in draw_positions(rng, len(text), rate)
            if text[i] in eligible and not any(s <= i < e for s, e in spans)]


def test_pick_chars_with_spans_is_the_plain_filter():
    eligible = set("abBxIi")
    for k, text in enumerate(ALL):
        spans = protected_spans(text, ("a", "do not", "1,000"))
        for rate in (0.1, 0.5):
            assert pick_chars(random.Random(k), text, spans, rate, eligible) == \
                _plain_pick(random.Random(k), text, spans, rate, eligible)


# ---------------------------------------------------------------------------------------------
# the splitters
# ---------------------------------------------------------------------------------------------

OLD_PATTERNS = {
    "casing": (casing._Words, re.compile(r"([^\W\d_]+)")),
    "whitespace": (whitespace._Gaps, re.compile(r"([ \t]+)")),
    "punctuation": (punctuation._MARK, re.compile(r"((?<!\d)[.,;:!?]|[.,;:!?](?!\d))")),
    "numbers": (numbers._NUMBER, re.compile(r"(?<![\w.,\-+\u2212])(\d{1,3}(?:,\d{3})+|\d+)(?![\w]|[.,]\d)")),
    "contractions": (contractions._Forms, contractions._RX),
}


@pytest.mark.parametrize("family", sorted(OLD_PATTERNS))
def test_each_splitter_gives_the_plain_patterns_pieces(family):
    fast, plain = OLD_PATTERNS[family]
    extra = ["1,000,000.", "a1", "-5", "x.5", "5,", "1,234,56 7", "(1000)", "٣,٤", "Do  not", "I AM", "DON'T",
             "it\u2019s", "_is not", "xdo not", "don'tx", "\u212aelvin", "Canberra,Sydney",
             # the contractions' look-behind after the first letter: each character that may precede a form
             "'do not", "\u2019cannot", "9it is", "\ndo not", "do not", ".I am", "x'd", "é do not"]
    for text in ALL + ASCII + extra:
        assert fast.split(text) == plain.split(text), (family, text)


# ---------------------------------------------------------------------------------------------
# the linked copy and the objects made once per case
# ---------------------------------------------------------------------------------------------

def test_the_copy_carries_every_other_field_and_shares_no_list_with_the_original():
    case = Case("c01", {"question": "I do not know.", "choices": ["a", "b"],
                        "chat": [{"role": "user", "content": "I do not know."}]},
                ["yes"], metadata={"topic": "t"}, line=17, human_label="correct")
    out = perturb_case(case, make_spec("contractions", 1.0), seed=1, input_vars=["question", "chat"])
    assert isinstance(out, Perturbed)
    new = out.case
    assert (new.line, new.human_label, new.metadata["topic"]) == (17, "correct", "t")
    assert new.vars["question"] == "I don't know." and new.vars["chat"][0]["content"] == "I don't know."
    assert new.vars["choices"] == ["a", "b"] and new.vars["choices"] is not case.vars["choices"]
    assert new.vars["chat"] is not case.vars["chat"] and case.vars["chat"][0]["content"] == "I do not know."
    assert new.targets == ["yes"] and new.targets is not case.targets
    # every field of Case is accounted for: a field added later must be carried over too
    assert {f.name for f in dataclasses.fields(Case)} == {"id", "vars", "targets", "metadata", "line", "human_label"}


def test_objects_filled_in_one_call_equal_constructed_ones_and_stay_frozen():
    item = make_item(("B) yes",), ("B",))
    plain = Item(texts=("B) yes",), targets=("B",), protected=("B",), other_text="", spans=(((0, 1),),))
    assert item == plain and hash(item) == hash(plain)
    with pytest.raises(dataclasses.FrozenInstanceError):
        item.texts = ()
    skipped = frozen(Skipped, case_id="c", perturbation="p", reason="r")
    assert skipped == Skipped("c", "p", "r")
    with pytest.raises(dataclasses.FrozenInstanceError):
        skipped.reason = "x"


def test_a_batch_gives_what_one_case_at_a_time_gives():
    cases = [Case(f"c{i}", {"question": t, "text": "B) x\nC) y"}, ["B"]) for i, t in enumerate(ASCII[:60])]
    specs = [make_spec(name, None) for name in ("typos", "casing", "whitespace", "punctuation", "numbers")]
    batch = perturb_cases(cases, specs, seed=4, input_vars=["question", "text"])
    one = [perturb_case(c, s, seed=4, input_vars=["question", "text"]) for c in cases for s in specs]
    assert [p.case for p in batch.perturbed] == [p.case for p in one if isinstance(p, Perturbed)]
    assert batch.skipped == [p for p in one if isinstance(p, Skipped)]
