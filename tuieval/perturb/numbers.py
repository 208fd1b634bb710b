"""Number formats: an integer written as digits (1000), with thousands separators (1,000) or
in words (one thousand), changed to another of those forms.

Each eligible number outside the protected spans is rewritten with probability `severity`.
Not eligible: decimals, numbers glued to letters (CO2, 3rd), signed numbers, and years (a four-digit number after "in", "since", "from" …, or before
AD/BC), because "in 1,912" would change how the sentence reads, not just its format. Words are
not used from a trillion up, nor next to a currency or percent sign ("$1200" may become
"$1,200", never "$one thousand two hundred").
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, edit_pieces

_ONES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
         "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen")
_TENS = ("", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_SCALES = ((10**9, "billion"), (10**6, "million"), (10**3, "thousand"))
MAX_WORDS = 10**12 - 1

# an integer: plain digits or correctly grouped by commas; not part of a word, a decimal,
# a signed number or a longer grouped number. The look-behind is tested after the first digit
# ("a digit not preceded by …"), so that the pattern starts with a digit and the regex engine
# only tries the places where one is (2× faster split; the same matches in the same order: both
# alternatives start with that digit)
_NUMBER = re.compile(r"(\d(?<![\w.,\-+\u2212]\d)(?:\d{0,2}(?:,\d{3})+|\d*))(?![\w]|[.,]\d)")
_YEAR_BEFORE = re.compile(r"(?:\b(?:in|since|from|until|till|by|of|circa|year|around|before|after|during)\s+)$",
                          re.IGNORECASE)
_YEAR_AFTER = re.compile(r"^\s*(?:AD|BC|BCE|CE|A\.D\.|B\.C\.)\b")
STYLES = ("digits", "grouped", "words")


def _below_thousand(n: int) -> str:
    parts = []
    if n >= 100:
        parts.append(f"{_ONES[n // 100]} hundred")
        n %= 100
    if n >= 20:
        parts.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n > 0 or not parts:
        parts.append(_ONES[n])
    return " ".join(parts)


def number_words(n: int) -> str:
    """English words for 0 ≤ n < 10**12, without "and" ("one thousand four hundred forty")."""
    if not 0 <= n <= MAX_WORDS:
        raise ValueError(f"cannot write {n} in words")
    if n < 1000:
        return _below_thousand(n)
    parts = []
    for scale, name in _SCALES:
        if n >= scale:
            parts.append(f"{_below_thousand(n // scale)} {name}")
            n %= scale
    if n:
        parts.append(_below_thousand(n))
    return " ".join(parts)


def format_number(n: int, style: str) -> str:
    """`n` written in one of STYLES: "1000", "1,000" or "one thousand"."""
    if style == "digits":
        return str(n)
    if style == "grouped":
        return f"{n:,}"
    if style == "words":
        return number_words(n)
    raise ValueError(f"unknown number style {style!r}")


def _style_of(text: str) -> str:
    return "grouped" if "," in text else "digits"


def _is_year(before: str, digits: str, after: str) -> bool:
    if len(digits) != 4 or "," in digits:
        return False
    return bool(_YEAR_BEFORE.search(before[-12:]) or _YEAR_AFTER.match(after))


_ALTERNATIVES: dict[str, list[str]] = {}


def _alternatives(text: str) -> list[str]:
    alts = _ALTERNATIVES.get(text)
    if alts is None:
        alts = _compute_alternatives(text)
        if len(_ALTERNATIVES) < 100_000:
            _ALTERNATIVES[text] = alts
    return alts


def _compute_alternatives(text: str) -> list[str]:
    n = int(text.replace(",", ""))
    if text != "0" and text.startswith("0"):
        return []                            # "007", "0800": codes, not quantities
    current = _style_of(text)
    out = []
    for style in STYLES:
        if style == current or (style == "grouped" and n < 1000) or (style == "words" and n > MAX_WORDS):
            continue
        out.append(format_number(n, style))
    return out


_SYMBOL_BEFORE = frozenset("$€£¥₹₩₽#")
_SYMBOL_AFTER = frozenset("%‰°")


def _choices(parts: list[str], k: int) -> list[str]:
    alts = _alternatives(parts[k])
    # "$120" → "$one hundred twenty" and "50%" → "fifty%" are not ways anyone writes numbers:
    # next to a symbol, only the digit forms
    if parts[k - 1][-1:] in _SYMBOL_BEFORE or parts[k + 1][:1] in _SYMBOL_AFTER:
        alts = [a for a in alts if a[:1].isdigit()]
    return alts


def _eligible(parts: list[str], k: int) -> bool:
    return not _is_year(parts[k - 1], parts[k], parts[k + 1]) and bool(_choices(parts, k))


def _reformat(parts: list[str], k: int, rng: random.Random) -> str | None:
    if _is_year(parts[k - 1], parts[k], parts[k + 1]):
        return None
    alts = _choices(parts, k)
    # `below(rng, len(alts))` written out: the same draw, one call fewer per number
    return alts[int(rng.random() * len(alts))] if alts else None


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_pieces(item, rng, rate, _NUMBER, None, _reformat, "no number to reformat outside the answer",
                       check=_eligible)


FAMILY = Family("numbers", "integers rewritten as 1000 / 1,000 / one thousand", apply, 1.0,
                "the share of numbers rewritten")
