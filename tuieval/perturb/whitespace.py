"""Whitespace: runs of spaces between words doubled, tripled or turned into tabs.

Line breaks are never added or removed, so line-structured inputs (option lists, tables)
keep their lines. Each horizontal gap outside the protected spans changes with probability
`severity`.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, draw_positions, edit_segments

_GAP = re.compile(r"[ \t]+")
_VARIANTS = ("  ", "   ", "\t", " \t", "    ")


def whitespace_segment(segment: str, rate: float, rng: random.Random) -> tuple[str, int, int]:
    gaps = list(_GAP.finditer(segment))
    chosen = draw_positions(rng, len(gaps), rate)
    if not chosen:
        return segment, 0, len(gaps)
    pieces = []
    pos = 0
    for j in chosen:
        m = gaps[j]
        options = [v for v in _VARIANTS if v != m.group(0)]
        pieces.append(segment[pos:m.start()])
        pieces.append(options[rng.randrange(len(options))])
        pos = m.end()
    pieces.append(segment[pos:])
    return "".join(pieces), len(chosen), len(gaps)


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_segments(item, lambda seg: whitespace_segment(seg, rate, rng), "no space between words outside the answer")


FAMILY = Family("whitespace", "spaces doubled or turned into tabs", apply, 0.3, "the share of gaps changed")
