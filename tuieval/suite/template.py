"""`{{ var }}` prompt templates: find their variables and render them against a case."""

from __future__ import annotations

import json
import re
from typing import Any

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*\}\}")


def variables(text: str) -> list[str]:
    """Top-level variable names used by a template, in order of first use."""
    seen: list[str] = []
    for match in PLACEHOLDER.finditer(text or ""):
        name = match.group(1).split(".")[0]
        if name not in seen:
            seen.append(name)
    return seen


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


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def render(text: str, values: dict[str, Any]) -> str:
    """Substitute every placeholder; a missing variable raises KeyError naming it.

    Substitution is a single pass, so a value containing `{{ x }}` is not expanded again
    (case text is data, not template).
    """
    return PLACEHOLDER.sub(lambda m: _as_text(_lookup(values, m.group(1))), text)
