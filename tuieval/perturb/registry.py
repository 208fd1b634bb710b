"""The perturbation families by name, and `NAME[:SEVERITY]` specs parsed against them.

One parser for both places a perturbation is named: `run --perturb typos:0.1,casing` and a
suite's `perturbations:` list (strings in the same form, or mappings `{name: typos,
severity: 0.1}` / `{name: typos, severities: [0.02, 0.05, 0.1]}` for a severity curve).
Errors are `PerturbSpecError` with a one-line message; the caller adds the flag or the
file/field/line.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

from tuieval.perturb import (
    casing, contractions, distractors, homoglyphs, names, numbers, options, punctuation, typos, whitespace,
)
from tuieval.perturb.base import Family, severity_label

FAMILIES: dict[str, Family] = {
    m.FAMILY.name: m.FAMILY
    for m in (typos, casing, whitespace, punctuation, contractions, numbers, names, distractors, options, homoglyphs)
}


class PerturbSpecError(ValueError):
    """A perturbation spec that cannot be used (unknown name, bad severity).

    `index` is the entry of a `perturbations:` list it is about (None for the list itself or a
    --perturb value); `reason` the message without that index, for callers that show the
    position their own way (file, field, line)."""

    def __init__(self, reason: str, index: int | None = None) -> None:
        super().__init__(reason if index is None else f"[{index}]: {reason}")
        self.reason = reason
        self.index = index


@dataclass(frozen=True)
class PerturbSpec:
    """One perturbation at one severity (None for a family that takes none)."""

    name: str
    severity: float | None

    @functools.cached_property
    def label(self) -> str:
        """"typos:0.1", or "options" for a family without severity: the suffix of derived case ids.

        Cached: it is read once per perturbed case (the spec is frozen, so it never changes)."""
        return self.name if self.severity is None else f"{self.name}:{severity_label(self.severity)}"

    @property
    def family(self) -> Family:
        return FAMILIES[self.name]


def known() -> str:
    return ", ".join(sorted(FAMILIES))


def make_spec(name: Any, severity: Any = None) -> PerturbSpec:
    """Check a name and a severity (None = the family's default) and make the spec."""
    if not isinstance(name, str) or name.strip().lower() not in FAMILIES:
        raise PerturbSpecError(f"unknown perturbation {name!r} (known: {known()})")
    family = FAMILIES[name.strip().lower()]
    if family.default_severity is None:
        if severity is not None:
            raise PerturbSpecError(f"{family.name} takes no severity (got {severity!r})")
        return PerturbSpec(family.name, None)
    if severity is None:
        return PerturbSpec(family.name, family.default_severity)
    if isinstance(severity, str):
        try:
            severity = float(severity.strip())
        except ValueError:
            raise PerturbSpecError(f"{family.name}: severity must be a number in [0, 1], got {severity!r}") from None
    if isinstance(severity, bool) or not isinstance(severity, (int, float)) or not math.isfinite(severity) \
            or not 0.0 <= severity <= 1.0:
        raise PerturbSpecError(f"{family.name}: severity must be a number in [0, 1] ({family.severity_means}), "
                               f"got {severity!r}")
    return PerturbSpec(family.name, float(severity))


def parse_spec(text: str) -> PerturbSpec:
    """"typos:0.1" → PerturbSpec("typos", 0.1); "casing" → the default severity."""
    if not isinstance(text, str) or not text.strip():
        raise PerturbSpecError(f"empty perturbation (expected NAME[:SEVERITY], known: {known()})")
    name, sep, severity = text.strip().partition(":")
    return make_spec(name, severity if sep else None)


def _unique(specs: list[PerturbSpec]) -> list[PerturbSpec]:
    seen: set[str] = set()
    for spec in specs:
        if spec.label in seen:
            raise PerturbSpecError(f"{spec.label} is listed twice")
        seen.add(spec.label)
    return specs


def parse_specs(text: str) -> list[PerturbSpec]:
    """A comma-separated list, as `--perturb` takes it: "typos:0.02,typos:0.1,options"."""
    return _unique([parse_spec(part) for part in str(text).split(",")])


def specs_from_config(value: Any) -> list[PerturbSpec]:
    """A suite's `perturbations:` value: a list of "NAME[:SEVERITY]" strings and/or mappings
    with `name:` and `severity:` or `severities:`, or `NAME: SEVERITY` / `NAME: [SEVERITIES]`. Errors name the entry (`[2]: …`)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise PerturbSpecError("must be a list of perturbations (e.g. [typos:0.1, casing, options])")
    out: list[PerturbSpec] = []
    for i, entry in enumerate(value):
        try:
            if isinstance(entry, str):
                out.append(parse_spec(entry))
            elif isinstance(entry, dict) and len(entry) == 1 and str(next(iter(entry))).lower() in FAMILIES:
                # `- typos: 0.1` (YAML reads "NAME: SEVERITY" as a mapping) or `- typos: [0.02, 0.1]`
                name, sev = next(iter(entry.items()))
                sevs = sev if isinstance(sev, list) else [sev]
                if not sevs:
                    raise PerturbSpecError(f"{name}: empty list of severities")
                out.extend(make_spec(name, s) for s in sevs)
            elif isinstance(entry, dict):
                extra = set(entry) - {"name", "severity", "severities"}
                if extra:
                    raise PerturbSpecError(f"unknown field {sorted(extra)[0]!r} (expected name, severity, severities)")
                if "severity" in entry and "severities" in entry:
                    raise PerturbSpecError("give severity: or severities:, not both")
                if "severities" in entry:
                    sevs = entry["severities"]
                    if not isinstance(sevs, list) or not sevs:
                        raise PerturbSpecError("severities: must be a non-empty list of numbers")
                    out.extend(make_spec(entry.get("name"), s) for s in sevs)
                else:
                    out.append(make_spec(entry.get("name"), entry.get("severity")))
            else:
                raise PerturbSpecError("each perturbation is NAME[:SEVERITY] or a mapping with name:")
        except PerturbSpecError as exc:
            raise PerturbSpecError(exc.reason, i) from None
    return _unique(out)
