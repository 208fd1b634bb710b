"""Scorer specs from suite YAML: validation with field-path messages, and construction.

A spec is a type name ("numeric") or a mapping `{type: numeric, name: ..., **options}`.
Validation and construction share one parser, so anything `validate_scorer_spec` accepts
builds, and every problem it reports names the field: "scorers[1].tolerance: must be a
number". Type names are matched case-insensitively ("Numeric", "any-of" are accepted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable

from tuieval.scoring.base import BaseScorer, ScorerSpecError, is_number
from tuieval.scoring.choice import ChoiceScorer
from tuieval.scoring.json_match import JsonScorer
from tuieval.scoring.numeric import NumericScorer
from tuieval.scoring.judge import JudgeScorer
from tuieval.scoring.pattern import THEN_TYPES, RegexScorer
from tuieval.scoring.text import AnyOfScorer, ContainsScorer, ExactScorer, NormalizedScorer

#: Options each type accepts besides `type` and `name`.
OPTIONS: dict[str, tuple[str, ...]] = {
    "exact": (),
    "normalized": (),
    "any_of": (),
    "numeric": ("tolerance", "relative"),
    "choice": ("choices",),
    "contains": ("case_sensitive",),
    "json": ("fields", "normalize"),
    "regex": ("pattern", "group", "then", "match", "ignore_case", "tolerance", "relative"),
    "judge": ("model", "models", "mode", "criteria", "choices", "range", "pass", "samples", "temperature",
              "max_tokens", "base_url", "api_key_env", "grade_pattern", "against"),
}
SCORER_TYPES = tuple(OPTIONS)
DEFAULT_SCORER = "normalized"


@dataclass
class _Problems:
    """Problems found so far, as (field path, message) pairs."""

    items: list[tuple[str, str]] = field(default_factory=list)

    def add(self, path: str, message: str) -> None:
        self.items.append((path, message))

    def strings(self) -> list[str]:
        return [f"{p}: {m}" for p, m in self.items]


@dataclass
class _Parsed:
    type: str
    name: str | None  # None: not given, the type name (made unique) will be used
    kwargs: dict[str, Any]


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _suggest(word: str, options: tuple[str, ...]) -> str:
    import difflib  # only for a suggestion in an error: not on every run's path
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _describe(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _get_bool(opts: Mapping, key: str, path: str, problems: _Problems) -> bool | None:
    if key not in opts:
        return None
    value = opts[key]
    if not isinstance(value, bool):
        problems.add(_at(path, key), f"must be true or false, got {_describe(value)}")
        return None
    return value


def _get_tolerance(opts: Mapping, path: str, problems: _Problems) -> float | None:
    if "tolerance" not in opts:
        return None
    value = opts["tolerance"]
    number: float | None = None
    if is_number(value):
        number = float(value)
    elif isinstance(value, str):
        # PyYAML reads `1e-3` (no dot) as a string; accept the obvious intent.
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if number is None or not math.isfinite(number):
        problems.add(_at(path, "tolerance"), f"must be a number, got {_describe(value)}")
        return None
    if number < 0:
        problems.add(_at(path, "tolerance"), f"must not be negative, got {_describe(value)}")
        return None
    return number


def _numeric_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    tolerance = _get_tolerance(opts, path, problems)
    if tolerance is not None:
        kwargs["tolerance"] = tolerance
    relative = _get_bool(opts, "relative", path, problems)
    if relative is not None:
        kwargs["relative"] = relative
    return kwargs


def _choice_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    if "choices" not in opts:
        return {}
    raw = opts["choices"]
    where = _at(path, "choices")
    if isinstance(raw, str):
        # "ABCD", "A,B,C,D" and "A B C D" all mean the same letters.
        letters = [c for c in raw if not (c.isspace() or c == ",")]
    elif isinstance(raw, list) and all(isinstance(c, str) and len(c.strip()) == 1 for c in raw):
        letters = [c.strip() for c in raw]
    else:
        problems.add(where, f'must be a string of letters like "ABCD", got {_describe(raw)}')
        return {}
    bad = [c for c in letters if not re.fullmatch(r"[A-Za-z]", c)]
    if bad:
        problems.add(where, f"must contain only letters A-Z, got {_describe(''.join(bad))}")
        return {}
    upper = [c.upper() for c in letters]
    dupes = sorted({c for c in upper if upper.count(c) > 1})
    if dupes:
        problems.add(where, f"lists {', '.join(dupes)} more than once")
        return {}
    if len(upper) < 2:
        problems.add(where, "must list at least two letters")
        return {}
    return {"choices": "".join(upper)}


def _contains_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    value = _get_bool(opts, "case_sensitive", path, problems)
    return {} if value is None else {"case_sensitive": value}


def _json_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    if "fields" in opts:
        raw = opts["fields"]
        where = _at(path, "fields")
        fields = [raw] if isinstance(raw, str) else raw
        if not isinstance(fields, list) or not fields:
            problems.add(where, f"must be a non-empty list of field names like [name, address.city], got {_describe(raw)}")
        else:
            ok = True
            for i, item in enumerate(fields):
                item_path = where if isinstance(raw, str) else f"{where}[{i}]"
                if not isinstance(item, str) or not item.strip():
                    problems.add(item_path, f"must be a field name, got {_describe(item)}")
                    ok = False
                elif any(not part for part in item.strip().split(".")):
                    problems.add(item_path, f"has an empty part in dotted path {item!r}")
                    ok = False
            if ok:
                kwargs["fields"] = [f.strip() for f in fields]
    normalize = _get_bool(opts, "normalize", path, problems)
    if normalize is not None:
        kwargs["normalize"] = normalize
    return kwargs


def _regex_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    kwargs: dict[str, Any] = {}
    ignore_case = _get_bool(opts, "ignore_case", path, problems)
    if ignore_case is not None:
        kwargs["ignore_case"] = ignore_case
    compiled = None
    if "pattern" not in opts:
        problems.add(_at(path, "pattern"), "required for a regex scorer")
    elif not isinstance(opts["pattern"], str) or not opts["pattern"]:
        problems.add(_at(path, "pattern"), f"must be a non-empty regular expression, got {_describe(opts['pattern'])}")
    else:
        try:
            compiled = re.compile(opts["pattern"], re.IGNORECASE if ignore_case else 0)
            kwargs["pattern"] = opts["pattern"]
        except re.error as exc:
            problems.add(_at(path, "pattern"), f"is not a valid regular expression: {exc}")
    if "group" in opts:
        group = opts["group"]
        where = _at(path, "group")
        if isinstance(group, bool) or not isinstance(group, (int, str)) or (isinstance(group, int) and group < 0):
            problems.add(where, f"must be a group number (0 = whole match) or name, got {_describe(group)}")
        elif compiled is not None and isinstance(group, int) and group > compiled.groups:
            have = f"only {compiled.groups} group{'s' if compiled.groups > 1 else ''}" if compiled.groups else "no groups"
            problems.add(where, f"pattern has {have}, got {group}")
        elif compiled is not None and isinstance(group, str) and group not in compiled.groupindex:
            names = ", ".join(compiled.groupindex) or "none"
            problems.add(where, f"pattern has no group named {group!r} (named groups: {names})")
        else:
            kwargs["group"] = group
    then = "normalized"
    if "then" in opts:
        raw = opts["then"]
        then = raw.strip().lower() if isinstance(raw, str) else raw
        if then not in THEN_TYPES:
            hint = _suggest(then, THEN_TYPES) if isinstance(then, str) else ""
            problems.add(_at(path, "then"), f"must be one of {', '.join(THEN_TYPES)}, got {_describe(raw)}{hint}")
            then = None
    if "match" in opts:
        match = opts["match"]
        if match not in ("first", "last"):
            problems.add(_at(path, "match"), f"must be first or last, got {_describe(match)}")
        else:
            kwargs["match"] = match
    numeric_opts = [k for k in ("tolerance", "relative") if k in opts]
    if then == "numeric":
        kwargs["then"] = NumericScorer("numeric", **_numeric_options(opts, path, problems))
    elif then is not None:
        for key in numeric_opts:
            problems.add(_at(path, key), f"only applies when then is numeric (then is {then})")
        kwargs["then"] = _build_simple(then)
    return kwargs


def _no_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    return {}


def _judge_models(opts: Mapping, path: str, problems: _Problems) -> list[str]:
    from tuieval.backends.registry import BackendConfigError, parse_spec

    if ("model" in opts) == ("models" in opts):
        problems.add(_at(path, "model"), "a judge scorer needs model: (one judge) or models: (a panel), not both"
                     if "model" in opts else "required: the judge model spec (e.g. demo/judge, openai/gpt-4o-mini)")
        return []
    key = "model" if "model" in opts else "models"
    raw = opts[key]
    specs = [raw] if key == "model" else raw
    if not isinstance(specs, list) or not specs:
        problems.add(_at(path, key), f"must be a list of model specs, got {_describe(raw)}")
        return []
    out: list[str] = []
    for i, spec in enumerate(specs):
        where = _at(path, key) if key == "model" else f"{_at(path, key)}[{i}]"
        if not isinstance(spec, str):
            problems.add(where, f"must be a model spec like openai/gpt-4o-mini, got {_describe(spec)}")
            continue
        try:
            provider, model = parse_spec(spec.strip())
        except BackendConfigError as exc:
            problems.add(where, str(exc).removeprefix("--model: "))
            continue
        if provider == "openai-compatible" and "base_url" not in opts:
            problems.add(_at(path, "base_url"), f"required for {spec.strip()} (e.g. http://localhost:8000/v1)")
            continue
        if provider == "demo" and model != "judge":
            problems.add(where, f"{spec} is a simulated answerer, not a judge (the simulated judge is demo/judge)")
            continue
        if spec.strip() in out:
            problems.add(where, f"lists {spec.strip()} twice (a panel names each judge once)")
            continue
        out.append(spec.strip())
    return out


def _positive_int(opts: Mapping, key: str, path: str, problems: _Problems) -> int | None:
    if key not in opts:
        return None
    value = opts[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        problems.add(_at(path, key), f"must be a whole number of at least 1, got {_describe(value)}")
        return None
    return value


def _judge_options(opts: Mapping, path: str, problems: _Problems) -> dict[str, Any]:
    from tuieval.scoring.judge import MODES

    kwargs: dict[str, Any] = {"models": _judge_models(opts, path, problems)}
    mode = opts.get("mode", "reference")
    if not isinstance(mode, str) or mode.strip().lower().replace("-", "_") not in MODES:
        hint = _suggest(mode, MODES) if isinstance(mode, str) else ""
        problems.add(_at(path, "mode"), f"must be one of {', '.join(MODES)}, got {_describe(mode)}{hint}")
        mode = "reference"
    mode = mode.strip().lower().replace("-", "_")
    kwargs["mode"] = mode
    for key in ("criteria", "base_url", "api_key_env", "against"):
        if key in opts:
            value = opts[key]
            if not isinstance(value, str) or not value.strip():
                problems.add(_at(path, key), f"must be a non-empty string, got {_describe(value)}")
            else:
                kwargs[key] = value.strip()
    if mode == "reference_free" and "criteria" not in opts:
        problems.add(_at(path, "criteria"), "required in reference_free mode: what the judge grades against")
    if "against" in opts and mode != "pairwise":
        problems.add(_at(path, "against"), f"only applies in pairwise mode (mode is {mode})")
    if "choices" in opts and "range" in opts:
        problems.add(_at(path, "range"), "give choices: or range:, not both")
    elif mode == "pairwise" and ("choices" in opts or "range" in opts):
        key = "choices" if "choices" in opts else "range"
        problems.add(_at(path, key), "pairwise mode grades A, B or TIE; it takes no choices or range")
    elif "choices" in opts:
        raw = opts["choices"]
        where = _at(path, "choices")
        if not isinstance(raw, Mapping) or len(raw) < 2:
            problems.add(where, f"must map at least two choice strings to scores in [0, 1], e.g. {{A: 1, B: 0}}; "
                                f"got {_describe(raw)}")
        else:
            choices: dict[str, float] = {}
            for name, score in raw.items():
                label = str(name).strip()
                if not re.fullmatch(r"[^\s*]+", label):
                    problems.add(f"{where}.{name}", "a choice string must be one word (no spaces)")
                elif not is_number(score) or not 0 <= float(score) <= 1:
                    problems.add(f"{where}.{name}", f"must be a score in [0, 1], got {_describe(score)}")
                elif label.upper() in {c.upper() for c in choices}:
                    problems.add(f"{where}.{name}", "is listed twice (choices are read case-insensitively)")
                else:
                    choices[label] = float(score)
            kwargs["choices"] = choices
    elif "range" in opts:
        raw = opts["range"]
        if (not isinstance(raw, list) or len(raw) != 2 or any(isinstance(v, bool) or not isinstance(v, int) for v in raw)
                or raw[0] >= raw[1]):
            problems.add(_at(path, "range"), f"must be two whole numbers [low, high] with low < high, got {_describe(raw)}")
        else:
            kwargs["range"] = list(raw)
    if "pass" in opts:
        value = opts["pass"]
        if not is_number(value) or not 0 <= float(value) <= 1:
            problems.add(_at(path, "pass"), f"must be a score in [0, 1] (a grade scoring at least this is correct), "
                                            f"got {_describe(value)}")
        else:
            kwargs["pass_score"] = float(value)
    samples = _positive_int(opts, "samples", path, problems)
    if samples is not None:
        kwargs["samples"] = samples
    max_tokens = _positive_int(opts, "max_tokens", path, problems)
    if max_tokens is not None:
        kwargs["max_tokens"] = max_tokens
    if "temperature" in opts:
        value = opts["temperature"]
        if not is_number(value) or not 0 <= float(value) <= 2:
            problems.add(_at(path, "temperature"), f"must be a number in 0..2, got {_describe(value)}")
        else:
            kwargs["temperature"] = float(value)
    if "grade_pattern" in opts:
        raw = opts["grade_pattern"]
        where = _at(path, "grade_pattern")
        if not isinstance(raw, str) or not raw:
            problems.add(where, f"must be a regular expression, got {_describe(raw)}")
        else:
            try:
                compiled = re.compile(raw)
            except re.error as exc:
                problems.add(where, f"is not a valid regular expression: {exc}")
            else:
                if compiled.groups != 1:
                    problems.add(where, f"must have exactly one group (the grade), has {compiled.groups}")
                else:
                    kwargs["grade_pattern"] = raw
    return kwargs


_OPTION_PARSERS: dict[str, Callable[[Mapping, str, _Problems], dict[str, Any]]] = {
    "exact": _no_options,
    "normalized": _no_options,
    "any_of": _no_options,
    "numeric": _numeric_options,
    "choice": _choice_options,
    "contains": _contains_options,
    "json": _json_options,
    "regex": _regex_options,
    "judge": _judge_options,
}

_CLASSES: dict[str, type[BaseScorer]] = {
    "exact": ExactScorer,
    "normalized": NormalizedScorer,
    "any_of": AnyOfScorer,
    "numeric": NumericScorer,
    "choice": ChoiceScorer,
    "contains": ContainsScorer,
    "json": JsonScorer,
    "regex": RegexScorer,
    "judge": JudgeScorer,
}


def _build_simple(kind: str) -> BaseScorer:
    return _CLASSES[kind](kind)


def _canonical_type(raw: str) -> str:
    return raw.strip().lower().replace("-", "_")


def _parse(spec: Any, path: str, problems: _Problems) -> _Parsed | None:
    """Check one spec, recording problems; the parsed spec if it is usable."""
    root = path or "scorer"
    if isinstance(spec, str):
        kind = _canonical_type(spec)
        if kind not in OPTIONS:
            problems.add(root, f"unknown scorer type {spec!r}{_suggest(kind, SCORER_TYPES)}; "
                               f"expected one of {', '.join(SCORER_TYPES)}")
            return None
        return _Parsed(kind, None, {})
    if not isinstance(spec, Mapping):
        problems.add(root, f"must be a scorer type (e.g. numeric) or a mapping with type:, got {_describe(spec)}")
        return None
    bad_keys = [k for k in spec if not isinstance(k, str)]
    if bad_keys:
        problems.add(root, f"option names must be strings, got {_describe(bad_keys[0])}")
        return None
    if "type" not in spec:
        nested = [k for k in spec if _canonical_type(k) in OPTIONS]
        hint = f" (write {{type: {nested[0]}, ...}} rather than {{{nested[0]}: ...}})" if nested else ""
        problems.add(_at(path, "type"), f"required: one of {', '.join(SCORER_TYPES)}{hint}")
        return None
    raw_type = spec["type"]
    if not isinstance(raw_type, str):
        problems.add(_at(path, "type"), f"must be a string, one of {', '.join(SCORER_TYPES)}; got {_describe(raw_type)}")
        return None
    kind = _canonical_type(raw_type)
    if kind not in OPTIONS:
        problems.add(_at(path, "type"), f"unknown scorer type {raw_type!r}{_suggest(kind, SCORER_TYPES)}; "
                                        f"expected one of {', '.join(SCORER_TYPES)}")
        return None
    before = len(problems.items)
    name = None
    if "name" in spec:
        raw_name = spec["name"]
        if not isinstance(raw_name, str) or not raw_name.strip():
            problems.add(_at(path, "name"), f"must be a non-empty string, got {_describe(raw_name)}")
        else:
            name = raw_name.strip()
    allowed = OPTIONS[kind]
    for key in spec:
        if key in ("type", "name") or key in allowed:
            continue
        listed = ", ".join(("name",) + allowed)
        problems.add(_at(path, key), f"unknown option for a {kind} scorer{_suggest(key, allowed + ('name',))}; "
                                     f"allowed: {listed}")
    opts = {k: v for k, v in spec.items() if k in allowed}
    kwargs = _OPTION_PARSERS[kind](opts, path, problems)
    if len(problems.items) > before:
        return None
    return _Parsed(kind, name, kwargs)


def validate_scorer_spec(spec: Any, path: str = "scorer") -> list[str]:
    """Every problem with one spec as "field.path: message"; empty when it is valid."""
    problems = _Problems()
    _parse(spec, path, problems)
    return problems.strings()


def _specs_list(specs: Any, path: str, problems: _Problems) -> list[tuple[Any, str]]:
    if specs is None:
        return [(DEFAULT_SCORER, path)]
    if isinstance(specs, (list, tuple)):
        if not specs:
            problems.add(path or "scorers", "must list at least one scorer")
        return [(spec, f"{path}[{i}]") for i, spec in enumerate(specs)]
    return [(specs, path)]


def validate_scorer_specs(specs: Any, path: str = "scorers") -> list[str]:
    """Every problem with a suite's `scorers:` value (None, one spec, or a list)."""
    problems = _Problems()
    for spec, where in _specs_list(specs, path, problems):
        _parse(spec, where, problems)
    return problems.strings()


def _raise(problems: _Problems) -> None:
    first_path, first_message = problems.items[0]
    raise ScorerSpecError(first_path, first_message, problems.strings())


def _construct(parsed: _Parsed, name: str) -> BaseScorer:
    return _CLASSES[parsed.type](name, **parsed.kwargs)


def build_scorer(spec: Any, path: str = "scorer") -> BaseScorer:
    """One scorer from a spec; raises ScorerSpecError naming the first bad field."""
    problems = _Problems()
    parsed = _parse(spec, path, problems)
    if parsed is None:
        _raise(problems)
    assert parsed is not None
    return _construct(parsed, parsed.name or parsed.type)


def _unique_names(parsed: list[_Parsed]) -> list[str]:
    """Names for the scorers, made unique with _2, _3... suffixes.

    Names the suite chose are claimed first (in order), so an explicit name is kept
    and an automatic name yields to it: [numeric, {type: numeric, name: numeric}]
    gives numeric_2, numeric.
    """
    names: list[str | None] = [None] * len(parsed)
    taken: set[str] = set()
    for i, p in enumerate(parsed):
        if p.name is not None and p.name not in taken:
            names[i] = p.name
            taken.add(p.name)
    for i, p in enumerate(parsed):
        if names[i] is None:
            base = p.name or p.type
            candidate, n = base, 2
            while candidate in taken:
                candidate, n = f"{base}_{n}", n + 1
            names[i] = candidate
            taken.add(candidate)
    return [n for n in names if n is not None]


def build_scorers(specs: Any, path: str = "scorers") -> list[BaseScorer]:
    """Scorers for a suite: None gives [normalized]; a spec gives one; a list gives each.

    Names are unique (duplicates get _2, _3 ... suffixes). Raises ScorerSpecError for the
    first problem, with `problems` listing them all.
    """
    problems = _Problems()
    parsed = [_parse(spec, where, problems) for spec, where in _specs_list(specs, path, problems)]
    if problems.items:
        _raise(problems)
    usable = [p for p in parsed if p is not None]
    return [_construct(p, name) for p, name in zip(usable, _unique_names(usable))]
