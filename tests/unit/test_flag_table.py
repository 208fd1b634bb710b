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
