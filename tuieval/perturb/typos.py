"""Keyboard typos: each eligible letter, with probability `rate`, becomes a neighbouring key.

Eligible letters are the ASCII letters outside the protected spans. Only substitutions (no
insertions or deletions), so the text keeps its length and "rate 0.1" means that about 10% of
the eligible letters differ from the original, which the tests can count.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, edit_chars

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _neighbours() -> dict[str, str]:
    # Keys touching on a staggered QWERTY layout: same row left/right, and the row above and
    # below at the same and the next offset (row r+1 is shifted right by about half a key).
    pos = {ch: (r, c) for r, row in enumerate(_ROWS) for c, ch in enumerate(row)}
    out: dict[str, str] = {}
    for ch, (r, c) in pos.items():
        near = []
        for dr, dcs in ((0, (-1, 1)), (-1, (0, 1)), (1, (-1, 0))):
            rr = r + dr
            if not 0 <= rr < len(_ROWS):
                continue
            for dc in dcs:
                cc = c + dc
                if 0 <= cc < len(_ROWS[rr]):
                    near.append(_ROWS[rr][cc])
        out[ch] = "".join(near)
    return out


NEIGHBOURS = _neighbours()
# letter → the keys touching it, in the letter's case
TYPOS: dict[str, tuple[str, ...]] = {
    **{k: tuple(v) for k, v in NEIGHBOURS.items()},
    **{k.upper(): tuple(v.upper()) for k, v in NEIGHBOURS.items()},
}
ELIGIBLE = frozenset(TYPOS)
_LETTER = re.compile(r"[A-Za-z]")


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_chars(item, rng, rate, _LETTER, TYPOS, "no ASCII letter outside the answer")


FAMILY = Family("typos", "keyboard-adjacent letter substitutions", apply, 0.05,
                "the share of eligible letters changed")
