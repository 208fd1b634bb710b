"""Casing: words changed to lower case, UPPER CASE or Title case.

Each word with case (outside the protected spans) is re-cased with probability `severity`,
to one of the forms it is not already in.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Choices, Edit, Family, Item, Skip, edit_choices

_WORD = re.compile(r"([^\W\d_]+)")
# In ASCII text the letters [^\W\d_] matches are exactly [A-Za-z], a range test the regex engine
# makes far faster than the Unicode category test: splitting was the largest part of this
# family's time (the pieces are the same, tests hold the two to each other).
_ASCII_WORD = re.compile(r"([A-Za-z]+)")


class _Words:
    """The word splitter `edit_choices` uses: `_WORD.split`, by the cheaper pattern when it can."""

    @staticmethod
    def split(text: str) -> list[str]:
        return (_ASCII_WORD if text.isascii() else _WORD).split(text)


def _forms(word: str) -> tuple[str, ...]:
    lower, upper = word.lower(), word.upper()
    title = upper[:1] + lower[1:] if len(word) > 1 else upper
    return tuple(f for f in dict.fromkeys((lower, upper, title)) if f != word)


FORMS = Choices(_forms)


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_choices(item, rng, rate, _Words, FORMS, "no cased word outside the answer")


FAMILY = Family("casing", "words re-cased (lower, UPPER, Title)", apply, 0.3, "the share of words re-cased")
