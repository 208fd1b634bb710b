"""`{{ var }}` prompt templates: find their variables and render them against a case."""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def placeholders(text: str) -> list[str]:
    """Every placeholder of a template as written (dotted paths kept), in order of first use."""
    return list(dict.fromkeys(m.group(1) for m in PLACEHOLDER.finditer(text or "")))


def unresolved(dotted: str, values: dict[str, Any]) -> str | None:
    """Why `{{ dotted }}` cannot be rendered from `values` (None when it can): the variable
    is missing, a step of the path is missing or not a mapping/list, or the value is null
    (which would reach the model as the text "None")."""
    value: Any = values
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        where = ".".join(parts[:i])
        if isinstance(value, dict):
            if part not in value:
                return f"no variable {part!r}" if i == 0 else f"{where} has no key {part!r}"
            value = value[part]
        elif isinstance(value, list):
            if not (part.isdigit() and int(part) < len(value)):
                return f"{where} is a list of {len(value)}, {part!r} is not an index into it"
            value = value[int(part)]
        else:
            return f"{where} is {describe(value)}, not a mapping with {part!r}"
    if value is None:
        return f"{dotted} is null"
    return None


def describe(value: Any) -> str:
    """What kind of value this is, for messages: "a string", "a number", "null"…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return {"list": "a list", "dict": "a mapping"}.get(type(value).__name__, f"a {type(value).__name__}")


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    value: Any = values
    for part in dotted.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            raise KeyError(dotted)
    return value


def as_text(value: Any) -> str:
    """A variable's value as prompt text: strings as they are, lists and mappings as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(text: str, values: dict[str, Any]) -> str:
    """Substitute every placeholder; a missing variable raises KeyError naming it.

    Substitution is a single pass, so a value containing `{{ x }}` is not expanded again
    (case text is data, not template). Placeholders are filled left to right, as
    `render_plain`'s `re.sub` does, so the first missing one is the one named.
    """
    parts = _SPLIT.get(text)
    if parts is None:
        # [literal, path, literal, path, …, literal]: PLACEHOLDER has one group
        parts = PLACEHOLDER.split(text)
        if len(_SPLIT) < _SPLIT_KEPT:
            _SPLIT[text] = parts
    if len(parts) == 3:  # one placeholder, the usual template
        return parts[0] + as_text(_lookup(values, parts[1])) + parts[2]
    out = [parts[0]]
    for i in range(1, len(parts), 2):
        out.append(as_text(_lookup(values, parts[i])))
        out.append(parts[i + 1])
    return "".join(out)


#: template text → its pieces (`render`): a run renders each of its few templates once per request
_SPLIT: dict[str, list[str]] = {}
#: at most this many kept (a caller rendering many distinct texts splits each one again)
_SPLIT_KEPT = 1024


def render_plain(text: str, values: dict[str, Any]) -> str:
    """`render` by one `re.sub` over the text (the rule `render` keeps; tests hold them equal)."""
    return PLACEHOLDER.sub(lambda m: as_text(_lookup(values, m.group(1))), text)
