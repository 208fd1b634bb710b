"""Homoglyphs: Latin letters replaced by look-alike letters from Cyrillic and Greek.

The text looks the same to a reader and is different to a tokenizer; each eligible letter
(one with a look-alike, outside the protected spans) is replaced with probability `severity`.
"""

from __future__ import annotations

import random
import re

from tuieval.perturb.base import Edit, Family, Item, Skip, edit_chars

# Latin → visually identical (or nearly) code points; several choices where they exist.
LOOKALIKES: dict[str, str] = {
    "a": "\u0430",          # Cyrillic а
    "c": "\u0441\u03f2",    # Cyrillic с, Greek lunate sigma ϲ
    "e": "\u0435",          # Cyrillic е
    "i": "\u0456",          # Cyrillic і
    "j": "\u0458",          # Cyrillic ј
    "o": "\u043e\u03bf",    # Cyrillic о, Greek ο
    "p": "\u0440",          # Cyrillic р
    "s": "\u0455",          # Cyrillic ѕ
    "x": "\u0445",          # Cyrillic х
    "y": "\u0443",          # Cyrillic у
    "A": "\u0410\u0391",    # Cyrillic А, Greek Α
    "B": "\u0412\u0392",
    "C": "\u0421",
    "E": "\u0415\u0395",
    "H": "\u041d\u0397",
    "I": "\u0406\u0399",
    "K": "\u041a\u039a",
    "M": "\u041c\u039c",
    "N": "\u039d",
    "O": "\u041e\u039f",
    "P": "\u0420\u03a1",
    "T": "\u0422\u03a4",
    "X": "\u0425\u03a7",
    "Y": "\u03a5",
    "Z": "\u0396",
}


_FINDER = re.compile("[" + re.escape("".join(LOOKALIKES)) + "]")


def apply(item: Item, severity: float | None, rng: random.Random) -> Edit | Skip:
    rate = float(severity if severity is not None else FAMILY.default_severity)
    return edit_chars(item, rng, rate, _FINDER, LOOKALIKES, "no Latin letter with a look-alike outside the answer")


FAMILY = Family("homoglyphs", "Latin letters swapped for Cyrillic/Greek look-alikes", apply, 0.1,
                "the share of eligible letters swapped")
