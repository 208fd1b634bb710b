"""What every importer shares: the result shape, reading data files, chat messages, choices, YAML out.

An importer turns another tool's file into a plain dict in the tuieval suite format (README
"Suite format") plus `notes`: one line per thing that could not be carried over, or was carried
over approximately. Nothing is dropped silently: a case or an assertion left out is a note that
names it. A file that cannot be imported at all raises `ImportFailed` with one line naming the
file and field.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from tuieval.suite.template import PLACEHOLDER
from tuieval.textsafe import sanitize


class ImportFailed(ValueError):
    """The file cannot be imported: one line, naming the file and the field."""


@dataclass
class Imported:
    """A suite as a plain dict (ready for YAML) and the notes on what did not carry over."""

    suite: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    source: str = ""
    #: `tuieval run --model` specs the source file named (promptfoo providers)
    models: list[str] = field(default_factory=list)

    def note(self, message: str) -> None:
        # notes quote the data (test names, values): inert before they reach a terminal
        self.notes.append(sanitize(message, single_line=True))


def one_line(value: Any, limit: int = 80) -> str:
    """Text from the data shown in a note: inert, one line, bounded."""
    return sanitize(value, single_line=True, limit=limit)


# --- reading data files -------------------------------------------------------------------------

def read_text(path: Path, what: str = "file") -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such {what}") from None
    except IsADirectoryError:
        raise ImportFailed(f"{path}: is a directory, expected a {what}") from None
    except OSError as exc:
        raise ImportFailed(f"{path}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ImportFailed(f"{path}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x})") from None


#: libyaml's parser when present: ~20x faster on a config with thousands of inline tests
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path, loader: type = SAFE_LOADER) -> Any:
    text = read_text(path)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ImportFailed(f"{where}: invalid YAML: {problem}") from None


def read_records(path: Path, fmt: str | None = None) -> list[dict[str, Any]]:
    """Rows of a JSONL, JSON (an array of objects), CSV or Parquet file, by extension unless `fmt`."""
    fmt = (fmt or path.suffix.lower().lstrip(".")).lower()
    if fmt in ("jsonl", "ndjson"):
        return _read_jsonl(path)
    if fmt == "json":
        text = read_text(path)
        stripped = text.lstrip()
        if stripped.startswith("["):
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ImportFailed(f"{path}:{exc.lineno}: invalid JSON: {exc.msg}") from None
            for i, row in enumerate(data):
                if not isinstance(row, dict):
                    raise ImportFailed(f"{path}: item {i} is not a JSON object")
            return data
        return _read_jsonl(path)  # HF `to_json` writes JSON Lines under a .json name
    if fmt == "csv":
        return _read_csv(path)
    if fmt == "parquet":
        return _read_parquet(path)
    raise ImportFailed(f"{path}: unsupported data format {fmt!r} (jsonl, json, csv or parquet)")


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for lineno, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ImportFailed(f"{path}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(item, dict):
            raise ImportFailed(f"{path}:{lineno}: each line must be a JSON object")
        rows.append(item)
    return rows


def _read_csv(path: Path) -> list[dict[str, Any]]:
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    header = next(reader, None)
    if header is None:
        return []
    rows = []
    for row in reader:
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise ImportFailed(f"{path}:{reader.line_num}: row has {len(row)} fields, the header has {len(header)}")
        rows.append(dict(zip(header, row)))
    return rows


def _read_parquet(path: Path) -> list[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportFailed(f"{path}: reading Parquet needs the optional pyarrow extra "
                           "(pip install 'tuieval[parquet]')") from None
    try:
        return pq.read_table(path).to_pylist()
    except FileNotFoundError:
        raise ImportFailed(f"{path}: no such file") from None
    except Exception as exc:  # pyarrow's ArrowInvalid and friends: not a Parquet file
        raise ImportFailed(f"{path}: cannot read Parquet: {one_line(exc)}") from None


def resolve(base: Path, name: str, *also: Path) -> Path:
    """A path named inside a file: relative to that file's folder, else to the other roots given."""
    p = Path(name)
    if p.is_absolute():
        return p
    for root in (base, *also):
        candidate = root / p
        if candidate.exists():
            return candidate
    return base / p


# --- templates ----------------------------------------------------------------------------------

_ANY_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
# `{{ x.strip() }}` / `{{ x | trim }}`: the value stripped, which the importer does to the data
_STRIP = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\.strip\(\)|\|\s*trim)\s*\}\}")


def plain_template(text: str) -> tuple[str, set[str], list[str]]:
    """A Jinja/Nunjucks template as a tuieval one: (template, variables to strip, unsupported tags).

    tuieval fills `{{ name }}` and `{{ name.field }}`; `.strip()` and `| trim` are applied to the
    data instead. Anything else (filters, expressions, `{% if %}`) is returned as unsupported.
    """
    stripped: set[str] = set()

    def strip_sub(m: re.Match) -> str:
        stripped.add(m.group(1))
        return "{{ " + m.group(1) + " }}"

    out = _STRIP.sub(strip_sub, text)
    unsupported = [m.group(0) for m in _ANY_TAG.finditer(out) if not PLACEHOLDER.fullmatch(m.group(0))]
    return out, stripped, unsupported


# --- chat messages and multiple choice -----------------------------------------------------------

def messages_as_vars(messages: Any) -> tuple[dict[str, str], str | None] | str:
    """Chat input [system?, user] as ({"input": user text}, system text); or why it cannot be.

    tuieval templates send one optional system message and one user message; a conversation
    with earlier turns (few-shot as assistant messages) has no template form.
    """
    if not isinstance(messages, list) or not messages:
        return "input is not a list of chat messages"
    system = None
    rest = list(messages)
    if isinstance(rest[0], dict) and rest[0].get("role") == "system" and "name" not in rest[0]:
        system = _content(rest.pop(0))
    if len(rest) != 1 or not isinstance(rest[0], dict) or rest[0].get("role") != "user":
        roles = "/".join(str(m.get("role")) if isinstance(m, dict) else "?" for m in messages)
        return f"a {len(messages)}-message conversation ({roles}); tuieval sends one system and one user message"
    text = _content(rest[0])
    if text is None:
        return "a message's content is not text"
    return {"input": text}, system


def _content(message: dict) -> str | None:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: keep the text ones, refuse anything else
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content):
            return "\n".join(parts)
    return None


LETTERS = string.ascii_uppercase


def lettered(choices: list[Any]) -> str:
    """Choices as Inspect's multiple_choice() solver lays them out: "A) first" one per line."""
    return "\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices))


#: The prompt Inspect's multiple_choice() solver sends (single answer), with tuieval placeholders.
MULTIPLE_CHOICE_TEMPLATE = (
    "Answer the following multiple choice question. The entire content of your response should be of the "
    "following format: 'ANSWER: $LETTER' (without quotes) where LETTER is one of {letters}.\n\n"
    "{{ input }}\n\n{{ choices_text }}"
)


def choice_target(target: Any, choices: list[Any]) -> str | None:
    """The letter a multiple-choice target stands for: a letter, a 0-based index or a choice's text."""
    if isinstance(target, bool):
        return None
    if isinstance(target, int):
        return LETTERS[target] if 0 <= target < len(choices) else None
    if isinstance(target, str):
        t = target.strip()
        if len(t) == 1 and t.upper() in LETTERS[: len(choices)]:
            return t.upper()
        if t.isdigit() and int(t) < len(choices):
            return LETTERS[int(t)]
        for i, c in enumerate(choices):
            if str(c).strip() == t:
                return LETTERS[i]
    return None


# --- writing ------------------------------------------------------------------------------------

class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    """Block style, keys in the order written, multi-line text as `|` blocks, no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value and not value.endswith((" ", "\t")) and "\r" not in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def to_yaml(imported: Imported) -> str:
    """The suite as YAML text, opening with comments that say where it came from and what was left out.

    Cases are written one per line as JSON flow mappings (JSON is YAML): a 10,000-case suite is
    written in a fraction of the time a block-style dump takes, and each case stays on one line.
    """
    head = [f"# Imported by `tuieval import` from {one_line(imported.source, 200)}."]
    if imported.models:
        head.append("# Models the source named: " + ", ".join(f"--model {m}" for m in imported.models))
    if imported.notes:
        head.append(f"# Not carried over exactly ({len(imported.notes)}):")
        head += [f"#   - {one_line(n, 300)}" for n in imported.notes]
    rest = {k: v for k, v in imported.suite.items() if k != "cases"}
    body = yaml.dump(rest, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    cases = imported.suite.get("cases")
    if cases is not None:
        body += "cases:\n" + "".join(
            "- " + _YAML_UNSAFE.sub(_escape, json.dumps(c, ensure_ascii=False)) + "\n" for c in cases)
    return "\n".join(head) + "\n" + body


# Characters json.dumps leaves raw that YAML reads as line breaks or refuses as non-printable
_YAML_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _escape(m: re.Match) -> str:
    return f"\\u{ord(m.group(0)):04x}"


def unique_ids(raw: Iterable[Any], fallback: str) -> list[str]:
    """Case ids from the source where they are present and unique; `fallback-N` otherwise."""
    items = list(raw)
    texts = [None if v is None or isinstance(v, (dict, list)) else str(v) for v in items]
    usable = all(t not in (None, "") for t in texts) and len(set(texts)) == len(texts)
    if usable:
        return texts  # type: ignore[return-value]
    width = len(str(len(items)))
    return [f"{fallback}-{i + 1:0{width}d}" for i in range(len(items))]


def suite_case(case_id: str, vars_: dict[str, Any], targets: list[Any], metadata: dict[str, Any] | None) -> dict:
    """One case in the suite format: variables under `vars:` (so no variable can collide with id or
    target), one `target:` or several `targets:`, metadata only when there is some."""
    out: dict[str, Any] = {"id": case_id, "vars": vars_}
    if len(targets) == 1:
        out["target"] = targets[0]
    else:
        out["targets"] = list(targets)
    if metadata:
        out["metadata"] = metadata
    return out


@dataclass
class Row:
    """A source row before it becomes a case: input text or chat messages, accepted targets."""

    id: str
    input: Any
    targets: list[Any]
    metadata: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)


def input_cases(rows: list[Row], imported: Imported, what: str = "sample") -> tuple[list[dict], str | None]:
    """Cases whose prompt is the row's input (text, or [system?, user] messages) and the template's
    system prompt: one shared text, `{{ system }}` when it differs between rows, or None."""
    prepared: list[tuple[Row, dict[str, Any], str | None]] = []
    for row in rows:
        if isinstance(row.input, str):
            vars_, system = {"input": row.input}, None
        else:
            got = messages_as_vars(row.input)
            if isinstance(got, str):
                imported.note(f"{what} {one_line(row.id, 40)} left out: {got}")
                continue
            vars_, system = got
        prepared.append((row, vars_, system))
    systems = {s for _, _, s in prepared}
    shared = next(iter(systems)) if len(systems) == 1 else None
    # a system text is rendered as a template: one holding "{{" must travel as data
    per_case = len(systems) > 1 or (shared is not None and ("{{" in shared or "{%" in shared))
    if per_case and None in systems:
        n = sum(1 for _, _, s in prepared if s is None)
        imported.note(f"{n} {what}(s) have no system message while others do: they are sent an empty one")
    cases = []
    for row, vars_, system in prepared:
        v = {**row.vars, **vars_}
        if per_case:
            v["system"] = system or ""
        cases.append(suite_case(row.id, v, row.targets, row.metadata))
    return cases, ("{{ system }}" if per_case else shared)


def multiple_choice(rows: list[Row], imported: Imported, choices_of: dict[str, list[Any]], what: str = "sample",
                    ) -> tuple[list[Row], str]:
    """Rows with choices as Inspect's multiple_choice() asks them: the letter as target, the choices
    laid out as `choices_text`. Returns the rows kept and the letters the choice scorer reads."""
    kept, width = [], 0
    for row in rows:
        choices = choices_of[row.id]
        letters = [choice_target(t, choices) for t in row.targets]
        if not letters or None in letters or len(choices) > len(LETTERS):
            imported.note(f"{what} {one_line(row.id, 40)} left out: target {one_line(row.targets, 40)} is not "
                          f"a letter, index or text of its {len(choices)} choices")
            continue
        if len(letters) > 1:
            imported.note(f"{what} {one_line(row.id, 40)}: several correct letters {letters}; tuieval's choice "
                          "scorer accepts any one of them, not all together")
        width = max(width, len(choices))
        kept.append(Row(row.id, row.input, letters, row.metadata, {**row.vars, "choices_text": lettered(choices)}))
    return kept, LETTERS[: max(width, 2)]


def letters_phrase(letters: str) -> str:
    return ",".join(letters)
