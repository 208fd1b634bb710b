"""Punctuation: marks dropped, doubled or swapped for a near one (, ↔ ;  . → !).

A mark between two digits is never touched ("3.5", "1,000" are numbers, not punctuation), and
nothing inside a protected span is. Each eligible mark changes with probability `severity`.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, draw_positions, edit_segments

_MARK = re.compile(r"(?<!\d)[.,;:!?]|[.,;:!?](?!\d)")
_SWAP = {",": ";", ";": ",", ".": "!", "!": ".", "?": "?!", ":": " -"}


def punctuation_segment(segment: str, rate: float, rng: random.Random) -> tuple[str, int, int]:
    marks = list(_MARK.finditer(segment))
    chosen = draw_positions(rng, len(marks), rate)
    if not chosen:
        return segment, 0, len(marks)
    pieces = []
    pos = 0
    for j in chosen:
        m = marks[j]
        mark = m.group(0)
        op = rng.randrange(3)
        new = "" if op == 0 else (mark + mark if op == 1 else _SWAP[mark])
        pieces.append(segment[pos:m.start()])
        pieces.append(new)
        pos = m.end()
    pieces.append(segment[pos:])
    return "".join(pieces), len(chosen), len(marks)


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_segments(item, lambda seg: punctuation_segment(seg, rate, rng), "no punctuation outside the answer")


FAMILY = Family("punctuation", "punctuation dropped, doubled or swapped", apply, 0.5, "the share of marks changed")
