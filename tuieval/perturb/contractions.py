"""Contractions: "do not" ↔ "don't", "I am" ↔ "I'm", "it is" → "it's" …

Each contractible phrase or contraction outside the protected spans is toggled with
probability `severity`. Only unambiguous contractions are expanded: "it's" may be "it is" or
"it has" and "he'd" "he had" or "he would", so those are only ever produced, never expanded.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, draw_positions, edit_segments

# (long form, contraction, expandable)
_PAIRS: tuple[tuple[str, str, bool], ...] = (
    ("do not", "don't", True), ("does not", "doesn't", True), ("did not", "didn't", True),
    ("is not", "isn't", True), ("are not", "aren't", True), ("was not", "wasn't", True),
    ("were not", "weren't", True), ("cannot", "can't", True), ("will not", "won't", True),
    ("could not", "couldn't", True), ("should not", "shouldn't", True), ("would not", "wouldn't", True),
    ("have not", "haven't", True), ("has not", "hasn't", True), ("had not", "hadn't", True),
    ("must not", "mustn't", True), ("need not", "needn't", True),
    ("I am", "I'm", True), ("you are", "you're", True), ("we are", "we're", True),
    ("they are", "they're", True), ("I will", "I'll", True), ("you will", "you'll", True),
    ("we will", "we'll", True), ("they will", "they'll", True), ("I have", "I've", True),
    ("you have", "you've", True), ("we have", "we've", True), ("they have", "they've", True),
    ("it is", "it's", False), ("that is", "that's", False), ("what is", "what's", False),
    ("who is", "who's", False), ("where is", "where's", False), ("there is", "there's", False),
    ("he is", "he's", False), ("she is", "she's", False), ("let us", "let's", False),
)

_TO_SHORT = {long.lower(): short for long, short, _ in _PAIRS}
_TO_LONG = {short.lower(): long for long, short, expandable in _PAIRS if expandable}


def _alternation(forms) -> str:
    out = []
    for form in sorted(forms, key=len, reverse=True):
        out.append(r"\s+".join(re.escape(w).replace("'", "['\u2019]") for w in form.split(" ")))
    return "|".join(out)


_RX = re.compile(r"(?<![\w'\u2019])(?:" + _alternation(list(_TO_SHORT) + list(_TO_LONG)) + r")(?![\w'\u2019])",
                 re.IGNORECASE)


def _match_case(template: str, new: str) -> str:
    if new.startswith("I ") or new.startswith("I'") or new == "I":
        return new                      # "I" is always capital
    if len(template) > 1 and template.isupper():
        return new.upper()
    if template[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


def _toggle(found: str) -> str:
    key = re.sub(r"\s+", " ", found.replace("\u2019", "'")).lower()
    if key in _TO_LONG:
        return _match_case(found, _TO_LONG[key])
    return _match_case(found, _TO_SHORT[key])


def contraction_segment(segment: str, rate: float, rng: random.Random) -> tuple[str, int, int]:
    found = list(_RX.finditer(segment))
    chosen = draw_positions(rng, len(found), rate)
    if not chosen:
        return segment, 0, len(found)
    pieces = []
    pos = 0
    for j in chosen:
        m = found[j]
        pieces.append(segment[pos:m.start()])
        pieces.append(_toggle(m.group(0)))
        pos = m.end()
    pieces.append(segment[pos:])
    return "".join(pieces), len(chosen), len(found)


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_segments(item, lambda seg: contraction_segment(seg, rate, rng), "nothing to contract or expand")


FAMILY = Family("contractions", "contractions expanded or formed (don't ↔ do not)", apply, 1.0,
                "the share of phrases toggled")
