"""Whitespace: runs of spaces between words doubled, tripled or turned into tabs.

Line breaks are never added or removed, so line-structured inputs (option lists, tables)
keep their lines. Each horizontal gap outside the protected spans changes with probability
`severity`.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Choices, Edit, Family, Item, Skip, edit_choices

_GAP = re.compile(r"([ \t]+)")


class _Gaps:
    """`_GAP.split`, by `str.split(" ")` when every gap is one space (no tab, no double space):
    the pieces are then the words with " " between them, built without the regex (twice as
    fast; tests hold the two to each other)."""

    @staticmethod
    def split(text: str) -> list[str]:
        if "\t" in text or "  " in text:
            return _GAP.split(text)
        words = text.split(" ")
        parts = [" "] * (2 * len(words) - 1)
        parts[::2] = words
        return parts
_VARIANTS = ("  ", "   ", "\t", " \t", "    ")


# a gap → the other gaps it may become
GAPS = Choices(lambda gap: tuple(v for v in _VARIANTS if v != gap))


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_choices(item, rng, rate, _Gaps, GAPS, "no space between words outside the answer")


FAMILY = Family("whitespace", "spaces doubled or turned into tabs", apply, 0.3, "the share of gaps changed")
