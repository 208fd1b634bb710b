"""Many similar JSON entries encoded at once, column by column: the texts of
`json.dumps(entry, ensure_ascii=False)`, character for character.

The stored report keeps each of its case entries as its own JSON text (tuieval.report.stored):
100,000 entries at a million samples. Encoded one at a time, the json module's C encoder escapes
every key of every entry again and formats every number again (2 CPU s for 71 MB). These entries
share their shape, so here each key's values across the entries are one column: a column of
strings is escaped by the json module's own escaper in one `map`, integers by `int.__repr__`, a
float is formatted once per distinct value, nested dictionaries and lists are flattened into
columns of their own, and each dictionary is put back together by one `%` template per shape
(its keys escaped once). The loops left are the interpreter's C loops (`map`, `zip`, `join`).

Anything this does not know exactly (a subclass, a key that is not a string, a type the json
module would call `default` for, a structure deeper than _MAX_DEPTH, where the json module's
cycle check matters) goes to the json module's C encoder, value by value, so its text or its
error is the json module's own.
"""

from __future__ import annotations

import json
import math
from itertools import chain, islice, repeat
from json import encoder as _enc
from typing import Any, Callable, Sequence

#: nesting below which values are encoded as columns; deeper, the json module's encoder (with its
#: cycle check) takes each value whole
_MAX_DEPTH = 24

_escape = _enc.encode_basestring  # what json.dumps(…, ensure_ascii=False) escapes strings with


def _c_encoder() -> Callable[[Any], str] | None:
    """json.dumps(value, ensure_ascii=False) with the C encoder made once (None without it)."""
    if _enc.c_make_encoder is None:
        return None
    plain = json.JSONEncoder(ensure_ascii=False)
    # the arguments json.JSONEncoder.iterencode passes for ensure_ascii=False and no indent
    make = _enc.c_make_encoder({}, plain.default, _escape, None, plain.key_separator, plain.item_separator,
                               plain.sort_keys, plain.skipkeys, plain.allow_nan)
    join = "".join
    return lambda value: join(make(value, 0))


_one = _c_encoder()


def encode_many(entries: Sequence[Any]) -> list[str]:
    """`[json.dumps(e, ensure_ascii=False) for e in entries]`, the same texts (and errors)."""
    if _one is None:  # (no C encoder: nothing to gain over json.dumps)
        return [json.dumps(e, ensure_ascii=False) for e in entries]
    return _values(list(entries), 0)


def _values(values: list[Any], depth: int) -> list[str]:
    """The JSON text of each value, in order."""
    if not values:
        return []
    kinds = set(map(type, values))
    if len(kinds) == 1:
        (kind,) = kinds
        encode = _BY_TYPE.get(kind)
        if encode is None or (depth >= _MAX_DEPTH and kind in _NESTED):
            return list(map(_one, values))
        return encode(values, depth)
    # mixed types (a figure that is a number or null): each type as a column of its own
    out: list[Any] = [None] * len(values)
    at: dict[type, list[int]] = {}
    for i, kind in enumerate(map(type, values)):
        at.setdefault(kind, []).append(i)
    for positions in at.values():
        for i, text in zip(positions, _values([values[i] for i in positions], depth)):
            out[i] = text
    return out


def _strings(values: list[str], depth: int) -> list[str]:
    return list(map(_escape, values))


def _ints(values: list[int], depth: int) -> list[str]:
    return list(map(int.__repr__, values))  # (what the json module's C encoder calls)


_NON_FINITE = {math.inf: "Infinity", -math.inf: "-Infinity"}


def _floats(values: list[float], depth: int) -> list[str]:
    """`float.__repr__` once per distinct value (the C encoder's text; Infinity, -Infinity and
    NaN as its allow_nan writes them). 0.0 and -0.0 are one key of a dict, so zeros are
    formatted one by one."""
    text = {v: (float.__repr__(v) if math.isfinite(v) else _NON_FINITE.get(v, "NaN")) for v in set(values)}
    out = list(map(text.__getitem__, values))
    if 0.0 in text:
        for i, v in enumerate(values):
            if v == 0.0:
                out[i] = float.__repr__(v)
    return out


def _bools(values: list[bool], depth: int) -> list[str]:
    return list(map({True: "true", False: "false"}.__getitem__, values))


def _nones(values: list[None], depth: int) -> list[str]:
    return ["null"] * len(values)


def _lists(values: list[Sequence[Any]], depth: int) -> list[str]:
    """Every list's items as one column, then each list joined from its run of that column."""
    lengths = list(map(len, values))
    items = iter(_values(list(chain.from_iterable(values)), depth + 1))
    # (each islice is drained by its join before map makes the next one: the runs in order)
    return list(map("[%s]".__mod__, map(", ".join, map(islice, repeat(items), lengths))))


def _dicts(values: list[dict[str, Any]], depth: int) -> list[str]:
    """Grouped by their keys (in order); each key's values a column; each group put back by one
    template with its keys escaped once."""
    shapes = list(map(tuple, values))
    first = shapes[0]
    if shapes.count(first) == len(shapes):
        return _one_shape(first, values, depth)
    out: list[Any] = [None] * len(values)
    at: dict[tuple, list[int]] = {}
    for i, shape in enumerate(shapes):
        at.setdefault(shape, []).append(i)
    for shape, positions in at.items():
        for i, text in zip(positions, _one_shape(shape, [values[i] for i in positions], depth)):
            out[i] = text
    return out


def _one_shape(keys: tuple, values: list[dict[str, Any]], depth: int) -> list[str]:
    if not keys:
        return ["{}"] * len(values)
    if not all(type(k) is str for k in keys):  # json's own rules for other keys (numbers, None…)
        return list(map(_one, values))
    columns = [_values(list(column), depth + 1) for column in zip(*map(tuple, map(dict.values, values)))]
    template = "{" + ", ".join(_escape(k).replace("%", "%%") + ": %s" for k in keys) + "}"
    return list(map(template.__mod__, zip(*columns)))


_BY_TYPE: dict[type, Callable[[list[Any], int], list[str]]] = {
    str: _strings, int: _ints, float: _floats, bool: _bools, type(None): _nones,
    list: _lists, tuple: _lists, dict: _dicts,
}
_NESTED = (list, tuple, dict)
