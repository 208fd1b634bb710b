"""What the pairs screen marks as changed between a prompt and its perturbed copy."""

from __future__ import annotations

from tuieval.tui.textdiff import changed_spans


def cut(text: str, spans: list[tuple[int, int]]) -> str:
    out, at = [], 0
    for a, b in spans:
        out.append(text[at:a])
        at = b
    return "".join(out) + text[at:]


def test_equal_texts_have_no_change():
    assert changed_spans("A box holds 12 towels.", "A box holds 12 towels.") == ([], [])


def test_a_typo_marks_only_the_changed_letter():
    a, b = "A box holds 12 towels.", "A bpx holds 12 towels."
    assert changed_spans(a, b) == ([(3, 4)], [(3, 4)])  # "o" → "p"


def test_typos_in_two_words_mark_each_letter():
    a, b = "How many towels are in 34 boxes?", "How mahy towels are in 34 boxss?"
    sa, sb = changed_spans(a, b)
    assert [a[x:y] for x, y in sa] == ["n", "e"] and [b[x:y] for x, y in sb] == ["h", "s"]


def test_an_inserted_sentence_is_marked_whole_and_the_rest_is_common():
    a = "A box holds 12 towels. How many towels are in 34 boxes?"
    b = "A box holds 12 towels. The wall clock runs a little fast. How many towels are in 34 boxes?"
    sa, sb = changed_spans(a, b)
    assert sa == []
    assert "".join(b[x:y] for x, y in sb).strip() == "The wall clock runs a little fast."
    assert cut(b, sb) == a


def test_a_doubled_space_and_a_dropped_comma_are_changes_of_their_own():
    a, b = "Yes, it is  here", "Yes it is here"
    sa, sb = changed_spans(a, b)
    assert cut(a, sa) == cut(b, sb)
    assert "," in "".join(a[x:y] for x, y in sa) and " " in "".join(a[x:y] for x, y in sa)


def test_a_homoglyph_is_one_marked_character():
    a, b = "Paris", "Pаris"  # Cyrillic а
    assert changed_spans(a, b) == ([(1, 2)], [(1, 2)])
