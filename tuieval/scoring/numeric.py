"""Numeric answers: extract the last number in a response and compare within a tolerance.

The last number is used because chain-of-thought responses work towards their answer
("... 12 + 30 = 42. The answer is 42"); this is the GSM8K convention.

Numbers are compared as `Decimal`s parsed from their written form, never as floats, so a
tolerance edge is exact: 1.01 vs 1.00 with tolerance 0.01 is correct, whereas in binary
floating point |1.01 - 1.0| = 0.010000000000000009 would fail.

Recognised forms: "42", "-3.5", "+7", "−2" (Unicode minus), ".5", "1,000" / "12,345.67"
(comma thousands separators in groups of three), "1e3" / "2.5E-4", "$12" (also €, £, ¥),
"-$12", "50%". A percent sign is ignored: "50%" is the number 50, not 0.5, and a target
"50%" is 50 too. A number glued to a word ("x2", "GPT4", "H2O") is not an answer and is
skipped; "3-5" reads as 3 and 5, not 3 and -5.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import MAX_EMAX, MIN_EMIN, Decimal, DecimalException, localcontext
from typing import Any

from tuieval.scoring.base import BaseScorer, Score, binary, is_number

NUMBER_RULE = r"""
    (?<![\w.])                                  # not the tail of a word, number or version
    (?P<sign>[-+\u2212])?
    (?P<currency>[$€£¥])?
    (?P<digits>
        (?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])    # 1,000 and 12,345 (strict groups of three)
          | [0-9]+)
        (?:\.[0-9]+)?                           # a decimal part needs digits: "42." is 42
      | \.[0-9]+                                # .5
    )
    (?P<exponent>[eE][-+]?[0-9]+)?
    (?P<percent>%)?
    """
# The same matches: every number starts with a sign, a currency sign, a digit or ".", and a
# look-ahead for those first lets the regex engine reject every other position at once, where the
# look-behind and three optional groups were tried at each (a quarter less time on chatty
# answers; tests hold the two patterns to each other).
_NUMBER = re.compile(r"(?=[-+\u2212$€£¥0-9.])" + NUMBER_RULE, re.VERBOSE)


def _to_decimal(match: re.Match[str]) -> Decimal | None:
    text = match.group("digits").replace(",", "") + (match.group("exponent") or "")
    try:
        value = Decimal(text)
    except DecimalException:  # an exponent too large even for Decimal
        return None
    return -value if match.group("sign") in ("-", "\u2212") else value


def find_numbers(text: str) -> list[tuple[str, Decimal]]:
    """Every number in `text`, in order, as (text as written, value)."""
    found = []
    for match in _NUMBER.finditer(text):
        value = _to_decimal(match)
        if value is not None:
            found.append((match.group(0), value))
    return found


def extract_last_number(text: str) -> tuple[str, Decimal] | None:
    """The last number in `text` as (text as written, value), or None if there is none."""
    # Convert from the end: only the last number that parses is wanted (`find_numbers` skips
    # the ones whose exponent is too large even for Decimal, so this may look further back).
    # `findall` gives each match's five groups as a tuple, made in C: cheaper than a match object
    # per number and a Python step to reach the last one. The lookarounds match nothing, so the
    # groups joined are the whole match (tests hold this to `find_numbers`).
    for sign, currency, digits, exponent, percent in reversed(_NUMBER.findall(text)):
        value = _decimal_of(sign, digits, exponent)
        if value is not None:
            return sign + currency + digits + exponent + percent, value
    return None


def _decimal_of(sign: str, digits: str, exponent: str) -> Decimal | None:
    # `_to_decimal` from the groups' texts (an unmatched group is "")
    try:
        value = Decimal(digits.replace(",", "") + exponent)
    except DecimalException:
        return None
    return -value if sign in ("-", "\u2212") else value


def target_number(target: Any) -> Decimal | None:
    """A target as a Decimal: numbers as given, strings parsed like responses, else None."""
    if is_number(target):
        if isinstance(target, numbers.Integral):
            return Decimal(int(target))
        # repr() is the shortest text that round-trips, so 0.1 -> Decimal("0.1"), which is
        # what the suite author wrote, rather than 0.1000000000000000055...
        as_float = float(target)
        return Decimal(repr(as_float)) if math.isfinite(as_float) else None
    if isinstance(target, str):
        found = extract_last_number(target)
        return found[1] if found else None
    return None


def within(value: Decimal, target: Decimal, tolerance: Decimal, relative: bool) -> bool:
    """|value - target| <= tolerance (times |target| when relative), computed exactly."""
    with localcontext() as ctx:
        # Wide enough that subtracting written-out numbers never rounds or overflows.
        ctx.prec = 100
        ctx.Emax, ctx.Emin = MAX_EMAX, MIN_EMIN
        try:
            bound = tolerance * abs(target) if relative else tolerance
            return abs(value - target) <= bound
        except DecimalException:
            return False


class NumericScorer(BaseScorer):
    """Last number in the response equals a target within `tolerance`.

    Options: `tolerance` (default 0: equal values, so "1,000" == "1e3" == 1000.0) and
    `relative` (default false; when true the tolerance is a fraction of |target|, so a
    target of 0 only accepts exactly 0).
    """

    type = "numeric"

    def __init__(self, name: str | None = None, tolerance: float | str | Decimal = 0, relative: bool = False) -> None:
        super().__init__(name)
        self.tolerance = Decimal(repr(tolerance)) if isinstance(tolerance, float) else Decimal(tolerance)
        self.relative = bool(relative)

    def options(self) -> dict[str, Any]:
        tol = float(self.tolerance)
        return {"tolerance": int(tol) if tol.is_integer() else tol, "relative": self.relative}

    def _score(self, response: str, targets: list) -> Score:
        found = extract_last_number(response)
        if found is None:
            return binary(None, False)
        written, value = found
        correct = any(
            t is not None and within(value, t, self.tolerance, self.relative)
            for t in map(target_number, targets)
        )
        return binary(written, correct)
