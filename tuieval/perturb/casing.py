"""Casing: words changed to lower case, UPPER CASE or Title case.

Each word with case (outside the protected spans) is re-cased with probability `severity`,
to one of the forms it is not already in.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, draw_positions, edit_segments

_WORD = re.compile(r"[^\W\d_]+")


def _forms(word: str) -> list[str]:
    forms = [word.lower(), word.upper(), word[:1].upper() + word[1:].lower()]
    out: list[str] = []
    for f in forms:
        if f != word and f not in out:
            out.append(f)
    return out


def casing_segment(segment: str, rate: float, rng: random.Random) -> tuple[str, int, int]:
    words = [m for m in _WORD.finditer(segment) if m.group(0).lower() != m.group(0).upper()]
    chosen = draw_positions(rng, len(words), rate)
    if not chosen:
        return segment, 0, len(words)
    pieces = []
    pos = 0
    edits = 0
    for j in chosen:
        m = words[j]
        forms = _forms(m.group(0))
        if not forms:
            continue
        pieces.append(segment[pos:m.start()])
        pieces.append(forms[rng.randrange(len(forms))])
        pos = m.end()
        edits += 1
    pieces.append(segment[pos:])
    return "".join(pieces), edits, len(words)


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_segments(item, lambda seg: casing_segment(seg, rate, rng), "no cased word outside the answer")


FAMILY = Family("casing", "words re-cased (lower, UPPER, Title)", apply, 0.3, "the share of words re-cased")
