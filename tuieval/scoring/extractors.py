"""The built-in answer-extractor family: several common ways of reading an answer from a response.

Extraction sensitivity asks how much of a score is the harness: the same responses read by
a strict "Answer: X" parser, by "the last number", by a number reader that understands
currency, units and thousands separators, by a choice-letter reader, and so on, can give
scores points apart. Each extractor here is a scorer (`score(response, targets) -> Score`)
that names how it reads and how it compares:

| name | reads | compares |
|---|---|---|
| `strict` | the text after the last `Answer:` line label | normalised text |
| `last_number` / `first_number` | the last / first plain digit run (`-?\\d+(\\.\\d+)?`) as written | the string, as naive harnesses do (`29.00` ≠ `29`) |
| `number` | the last number with currency, units, signs and thousands separators understood | the value (`$29.00` = `29`, `1,000` = `1000`) |
| `choice` | the option letter in its common phrasings (`(B)`, `Answer: B`, `**B**`, …) | the letter |
| `boxed` | the last `\\boxed{…}` (nested braces kept) | by value when both are numbers, else normalised text |
| `json_field:PATH` | the dotted field of the first JSON object | by value / normalised text |

Names are case-insensitive; `build_extractor` raises ValueError naming an unknown one with a
suggestion.
"""

from __future__ import annotations

import re
from decimal import Decimal
from operator import itemgetter
from typing import Any, Callable

from tuieval.scoring.base import BaseScorer, Score, binary, target_text
from tuieval.scoring.choice import ChoiceExtractor
from tuieval.scoring.json_match import MISSING, NOT_FOUND, extract_json, get_field
from tuieval.scoring.normalize import normalize_text
from tuieval.scoring.numeric import extract_last_number, target_number

_STRICT = re.compile(r"(?im)^[\s*_#>]*answer[\s*_]*[:：][\s*_]*(?P<A>.+?)[\s*_.]*$")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_BOXED = "\\boxed{"


# -- comparisons: each prepares a case's targets once, then judges many readings against them --

def _texts(targets: list) -> frozenset[str]:
    return frozenset(normalize_text(target_text(t)) for t in targets if t is not None)


def _numbers(targets: list) -> frozenset[Decimal]:
    return frozenset(v for v in map(target_number, (t for t in targets if t is not None)) if v is not None)


def _as_written(targets: list) -> frozenset[str]:
    return frozenset((target_text(t) or "").strip() for t in targets if t is not None)


def _letters(targets: list) -> frozenset[str]:
    return frozenset(str(target_text(t)).strip().upper() for t in targets if t is not None)


def _value_or_text(targets: list) -> tuple[frozenset[Decimal], frozenset[str]]:
    return _numbers(targets), _texts(targets)


# what _value_or_text is made of (the same preparations `number` and `strict` use)
_VALUE_OR_TEXT_PARTS = (_numbers, _texts)


def _value_or_text_equal(extracted: str, prepared: tuple[frozenset[Decimal], frozenset[str]]) -> bool:
    """Numbers by value (`1,000` = `1000.0`), anything else as normalised text."""
    numbers, texts = prepared
    found = extract_last_number(extracted)
    if found is not None and found[0].strip() == extracted.strip() and found[1] in numbers:
        return True
    return normalize_text(extracted) in texts


def _whole_value(extracted: str) -> Decimal | None:
    # the key `_value_or_text_equal` looks up among the target numbers: the value of a reading
    # that is one number and nothing else (None otherwise, which no target set holds)
    found = extract_last_number(extracted)
    if found is not None and found[0].strip() == extracted.strip():
        return found[1]
    return None


# `_value_or_text_equal` as look-ups (see BuiltinExtractor.member_keys)
_VALUE_OR_TEXT_KEYS = (_whole_value, normalize_text)


def read_strict(response: str) -> str | None:
    if response.isascii() and "answer" not in response.lower():
        # no label: for ASCII text the case-insensitive match needs "answer" in the lower-cased
        # text (outside ASCII it does not: "anſwer" matches too, by Unicode case folding)
        return None
    found = list(_STRICT.finditer(response))
    return found[-1].group("A").strip() if found else None


def read_boxed(response: str) -> str | None:
    """The content of the last \\boxed{...}, braces inside it balanced."""
    start = response.rfind(_BOXED)
    if start < 0:
        return None
    depth, i = 1, start + len(_BOXED)
    for j in range(i, len(response)):
        if response[j] == "{":
            depth += 1
        elif response[j] == "}":
            depth -= 1
            if depth == 0:
                return response[i:j].strip()
    return None


class BuiltinExtractor(BaseScorer):
    """One member of the family: a reader, and a comparison against targets prepared once per case.

    `judge(response, prepare(targets))` is the fast path `tuieval rescore` takes over many
    samples of one case; `score` (the Scorer protocol) does both for one response."""

    type = "extractor"

    def __init__(self, name: str, read: Callable[[str], Any], prepare: Callable[[list], Any],
                 equal: Callable[[Any, Any], bool], shown: Callable[[Any], str] = str,
                 prepare_parts: tuple[Callable[[list], Any], ...] = (),
                 member_keys: tuple[Callable[[Any], Any] | None, ...] = ()) -> None:
        super().__init__(name)
        self._read, self.prepare, self._equal, self._shown = read, prepare, equal, shown
        #: when not empty, `prepare(t)` is `tuple(f(t) for f in prepare_parts)`: a caller judging
        #: many cases with several extractors prepares each part once per case for all of them
        self.prepare_parts = prepare_parts
        # the reader, the comparison and the display as attributes, for a caller's tight loop
        # (`tuieval rescore`: one call per reading instead of a method call around each)
        self.reader, self.equal, self.shown = read, equal, shown
        #: when not empty, `equal(x, prepared)` is `any(key(x) in part for key, part in zip(member_keys,
        #: parts))` (parts: `prepare(t)`'s parts, or `(prepare(t),)` without `prepare_parts`; a key of
        #: None is the reading itself), every part a set. `tuieval rescore` then works out each key
        #: once per distinct response and judges every (case, response) by set look-ups done in C
        #: (tests hold the two forms to each other).
        self.member_keys = member_keys

    def options(self) -> dict[str, Any]:
        return {}

    def read(self, response: str) -> Any:
        """What this extractor reads from a response, before any target is seen (None: nothing).
        A reading depends on the response alone, so a caller may read a repeated response once
        and judge it against each case's targets with `verdict`."""
        return self._read(response)

    def verdict(self, reading: Any, prepared: Any) -> tuple[str, bool]:
        """(the reading as written, whether it matches the prepared targets); reading not None."""
        return self._shown(reading), self._equal(reading, prepared)

    def judge(self, response: str | None, prepared: Any) -> tuple[str | None, bool]:
        """(what was read, as written; whether it matches the prepared targets)."""
        if response is None:
            return None, False
        reading = self._read(str(response))
        if reading is None:
            return None, False
        return self._shown(reading), self._equal(reading, prepared)

    def _score(self, response: str, targets: list) -> Score:
        extracted, correct = self.judge(response, self.prepare(targets))
        return binary(extracted, correct)


def _last_plain(response: str) -> str | None:
    found = _PLAIN_NUMBER.findall(response)
    return found[-1] if found else None


def _first_plain(response: str) -> str | None:
    found = _PLAIN_NUMBER.search(response)
    return found.group(0) if found else None


_CHOICE = ChoiceExtractor()


def _json_field(path: str) -> Callable[[str], str | None]:
    def read(response: str) -> str | None:
        value = extract_json(response)
        if value is NOT_FOUND:
            return None
        got = get_field(value, path)
        return None if got is MISSING or got is None else target_text(got)

    return read


_FAMILY: dict[str, Callable[[], BuiltinExtractor]] = {
    "strict": lambda: BuiltinExtractor("strict", read_strict, _texts, lambda x, t: normalize_text(x) in t,
                                       member_keys=(normalize_text,)),
    "last_number": lambda: BuiltinExtractor("last_number", _last_plain, _as_written, lambda x, t: x in t,
                                            member_keys=(None,)),
    "first_number": lambda: BuiltinExtractor("first_number", _first_plain, _as_written, lambda x, t: x in t,
                                             member_keys=(None,)),
    # reads (as written, value) once; shows what was written, compares the value
    "number": lambda: BuiltinExtractor("number", extract_last_number, _numbers, lambda x, t: x[1] in t,
                                       shown=itemgetter(0), member_keys=(itemgetter(1),)),
    "choice": lambda: BuiltinExtractor("choice", _CHOICE.extract, _letters, lambda x, t: x.upper() in t,
                                       member_keys=(str.upper,)),
    "boxed": lambda: BuiltinExtractor("boxed", read_boxed, _value_or_text, _value_or_text_equal,
                                      prepare_parts=_VALUE_OR_TEXT_PARTS, member_keys=_VALUE_OR_TEXT_KEYS),
}
EXTRACTOR_NAMES = (*_FAMILY, "json_field:PATH")


def build_extractor(name: str) -> BuiltinExtractor:
    """The extractor a name such as `number` or `json_field:answer.value` names."""
    key = name.strip().lower()
    if key.startswith("json_field:"):
        path = name.strip()[len("json_field:"):]
        if not path:
            raise ValueError("json_field needs a field: json_field:PATH")
        return BuiltinExtractor(f"json_field:{path}", _json_field(path), _value_or_text, _value_or_text_equal,
                                prepare_parts=_VALUE_OR_TEXT_PARTS, member_keys=_VALUE_OR_TEXT_KEYS)
    if key in _FAMILY:
        return _FAMILY[key]()
    import difflib  # only for a suggestion in an error: not on every run's path
    close = difflib.get_close_matches(key, list(_FAMILY) + ["json_field"], n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ValueError(f"unknown extractor {name!r}{hint}; one of {', '.join(EXTRACTOR_NAMES)}")
