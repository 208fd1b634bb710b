"""Structured answers: find the JSON value in a response and compare it with the target.

Where the JSON is looked for, in order (the first that parses wins):

1. a fenced code block labelled json (or unlabelled): ```json ... ```;
2. the whole response;
3. the first `{...}` or `[...]` span that parses, scanning left to right — so prose
   like "see [1]" before the real object would be taken instead; ask for fenced output
   if your prompts invite citations.

Comparison is JSON-typed: 1 == 1.0, but true != 1 and "1" != 1 unless normalizing.
Without `fields` the whole value must equal the target exactly (strings compared as
written). With `fields` (dotted paths, list indices as numbers: "items.0.name") each
field is compared after normalization: strings via `normalize_text`, a string that is
just a number matches that number ("42" and "1,000" vs 42 and 1000), and a bool matches
"true"/"false". The score is the fraction of
fields that match, `correct` only when all do. `normalize` overrides either default.

A target written as a string is parsed as JSON; if it is not valid JSON it stands for
itself as a JSON string.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from tuieval.scoring.base import BaseScorer, Score, binary, canonical_json, is_number, target_text
from tuieval.scoring.normalize import normalize_text
from tuieval.scoring.numeric import find_numbers, target_number

_FENCE = re.compile(r"```[ \t]*(?i:json5?)?[ \t]*\r?\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder(strict=False)  # strict=False: allow raw newlines in strings
#: Bound the left-to-right scan so a response full of braces stays cheap to score.
_MAX_SPAN_ATTEMPTS = 200


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: A field that is absent (distinct from a field whose value is null).
MISSING: Any = _Missing()
#: What `extract_json` returns when the response holds no JSON (None is JSON null).
NOT_FOUND: Any = _Missing()


def _loads(text: str) -> Any:
    try:
        return _DECODER.decode(text)
    except ValueError:
        return NOT_FOUND


def extract_json(text: str) -> Any:
    """The JSON value in a response, or NOT_FOUND (see the module docstring for where)."""
    for fence in _FENCE.finditer(text):
        value = _loads(fence.group(1).strip())
        if value is not NOT_FOUND:
            return value
    value = _loads(text.strip())
    if value is not NOT_FOUND:
        return value
    attempts = 0
    for start in re.finditer(r"[{\[]", text):
        attempts += 1
        if attempts > _MAX_SPAN_ATTEMPTS:
            break
        try:
            return _DECODER.raw_decode(text, start.start())[0]
        except ValueError:
            continue
    return NOT_FOUND


def parse_target(target: Any) -> Any:
    """A target as a JSON value: strings are parsed, falling back to the string itself."""
    if isinstance(target, str):
        value = _loads(target.strip())
        return target if value is NOT_FOUND else value
    if isinstance(target, tuple):
        return list(target)
    return target


def get_field(value: Any, path: str) -> Any:
    """The value at a dotted path ("a.b", "items.0"), or MISSING."""
    current = value
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return MISSING
    return current


def _leaf_text(value: Any) -> str:
    return normalize_text(target_text(value) if value is not None else "null")


def _number_in_text(text: str) -> Decimal | None:
    """The number a string spells, if it is nothing but a number ("42", "1,000", "$3.5")."""
    found = find_numbers(text.strip())
    return found[0][1] if len(found) == 1 and found[0][0] == text.strip() else None


def _loose_equal(a: Any, b: Any) -> bool:
    """Scalars of different JSON types that mean the same after normalization."""
    if is_number(a) and isinstance(b, str) or is_number(b) and isinstance(a, str):
        # Compared as numbers, not as text: normalized text of 2.5 must not equal "25".
        number, text = (a, b) if is_number(a) else (b, a)
        parsed = _number_in_text(text)
        return parsed is not None and parsed == target_number(number)
    return _leaf_text(a) == _leaf_text(b)


def json_equal(a: Any, b: Any, normalize: bool = False) -> bool:
    """JSON equality: typed (true != 1), numeric (1 == 1.0), order-sensitive for lists.

    With `normalize`, strings compare by `normalize_text` and a scalar of one type may
    equal a scalar of another that reads the same after normalization ("42" vs 42).
    """
    if a is MISSING or b is MISSING:
        return a is b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k], normalize) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(json_equal(x, y, normalize) for x, y in zip(a, b))
    if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)):
        return False
    if isinstance(a, bool) and isinstance(b, bool):
        return a is b
    if is_number(a) and is_number(b):
        return a == b
    if isinstance(a, str) and isinstance(b, str) and not normalize:
        return a == b
    if a is None and b is None:
        return True
    return normalize and _loose_equal(a, b)


class JsonScorer(BaseScorer):
    """The response's JSON equals the target's (whole value, or the listed `fields`)."""

    type = "json"

    def __init__(self, name: str | None = None, fields: list[str] | None = None, normalize: bool | None = None) -> None:
        super().__init__(name)
        self.fields = list(fields) if fields else None
        # Field extraction tasks care about the values, not their casing; whole-value
        # comparison is meant to be strict. Either default can be overridden.
        self.normalize = bool(self.fields) if normalize is None else bool(normalize)

    def options(self) -> dict[str, Any]:
        opts: dict[str, Any] = {"normalize": self.normalize}
        if self.fields:
            opts["fields"] = list(self.fields)
        return opts

    def _score(self, response: str, targets: list) -> Score:
        value = extract_json(response)
        if value is NOT_FOUND:
            return binary(None, False)
        wanted = [parse_target(t) for t in targets]
        if not self.fields:
            return binary(canonical_json(value), any(json_equal(value, t, self.normalize) for t in wanted))
        got = {f: get_field(value, f) for f in self.fields}
        extracted = canonical_json({f: v for f, v in got.items() if v is not MISSING})
        best = 0.0
        for target in wanted:
            matched = sum(json_equal(got[f], get_field(target, f), self.normalize) for f in self.fields)
            best = max(best, matched / len(self.fields))
        return Score(extracted=extracted, correct=best == 1.0, score=best)
