"""The tokeniser and the overlap measures, against values worked out by hand."""

from __future__ import annotations

import random

from tuieval.contamination.text import (
    chunks_tokens, longest_common_run, ngram_overlap, ngrams, reproduction, shuffled_words, tokens,
)


def test_tokens_are_lowercased_runs_of_letters_and_digits():
    # punctuation, symbols, underscores and whitespace separate; accents are letters
    assert tokens("Don't STOP!  Über-cool_x, 3.14\n(yes)") == ["don", "t", "stop", "über", "cool", "x", "3", "14", "yes"]
    assert tokens("... -- !!") == []


def test_ngrams_in_order_and_none_when_too_short():
    assert list(ngrams(["a", "b", "c", "d"], 3)) == [("a", "b", "c"), ("b", "c", "d")]
    assert list(ngrams(["a", "b"], 3)) == []


def test_ngram_overlap_is_the_share_of_the_references_distinct_ngrams_found():
    ref = tokens("the cat sat on the mat")          # 3-grams: the cat sat / cat sat on / sat on the / on the mat
    cand = tokens("a cat sat on the sofa")           # has: cat sat on, sat on the
    assert ngram_overlap(ref, cand, 3) == 2 / 4
    # a repeated reference n-gram counts once
    assert ngram_overlap(tokens("a b c a b c"), tokens("a b c"), 3) == 1 / 3   # distinct: abc, bca, cab
    assert ngram_overlap(tokens("too short"), tokens("too short"), 3) is None


def test_longest_common_run_over_tokens_with_its_positions():
    ref = "x the quick brown fox y".split()
    cand = "a quick brown fox b the quick".split()
    run = longest_common_run(ref, cand)
    assert (run.length, run.ref_start, run.cand_start) == (3, 2, 1)   # quick brown fox
    assert longest_common_run(["a"], ["b"]).length == 0
    # ties: the earliest run in the candidate wins
    tie = longest_common_run("p q r s".split(), "r s p q".split())
    assert (tie.length, tie.cand_start, tie.ref_start) == (2, 0, 2)


def test_reproduction_reports_the_span_in_the_answers_own_characters():
    reference = "sea level on Earth? A) Oxygen"
    answer = "Sure: Sea Level on earth — A) oxygen!"
    r = reproduction(reference, answer, 3)
    # tokens: sea level on earth a oxygen (6), all reproduced in order
    assert r.lcs_tokens == 6
    assert r.overlap == 1.0
    assert r.span == (6, 36)
    assert r.span_text == "Sea Level on earth — A) oxygen"
    none = reproduction(reference, "no idea", 3)
    assert (none.lcs_tokens, none.overlap, none.span, none.span_text) == (0, 0.0, None, "")


def test_shuffled_control_keeps_the_words_and_changes_their_order():
    text = "one two three four five six"
    out = shuffled_words(text, random.Random(3))
    assert sorted(out.split()) == sorted(text.split())
    assert out != text
    assert shuffled_words("alone", random.Random(0)) == "alone"


def test_tokens_of_a_text_in_pieces_are_the_tokens_of_the_whole():
    pieces = ["Hel", "lo, wor", "ld", "", ". A", "B c!", "d"]
    assert list(chunks_tokens(pieces)) == ["hello", "world", "ab", "c", "d"]
    assert list(chunks_tokens(["abc"])) == ["abc"]
    assert list(chunks_tokens([])) == []
