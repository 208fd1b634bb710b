"""Contractions: "do not" ↔ "don't", "I am" ↔ "I'm", "it is" → "it's" …

Each contractible phrase or contraction outside the protected spans is toggled with
probability `severity`. Only unambiguous contractions are expanded: "it's" may be "it is" or
"it has" and "he'd" "he had" or "he would", so those are only ever produced, never expanded.
"""

from __future__ import annotations

import functools
import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, edit_pieces

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


def _units(form: str) -> list[str]:
    return [r"\s+" if ch == " " else ("['\u2019]" if ch == "'" else re.escape(ch)) for ch in form.lower()]


def _trie_pattern(forms, after_first: str = "") -> str:
    r"""One regex for all forms, shaped as a prefix trie ("d(?:o(?:\s+not|n['’]t)|…)").

    Python's engine tries the branches of a flat alternation one by one at every position;
    sharing prefixes makes the scan about four times faster on prose. A branch that may end
    early is optional and greedy, so the longest form wins, as in a longest-first alternation.
    """
    root: dict = {}
    for form in forms:
        node = root
        for unit in _units(form):
            node = node.setdefault(unit, {})
        node[""] = {}

    def emit(node: dict, glue: str = "") -> str:
        alts = [unit + glue + emit(child) for unit, child in node.items() if unit != ""]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        return f"(?:{body})?" if "" in node else body

    # `after_first` goes after the first unit of each form (the look-behind of the scan below)
    return emit(root, after_first)


_FORMS_RX = r"((?<![\w'\u2019])" + _trie_pattern(list(_TO_SHORT) + list(_TO_LONG)) + r"(?![\w'\u2019]))"
_RX = re.compile(_FORMS_RX, re.IGNORECASE)
# The forms are lower case: on lower-cased ASCII text (same offsets, same word characters) a
# case-sensitive match finds what _RX finds in the text, and skips the case folding of every
# character it tries. There the look-behind also moves after the first letter, as a two-character
# look-behind (`(?<![\w'’].)`: the letter before the match's first one): the same test, but the
# pattern now starts with a letter in every branch, so the regex engine skips, by a table, every
# position whose character starts no form, instead of trying the look-behind and the branches at
# each one (the scan was the largest part of this family's time; tests hold the two to each other).
_RX_LOWER = re.compile(r"(" + _trie_pattern(list(_TO_SHORT) + list(_TO_LONG), r"(?<![\w'\u2019].)")
                       + r"(?![\w'\u2019]))")


class _Forms:
    """`_RX.split`, done on the lower-cased text when that is the same (ASCII) and cheaper."""

    @staticmethod
    def split(text: str) -> list[str]:
        if not text.isascii():
            return _RX.split(text)
        parts = _RX_LOWER.split(text.lower())
        if len(parts) == 1:
            return [text]
        # the pieces as the text writes them: lower() kept every length
        out = []
        pos = 0
        for part in parts:
            end = pos + len(part)
            out.append(text[pos:end])
            pos = end
        return out


def _match_case(template: str, new: str) -> str:
    if new.startswith("I ") or new.startswith("I'") or new == "I":
        return new                      # "I" is always capital
    if len(template) > 1 and template.isupper():
        return new.upper()
    if template[:1].isupper():
        return new[:1].upper() + new[1:]
    return new


@functools.lru_cache(maxsize=4096)
def _toggle(found: str) -> str:
    # a pure function of the matched text, and the same few phrases ("didn't", "It is") recur in
    # nearly every text: worked out once each (the whitespace regex and case matching cost ~3 µs a
    # call, a quarter of this family's time on long texts)
    key = re.sub(r"\s+", " ", found.replace("\u2019", "'")).lower()
    if key in _TO_LONG:
        return _match_case(found, _TO_LONG[key])
    return _match_case(found, _TO_SHORT[key])


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_pieces(item, rng, rate, _Forms, None, lambda parts, k, _rng: _toggle(parts[k]),
                       "nothing to contract or expand")


FAMILY = Family("contractions", "contractions expanded or formed (don't ↔ do not)", apply, 1.0,
                "the share of phrases toggled")
