"""Canonical answers: the normalised form under which two answers count as the same (docs/statistics.md §1.2).

Tier 1 of the clustering is "equal canonical forms share a cluster"; every other tier
first collapses canonical duplicates, so this is also what every tier builds on.
"""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal, InvalidOperation

ARTICLES = frozenset({"a", "an", "the"})

# A number: optional sign (only when not glued to a preceding letter/digit, so that
# "covid-19" keeps 19 positive), thousands groups "1,000,000" or plain digits, optional
# decimals; or a bare ".5".  "1,2,3" stays three numbers because groups need 3 digits.
_TOKEN = re.compile(
    r"(?:(?<![^\W_])-)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![^\W_])"
    r"|(?:(?<![^\W_])-)?\.\d+(?![^\W_])"
    r"|[^\W_]+"
)
_WORDS = re.compile(r"[^\W_]+")
_ASCII_NON_WORD = {c: " " for c in range(128) if not chr(c).isalnum()}
_DIGIT = re.compile(r"\d")
_APOSTROPHES = re.compile(r"(?<=[^\W_])['’`](?=[^\W_])")
_FENCE = re.compile(r"^```[\w-]*\s*\n?(.*?)\n?```\s*$", re.S)


def _canonical_number(tok: str) -> str:
    try:
        d = Decimal(tok.replace(",", ""))
    except InvalidOperation:
        return tok  # a word that starts with a digit ("19th")
    if not d.is_finite():
        return tok
    if d == 0:
        return "0"  # "-0", "0.00" and "0" agree
    text = format(d.normalize(), "f")  # 1000.0 → 1E+3 → "1000"; 0.50 → "0.5"
    return text


def _normalise_json(obj):
    # 1 and 1.0 are the same JSON number to every consumer; make them compare equal.
    if isinstance(obj, dict):
        return {k: _normalise_json(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_normalise_json(v) for v in obj]
    if isinstance(obj, float) and obj.is_integer() and abs(obj) < 2 ** 53:
        return int(obj)
    return obj


def canonical_answer(text: str | None) -> str | None:
    """Normalised form of an answer: equal forms count as the same answer.

    - None stays None (an error or missing answer is not an answer).
    - A JSON object or array (optionally inside a ``` fence) becomes compact JSON
      with sorted keys, and integral floats become ints: {"b": 1.0, "a": 2} ≡ {"a":2,"b":1}.
      String values inside JSON are left exactly as they are: they are data.
    - Otherwise: Unicode NFKC, case-folded; apostrophes inside words removed
      ("isn't" → "isnt", so negations stay one token); punctuation dropped;
      the articles a/an/the dropped; numbers canonicalised so "1,000", "1000" and
      "1000.0" agree (thousands commas, trailing zeros, leading zeros, -0); whitespace
      collapsed.  Empty strings (and pure punctuation) become "" and are an answer.
    Limits: "1.000" is read as one, not as a European thousand; "$5" and "5%" both
    become "5"; number words ("one thousand") are not converted.
    """
    if text is None:
        return None
    s = text.strip()
    fenced = _FENCE.match(s)
    if fenced:
        s = fenced.group(1).strip()
    if s[:1] in ("{", "["):
        try:
            obj = json.loads(s)
        except ValueError:
            obj = None
        if isinstance(obj, (dict, list)):
            return json.dumps(_normalise_json(obj), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    ascii_only = s.isascii()
    # NFKC is the identity on ASCII, and casefold() equals lower() there
    s = s.lower() if ascii_only else unicodedata.normalize("NFKC", s).casefold().replace("\u2212", "-")
    if "'" in s or "\u2019" in s or "`" in s:
        s = _APOSTROPHES.sub("", s)
    if _DIGIT.search(s) is None:
        # no numbers: plain word tokens (the number-aware pattern is ~3x slower on prose);
        # for ASCII, mapping every non-word character to a space and splitting is the same
        # tokenisation as [^\W_]+ and twice as fast again
        toks = s.translate(_ASCII_NON_WORD).split() if ascii_only else _WORDS.findall(s)
        return " ".join([t for t in toks if t not in ARTICLES])
    # findall does the tokenising in C; only tokens that start like a number are touched
    out = [_canonical_number(t) if (t[0].isdigit() or t[0] in "-.") else t
           for t in _TOKEN.findall(s) if t not in ARTICLES]
    return " ".join(out)

