"""Whitespace: runs of spaces between words doubled, tripled or turned into tabs.

Line breaks are never added or removed, so line-structured inputs (option lists, tables)
keep their lines. Each horizontal gap outside the protected spans changes with probability
`severity`.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, below, edit_pieces

_GAP = re.compile(r"([ \t]+)")
_VARIANTS = ("  ", "   ", "\t", " \t", "    ")


_OTHERS = {v: tuple(w for w in _VARIANTS if w != v) for v in _VARIANTS}


def _respace(parts: list[str], k: int, rng: random.Random) -> str:
    options = _OTHERS.get(parts[k], _VARIANTS)
    return options[below(rng, len(options))]


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_pieces(item, rng, rate, _GAP, None, _respace, "no space between words outside the answer")


FAMILY = Family("whitespace", "spaces doubled or turned into tabs", apply, 0.3, "the share of gaps changed")
