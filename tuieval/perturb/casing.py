"""Casing: words changed to lower case, UPPER CASE or Title case.

Each word with case (outside the protected spans) is re-cased with probability `severity`,
to one of the forms it is not already in.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, below, edit_pieces

_WORD = re.compile(r"([^\W\d_]+)")


_FORMS: dict[str, list[str]] = {}


def _forms(word: str) -> list[str]:
    # words repeat a lot in prose, so the forms are computed once per distinct word
    forms = _FORMS.get(word)
    if forms is None:
        lower, upper = word.lower(), word.upper()
        title = upper[:1] + lower[1:] if len(word) > 1 else upper
        forms = [f for f in dict.fromkeys((lower, upper, title)) if f != word]
        if len(_FORMS) < 100_000:
            _FORMS[word] = forms
    return forms


def _cased(parts: list[str], k: int) -> bool:
    return bool(_forms(parts[k]))


def _recase(parts: list[str], k: int, rng: random.Random) -> str | None:
    forms = _forms(parts[k])
    return forms[below(rng, len(forms))] if forms else None


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    # _recase itself says when a word has no other case (one dictionary look-up, not two)
    return edit_pieces(item, rng, rate, _WORD, None, _recase, "no cased word outside the answer", check=_cased)


FAMILY = Family("casing", "words re-cased (lower, UPPER, Title)", apply, 0.3, "the share of words re-cased")
