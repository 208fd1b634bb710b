"""A suite's inline cases written one flat flow mapping a line, read without composing YAML nodes.

The common shape of a large suite (what `benchmarks/` writes, and any generator printing a
case a line)::

    cases:
      - {id: c1, question: What is 2 + 2, target: 4}
      - {id: c2, question: "Capital of France, in one word", target: Paris}

Composing it costs libyaml a Python node, two marks and a resolver call per scalar: most of a
large suite's load (benchmarks/README.md, "sixth pass"). :func:`split_inline_cases` reads such a
block itself — each line one ``- {key: value, …}`` whose keys and values are plain scalars of a
conservative alphabet (no ``:``, ``#``, ``?``, brackets, braces or commas inside; they may hold
single spaces), single-quoted text without a quote inside or double-quoted text without a
backslash — and hands the rest of the document back with the block's lines left blank (so
every other line keeps its number) and ``cases: []`` in its place. A plain scalar's type comes
from the loader's own implicit resolvers and SafeConstructor, as YAML gives it (``7`` an int,
``yes`` a bool, ``2024-01-02`` a date, read as its ISO text as the loader does).

Anything else in the block — a nested mapping or list, an anchor, an alias, a tag, a comment
after a value, a key that is not text, a tab, a mapping over two lines, a character YAML refuses
— and the whole document goes the general way (None). `tests/unit/test_inline_cases.py` holds
the two ways equal.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import yaml

from tuieval.suite.yaml_values import SuiteYAMLLoader

_STR = "tag:yaml.org,2002:str"
_LINE = re.compile(r"(?P<indent> *)- +\{(?P<body>.*)\} *")
# plain: not starting with an indicator (a '-' only before a non-space), then none of the flow
# indicators, ':' '#' '?' or quotes; stripped of the spaces around it
_PLAIN = r"(?:[^\s\-?:,\[\]{}#&*!|>'\"%@`]|-(?=[^\s,\[\]{}]))[^,\[\]{}#:?'\"\t]*"


def _scalar(name: str) -> str:
    """A double-quoted (no backslash), single-quoted (no quote) or plain scalar, in groups NAMEd, NAMEs, NAMEp."""
    return "(?:\"(?P<%sd>[^\"\\\\]*)\"|'(?P<%ss>[^']*)'|(?P<%sp>%s))" % (name, name, name, _PLAIN)


_ITEM = re.compile(r" *" + _scalar("k") + r": +" + _scalar("v") + r" *(?:,|$)")
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE


class _Scalars:
    """Plain scalars' values, each distinct text resolved once (YAML's own rules)."""

    def __init__(self) -> None:
        self._resolvers = SuiteYAMLLoader.yaml_implicit_resolvers
        self._constructor = yaml.constructor.SafeConstructor()
        self._values: dict[str, Any] = {}
        self._text_keys: dict[str, bool] = {}

    def is_text(self, key: str) -> bool:
        """A plain key that YAML reads as text (not 1:, true:, ~:, <<:)."""
        known = self._text_keys.get(key)
        if known is None:
            known = self._text_keys[key] = bool(key) and self.tag(key) == _STR
        return known

    def tag(self, text: str) -> str:
        # yaml.resolver.BaseResolver.resolve for a plain scalar with no path resolvers
        for tag, regexp in self._resolvers.get(text[0], ()):
            if regexp.match(text):
                return tag
        return _STR

    def value(self, text: str) -> Any:
        try:
            return self._values[text]
        except KeyError:
            pass
        tag = self.tag(text)
        if tag == _STR:
            value: Any = text
        else:
            construct = self._constructor.yaml_constructors.get(tag)
            if construct is None:  # merge '<<', value '=', '!'… : the general path's
                raise _Decline
            value = construct(self._constructor, yaml.ScalarNode(tag, text))
            if isinstance(value, (datetime.date, datetime.datetime)):
                value = value.isoformat()  # as the loader reads a date: its text
        self._values[text] = value
        return value


class _Decline(Exception):
    pass


def split_inline_cases(text: str) -> tuple[str, list[tuple[int, dict[str, Any]]], int] | None:
    """(the document with the case block blanked and ``cases: []``, [(line, case mapping)…], the
    0-based line of the ``cases:`` key), or None when the document is not of that shape."""
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.rstrip(" ") == "cases:"]
    if len(starts) != 1:
        return None
    start = starts[0]
    end = start + 1
    while end < len(lines) and (not lines[end] or lines[end][0] in " #-"):
        end += 1  # the block: indented lines, blank lines and comments, up to the next top-level key
    block = lines[start + 1:end]
    if not block or _NON_PRINTABLE.search("\n".join(block)) or any("\t" in line or "\r" in line for line in block):
        return None
    scalars = _Scalars()
    cases: list[tuple[int, dict[str, Any]]] = []
    indent = None
    try:
        for offset, line in enumerate(block, start=start + 2):
            stripped = line.strip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            m = _LINE.fullmatch(line)
            if m is None or (indent is not None and m["indent"] != indent):
                return None
            indent = m["indent"]
            cases.append((offset, _mapping(m["body"], scalars)))
    except _Decline:
        return None
    if not cases:
        return None
    lines[start] = "cases: []"
    for i in range(start + 1, end):
        lines[i] = ""
    return "\n".join(lines), cases, start


def _mapping(body: str, scalars: _Scalars) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pos, n = 0, len(body)
    if not body.strip(" "):
        raise _Decline  # {} : the general path's
    while pos < n:
        m = _ITEM.match(body, pos)
        if m is None or m.end() == pos:
            raise _Decline
        pos = m.end()
        key = m["kd"] if m["kd"] is not None else m["ks"] if m["ks"] is not None else m["kp"].rstrip(" ")
        if m["kp"] is not None and not scalars.is_text(key):
            raise _Decline  # a key that is not text: the general path's
        if m["vd"] is not None:
            value: Any = m["vd"]
        elif m["vs"] is not None:
            value = m["vs"]
        else:
            plain = m["vp"].rstrip(" ")
            if not plain:
                raise _Decline
            value = scalars.value(plain)
        out[key] = value
        if pos == n and body.rstrip(" ").endswith(","):
            raise _Decline  # a trailing comma: YAML reads it, the general path will
    return out
