"""The 13-gram corpus probe: lm-evaluation-harness' rule, streamed in pieces."""

from __future__ import annotations

import pytest

from tuieval.contamination.corpus import CorpusError, scan_corpus, scan_tokens

# 14 tokens: its 13-grams are tokens 1-13 and 2-14
CASE = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi"


def test_a_case_sharing_any_13_gram_is_contaminated_across_lines_case_and_punctuation(tmp_path):
    corpus = tmp_path / "corpus.txt"
    # tokens 2..14 of the case, split over lines, in other case and with punctuation between
    corpus.write_text("noise noise BETA, gamma delta\nepsilon-zeta eta theta iota\nkappa lambda mu nu xi. end\n",
                      encoding="utf-8")
    scan = scan_corpus({"c1": CASE, "c2": "only twelve tokens here"}, str(corpus), chunk_chars=5)
    assert scan.hits == {"c1": "beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi"}
    assert scan.too_short == ["c2"]
    assert scan.n_corpus_tokens == 16   # 5 + 5 + 6 tokens on the three lines, whatever the piece size
    assert scan.n_case_ngrams == 2


def test_twelve_shared_tokens_are_not_a_match():
    corpus = "beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu".split()  # 12 in a row
    assert scan_tokens({"c1": CASE}, [corpus]).hits == {}
    # 13 in a row across three batches: found once
    full = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu".split()
    assert scan_tokens({"c1": CASE}, [full[:2], full[2:3], full[3:]]).hits == {"c1": " ".join(full)}


def test_the_same_text_in_any_piece_size_gives_the_same_hits(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("x " * 50 + CASE.upper() + " y" * 50, encoding="utf-8")
    for size in (1, 3, 7, 64, 1 << 20):
        assert set(scan_corpus({"c1": CASE}, str(corpus), chunk_chars=size).hits) == {"c1"}


def test_an_unreadable_corpus_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(CorpusError, match="missing.txt: no such file"):
        scan_corpus({"c": CASE}, str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"ok \xff\xfe not utf-8")
    with pytest.raises(CorpusError, match="bad.txt: not UTF-8"):
        scan_corpus({"c": CASE}, str(bad))
