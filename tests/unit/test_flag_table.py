"""The slice features' per-code-point table, built from whole-BMP regex passes, equals the
per-character rules it replaces (str.isspace, the regex \\d, a non-ASCII letter) at every BMP
code point, surrogates included."""

import re

import numpy as np

from tuieval.analysis import slices


def _reference_table() -> np.ndarray:
    digit, letter = re.compile(r"\d"), re.compile(r"[^\W\d_]")
    table = np.zeros(0x10000, dtype=np.uint8)
    for cp in range(0x10000):
        c = chr(cp)
        table[cp] = ((1 if c.isspace() else 0) | (2 if digit.match(c) else 0)
                     | (4 if cp > 0x7F and letter.match(c) else 0))
    return table


def test_flag_table_matches_the_per_character_rules():
    slices._FLAGS = None  # built afresh, not a table another test left behind
    got = slices._flag_table()
    want = _reference_table()
    assert got.dtype == np.uint8 and got.shape == (0x10000,)
    diff = np.flatnonzero(got != want)
    assert diff.size == 0, [(hex(int(cp)), int(got[cp]), int(want[cp])) for cp in diff[:10]]
    # a few hand-checked points: space, NBSP, ideographic space; ASCII and Arabic-Indic digits;
    # 'a' (ASCII: not flagged), 'é' and '中' (non-ASCII letters)
    assert [int(got[ord(c)]) for c in " \u00a0\u3000" "7\u0663" "a\u00e9\u4e2d"] == [1, 1, 1, 2, 2, 0, 4, 4]


def test_text_below_u0100_is_read_from_the_latin1_part_with_the_same_features():
    # the Latin-1 part equals the whole table's first 256 entries (the per-character rules)
    assert np.array_equal(slices._flags_below(0x100), _reference_table()[:0x100])
    texts = ["plain ascii 42", "café  crème\u00a0brûlée", "", "  x  ", "tab\there", "\u00b2 \u00bd"]
    slices._FLAGS = slices._LATIN1_FLAGS = None
    latin1 = slices._char_flags(texts)
    assert slices._FLAGS is None and slices._LATIN1_FLAGS is not None  # the BMP table was not built
    whole = slices._flag_table()
    assert slices._flags_covering(np.array([0x4E2D], dtype=np.uint32)) is whole
    got = slices._char_flags(texts)
    assert [x.tolist() if hasattr(x, "tolist") else x for x in latin1] == \
        [x.tolist() if hasattr(x, "tolist") else x for x in got]
    # by hand: words 3, 3 (NBSP splits), 0, 1, 2, 2; a digit only in the first (² and ½ are
    # numbers, not decimal digits, so the rule [^\W\d_] counts them as non-ASCII "letters", as
    # it does the second text's é, è, û)
    assert latin1[0].tolist() == [3, 3, 0, 1, 2, 2]
    assert list(latin1[1]) == [True, False, False, False, False, False]
    assert list(latin1[2]) == [False, True, False, False, False, True]
