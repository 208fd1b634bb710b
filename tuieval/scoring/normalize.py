"""SQuAD-style text normalization, extended to Unicode.

The steps follow the SQuAD v1.1 evaluation script (lowercase, drop punctuation, drop the
articles a/an/the, collapse whitespace) so scores are comparable with published numbers,
with two Unicode additions:

* NFKC first, so full-width letters, ligatures ("ﬁ") and composed/decomposed accents
  compare equal;
* "punctuation" means every Unicode punctuation (P*) or symbol (S*) character, the
  Unicode analogue of Python's `string.punctuation` (which also holds $, +, ^ ...);

and one deliberate departure: a decimal point between digits is kept, because SQuAD's
rule makes "2.5" and "25" the same answer (thousands commas are still dropped).

Letters are never folded further: accents are kept ("José" != "Jose") and `str.lower`
is used rather than `casefold`, so "ß" stays "ß". Deciding that "José García" and "jose
garcia" are different answers is deliberate: stripping accents conflates distinct words
in many languages, and a model that drops them has not reproduced the name.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from tuieval.scoring.base import target_text

# A decimal point: kept, unlike all other punctuation.
_DECIMAL_POINT = re.compile(r"(?<=[0-9])\.(?=[0-9])")
# After punctuation removal; \b is Unicode-aware, so "thé" does not contain "the".
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")


class _StripPunctuation(dict):
    """A `str.translate` table deleting P*/S* characters, filled lazily per code point.

    Looking up `unicodedata.category` once per distinct character (then caching) keeps
    normalization fast on long responses without precomputing all of Unicode.
    """

    def __missing__(self, codepoint: int) -> int | None:
        keep = unicodedata.category(chr(codepoint))[0] not in "PS"
        value = codepoint if keep else None
        self[codepoint] = value
        return value


_STRIP = _StripPunctuation()


def normalize_text(s: Any) -> str:
    """Lowercase, strip punctuation and symbols, drop a/an/the, collapse whitespace (NFKC).

    >>> normalize_text("  The  Eiffel-Tower!  ")
    'eiffeltower'
    >>> normalize_text("José GARCÍA.")
    'josé garcía'

    Non-strings are rendered as targets are (42 -> "42", True -> "true"); None -> "".
    """
    if s.__class__ is str and s.isascii() and s.isalnum():
        # one ASCII word or number ("3702", "Paris", "B"), the most common answer: NFKC keeps
        # ASCII as it is, nothing is punctuation, and the only article it can be is itself
        low = s.lower()
        return "" if low in _ARTICLE_WORDS else low
    return normalize_text_full(s)


_ARTICLE_WORDS = frozenset(("a", "an", "the"))


def normalize_text_full(s: Any) -> str:
    """`normalize_text` by every step, with no shortcut (tests hold the shortcut to it)."""
    if not isinstance(s, str):
        s = target_text(s) or ""
    s = unicodedata.normalize("NFKC", s).lower()
    # Strip punctuation around, but not inside, decimal numbers: SQuAD would make "2.5"
    # and "25" equal. Thousands commas still go, so "1,000" == "1000".
    s = ".".join(part.translate(_STRIP) for part in _DECIMAL_POINT.split(s))
    s = _ARTICLES.sub(" ", s)
    # Again: deleting a symbol between a letter and its combining accent lets them
    # compose now, and the result must not change if normalized a second time.
    return unicodedata.normalize("NFKC", " ".join(s.split()))
