"""Each family does what it says, checked against facts computed here, not by the family."""

from __future__ import annotations

import math
import random
import re
import unicodedata

import pytest

from tuieval.analysis.slices import detect_script, estimate_tokens, token_bucket
from tuieval.perturb import FAMILIES
from tuieval.perturb.base import Edit, Item, Skip
from tuieval.perturb.numbers import format_number, number_words

PROSE = ("The quick brown fox jumps over the lazy dog while the committee reviews the budget. "
         "Several reports were filed before the deadline, and the auditors asked for more details. ") * 20


def _item(text: str, targets=("zzz",), *more: str) -> Item:
    from tuieval.perturb.base import target_strings
    return Item(texts=(text, *more), targets=tuple(targets), protected=target_strings(targets))


def _apply(name: str, item: Item, severity, seed: int = 1):
    return FAMILIES[name].apply(item, severity, random.Random(seed))


# a QWERTY layout written out by hand: key → the keys that touch it
QWERTY_TOUCHING = {
    "g": set("ftyhbv"), "a": set("qwsz"), "p": set("ol"), "m": set("nj k".replace(" ", "")),
    "q": set("wa"), "z": set("asx"), "e": set("wrsd"), "j": set("huiknm"),
}


def test_typos_change_about_the_rate_of_letters_to_touching_keys():
    item = _item(PROSE)
    eligible = sum(ch.isascii() and ch.isalpha() for ch in PROSE)
    rate = 0.1
    changed_total = 0
    reps = 30
    for seed in range(reps):
        out = _apply("typos", item, rate, seed)
        new = out.texts[0]
        assert len(new) == len(PROSE)
        diffs = [(a, b) for a, b in zip(PROSE, new) if a != b]
        assert out.edits >= len(diffs)        # a substitution never picks the same key, but count ≥ diffs
        for a, b in diffs:
            assert a.isalpha() and b.isalpha() and a.isupper() == b.isupper()
            if a.lower() in QWERTY_TOUCHING:
                assert b.lower() in QWERTY_TOUCHING[a.lower()], (a, b)
        changed_total += len(diffs)
    # Binomial(reps × eligible, rate): 4 standard deviations either side
    n = reps * eligible
    assert abs(changed_total - n * rate) < 4 * math.sqrt(n * rate * (1 - rate))


def test_typos_never_touch_the_answer_and_skip_without_letters():
    text = "Nobody but Chloe Sanders wrote it. " * 10
    for seed in range(20):
        new = _apply("typos", _item(text, ["Chloe Sanders"]), 0.9, seed).texts[0]
        assert new.count("Chloe Sanders") == 10
    assert isinstance(_apply("typos", _item("1234 5678 !!"), 0.5), Skip)


def test_number_formats():
    assert format_number(1000, "digits") == "1000"
    assert format_number(1000, "grouped") == "1,000"
    assert format_number(1000, "words") == "one thousand"
    assert number_words(1440) == "one thousand four hundred forty"
    assert number_words(21) == "twenty-one"
    assert number_words(0) == "zero"
    assert number_words(100) == "one hundred"
    assert number_words(2_000_017) == "two million seventeen"
    assert number_words(999_999_999_999).startswith("nine hundred ninety-nine billion")


@pytest.mark.parametrize("given, allowed", [
    ("There were 1000 apples.", {"There were 1,000 apples.", "There were one thousand apples."}),
    ("There were 1,000 apples.", {"There were 1000 apples.", "There were one thousand apples."}),
    ("Add 17 and 23.", {"Add seventeen and twenty-three."}),
])
def test_numbers_move_to_another_format(given, allowed):
    outs = {_apply("numbers", _item(given), 1.0, seed).texts[0] for seed in range(30)}
    assert outs <= allowed
    assert len(outs) == len(allowed)          # every other format is reachable


def test_numbers_next_to_a_currency_or_percent_sign_stay_digits():
    outs = {_apply("numbers", _item("It costs $1200, up 15% on last year."), 1.0, seed).texts[0] for seed in range(20)}
    assert outs == {"It costs $1,200, up 15% on last year."}
    assert isinstance(_apply("numbers", _item("Only $120 and 15%."), 1.0), Skip)


def test_numbers_leave_years_decimals_codes_and_answers_alone():
    text = "In 1912 it sank; since 1989, 3.5 km, CO2, the 3rd try, call 007, 1000 BC, 4 legs."
    out = _apply("numbers", _item(text, ["4"]), 1.0)
    assert isinstance(out, Skip)
    out = _apply("numbers", _item("Between 1999 and 2003 they made 250 chairs.", ["1999"]), 1.0).texts[0]
    assert out.startswith("Between 1999 and ") and "250" not in out and "two hundred fifty" in out


def test_casing_only_changes_case_of_about_the_rate_of_words():
    item = _item(PROSE)
    new = _apply("casing", item, 0.3, 3).texts[0]
    assert new.lower() == PROSE.lower() and new != PROSE
    words, new_words = PROSE.split(), new.split()
    changed = sum(a != b for a, b in zip(words, new_words))
    n, p = len(words), 0.3
    # a chosen word always changes form, so changed words ~ Binomial(n, 0.3)
    assert abs(changed - n * p) < 4 * math.sqrt(n * p * (1 - p))


def test_whitespace_changes_only_horizontal_gaps():
    text = "Which is it?\nA) one two\nB) three four"
    for seed in range(10):
        new = _apply("whitespace", _item(text), 1.0, seed).texts[0]
        assert new.count("\n") == 2
        assert re.sub(r"[ \t]+", " ", new) == text
        assert new != text


def test_punctuation_keeps_words_and_numbers():
    text = "Well, 3.5 km and 1,000 m: is that far? Yes! It is; very."
    for seed in range(10):
        new = _apply("punctuation", _item(text), 1.0, seed).texts[0]
        assert "3.5" in new and "1,000" in new
        strip = lambda s: re.sub(r"[\s.,;:!?\-]+", " ", s).strip()
        assert strip(new) == strip(text)
        assert new != text


@pytest.mark.parametrize("given, expected", [
    ("I do not know", "I don't know"),
    ("They can't come and I'm late.", "They cannot come and I am late."),
    ("It is what it is", "It's what it's"),
    ("Don’t WILL NOT", "Do not WON'T"),
    ("It's been long; she'd go", None),         # ambiguous contractions are never expanded
])
def test_contractions(given, expected):
    out = _apply("contractions", _item(given), 1.0)
    if expected is None:
        assert isinstance(out, Skip)
    else:
        assert out.texts[0] == expected


def test_homoglyphs_look_alike_letters_at_the_rate():
    item = _item(PROSE)
    new = _apply("homoglyphs", item, 0.2, 5).texts[0]
    assert len(new) == len(PROSE)
    diffs = [(a, b) for a, b in zip(PROSE, new) if a != b]
    for a, b in diffs:
        assert a.isascii() and not b.isascii()
        assert detect_script(b) in {"cyrillic", "greek"}
        assert unicodedata.category(a) == unicodedata.category(b)       # Ll stays Ll, Lu stays Lu
    eligible = sum(ch in "acreijopsxyABCEHIKMNOPTXYZ" for ch in PROSE)
    n, p = eligible, 0.2
    assert abs(len(diffs) - n * p) < 4 * math.sqrt(n * p * (1 - p))


def test_names_swap_input_and_target_together():
    text = "The report was written by Laura Bennett. Later, Bennett said Laura was tired."
    out = _apply("names", _item(text, ["Laura Bennett"], "Who wrote the report?"), 0.5)
    assert isinstance(out, Edit)
    new_name = out.targets[0]
    assert new_name != "Laura Bennett"
    assert "Laura" not in out.texts[0] and "Bennett" not in out.texts[0]
    assert out.texts[0].count(new_name) == 1
    assert out.texts[1] == "Who wrote the report?"
    assert out.detail["names"] == {"Laura Bennett": new_name}


def test_names_severity_picks_the_script():
    text = "The bridge was designed by Peter Novak."
    for seed in range(15):
        far = _apply("names", _item(text, ["Peter Novak"]), 1.0, seed).targets[0]
        near = _apply("names", _item(text, ["Peter Novak"]), 0.0, seed).targets[0]
        assert detect_script(far) not in {"latin", "none"}
        assert detect_script(near) == "latin" and near != "Peter Novak"


def test_names_only_in_the_input_or_only_in_the_target_are_left_alone():
    assert isinstance(_apply("names", _item("Who painted the Mona Lisa?", ["Leonardo da Vinci"]), 1.0), Skip)
    assert isinstance(_apply("names", _item("Who wrote 'Pride and Prejudice'?", ["Jane Austen"]), 1.0), Skip)
    # a place is not a person
    assert isinstance(_apply("names", _item("Which ocean? The Pacific Ocean.", ["Pacific Ocean"]), 1.0), Skip)


def test_names_in_a_json_target_follow_and_other_fields_stay():
    target = {"name": "Anna Schmidt", "year": 1987, "city": "Kraków"}
    out = _apply("names", _item("Anna Schmidt founded the choir in Kraków in 1987.", [target]), 0.5)
    new = out.targets[0]
    assert new["year"] == 1987 and new["city"] == "Kraków" and new["name"] != "Anna Schmidt"
    assert out.texts[0] == f"{new['name']} founded the choir in Kraków in 1987."


QUESTION = "Which one is a fruit?\nA) carrot\nB) apple\nC) leek\nD) kale\nAnswer with a letter."


def _options(text: str) -> dict[str, str]:
    return dict(re.findall(r"^([A-D])\) (.+)$", text, re.M))


@pytest.mark.parametrize("target", ["B", "(B)", "B."])
def test_option_shuffle_remaps_the_target_letter(target):
    seen_orders = set()
    for seed in range(12):
        out = _apply("options", _item(QUESTION, [target]), None, seed)
        opts = _options(out.texts[0])
        letter = re.search(r"[A-D]", out.targets[0]).group(0)
        assert opts[letter] == "apple"
        assert out.targets[0] == target.replace("B", letter)
        assert sorted(opts.values()) == ["apple", "carrot", "kale", "leek"]
        assert list(opts.values()) != ["carrot", "apple", "leek", "kale"]
        assert out.texts[0].startswith("Which one is a fruit?\n") and out.texts[0].endswith("\nAnswer with a letter.")
        seen_orders.add(tuple(opts.values()))
    assert len(seen_orders) > 3


def test_option_shuffle_with_the_option_text_as_target_and_skips():
    out = _apply("options", _item(QUESTION, ["apple"]), None, 4)
    assert out.targets == ("apple",) and sorted(_options(out.texts[0]).values()) == ["apple", "carrot", "kale", "leek"]
    assert isinstance(_apply("options", _item("What is 2 + 2?", ["4"]), None), Skip)
    assert isinstance(_apply("options", _item(QUESTION, ["E"]), None), Skip)


def test_distractors_pad_into_a_longer_bucket_and_keep_the_question_last():
    question = "Who led the expedition?"
    passage = "The expedition to the northern glacier was led by Samuel Price. It took a month."
    assert token_bucket(estimate_tokens(passage + "\n" + question)) == "short"
    for severity, bucket in ((0.3, "medium"), (1.0, "long")):
        out = _apply("distractors", _item(passage, ["Samuel Price"], question), severity)
        joined = "\n".join(out.texts)
        assert token_bucket(estimate_tokens(joined)) == bucket
        assert out.texts[1] == question                      # the longest text is the one padded
        assert out.texts[0].endswith("It took a month.")     # never after the last sentence
        assert "The expedition to the northern glacier was led by Samuel Price." in out.texts[0]
        assert not re.search(r"\d", out.texts[0])
    assert isinstance(_apply("distractors", _item("tok3", ["tok3"]), 0.5), Skip)
    long_text = "word " * 800
    assert isinstance(_apply("distractors", _item(long_text), 0.5), Skip)


def test_distractors_never_use_a_sentence_that_contains_the_target():
    from tuieval.perturb.distractors import SENTENCES
    target = "coffee"
    assert any("coffee" in s for s in SENTENCES)
    for seed in range(5):
        out = _apply("distractors", _item("Which drink?", [target]), 1.0, seed)
        assert "coffee" not in out.texts[0].lower()


@pytest.mark.parametrize("text, spans, expected", [
    # after ". ", after "!\n\n" and after "? " (before the last sentence), and the start
    ("One. Two!\n\nThree? Four", (), [0, 5, 11, 18]),
    # nothing after the last sentence, however much whitespace follows it
    ("One. Two.  \n\n", (), [0, 5]),
    # a line break without punctuation is a boundary; "3.5" is not
    ("Total 3.5 units\nNext line. End", (), [0, 16, 27]),
    # a boundary inside a protected span (the answer "Two! Three") is never used
    ("One. Two! Three. Four", ((5, 15),), [0, 5, 17]),
])
def test_distractor_insertion_points_are_sentence_boundaries(text, spans, expected):
    from tuieval.perturb.distractors import _insertion_points

    assert _insertion_points(text, spans) == expected
