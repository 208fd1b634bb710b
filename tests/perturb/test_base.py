"""The shared machinery: the seeded random source, Bernoulli position draws, protected spans."""

from __future__ import annotations

import hashlib
import math
import random

from tuieval.perturb.base import case_rng, draw_positions, protected_spans, severity_label, target_strings


def test_case_rng_is_the_blake2b_of_the_key_not_pythons_salted_hash():
    key = "7\x1fc01\x1ftypos\x1f0.1".encode()
    expected = random.Random(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big"))
    rng = case_rng(7, "c01", "typos", 0.1)
    assert [rng.random() for _ in range(5)] == [expected.random() for _ in range(5)]


def test_case_rng_differs_with_each_part_of_the_key():
    first = case_rng(1, "c01", "typos", 0.1).random()
    assert case_rng(2, "c01", "typos", 0.1).random() != first
    assert case_rng(1, "c02", "typos", 0.1).random() != first
    assert case_rng(1, "c01", "casing", 0.1).random() != first
    assert case_rng(1, "c01", "typos", 0.2).random() != first


def test_severity_label_is_canonical():
    assert severity_label(0.1) == "0.1"
    assert severity_label(1) == "1"
    assert severity_label(1.0) == "1"
    assert severity_label(0.025) == "0.025"
    assert severity_label(None) == ""


def test_draw_positions_is_a_bernoulli_process_at_the_rate():
    # 200 draws of n=500 at p=0.1: the total is Binomial(100000, 0.1); allow 5 standard deviations
    rng = random.Random(42)
    n, p, reps = 500, 0.1, 200
    total = 0
    per_index = [0] * n
    for _ in range(reps):
        chosen = draw_positions(rng, n, p)
        assert chosen == sorted(set(chosen)) and all(0 <= i < n for i in chosen)
        total += len(chosen)
        for i in chosen:
            per_index[i] += 1
    mean, sd = n * reps * p, math.sqrt(n * reps * p * (1 - p))
    assert abs(total - mean) < 5 * sd
    # no position is favoured: the first and last hundred indices get about the same share
    first, last = sum(per_index[:100]), sum(per_index[-100:])
    sd_block = math.sqrt(100 * reps * p * (1 - p))
    assert abs(first - last) < 5 * math.sqrt(2) * sd_block


def test_draw_positions_edges():
    rng = random.Random(0)
    assert draw_positions(rng, 0, 0.5) == []
    assert draw_positions(rng, 10, 0.0) == []
    assert draw_positions(rng, 4, 1.0) == [0, 1, 2, 3]


def test_target_strings_are_the_scalar_leaves_longest_first():
    got = target_strings([{"name": "Maria Lopez", "year": 1998, "city": "Seville"}, ["x", True], None, "  "])
    assert set(got) == {"Maria Lopez", "1998", "Seville", "x", "true"}
    assert got[0] == "Maria Lopez"


def test_protected_spans_are_whole_words_at_word_edges_and_case_insensitive():
    text = "Answer 6, not 16 or 61; the hexagon has 6 sides. CANBERRA is in canberra."
    spans = protected_spans(text, ("6", "Canberra"))
    found = [text[s:e] for s, e in spans]
    assert found == ["6", "6", "CANBERRA", "canberra"]
    assert protected_spans("B) apple\nBristol", ("B",)) == [(0, 1)]


def test_protected_spans_merge_overlaps_and_keep_offsets_with_length_changing_case():
    # "İ".lower() is two characters: offsets must still be offsets into the original text
    text = "İzmir and İzmir Bay"
    spans = protected_spans(text, ("İzmir Bay", "İzmir"))
    assert [text[s:e] for s, e in spans] == ["İzmir", "İzmir Bay"]
    assert protected_spans("Jane Austen wrote", ("Jane Austen", "Austen")) == [(0, 11)]
