"""promptfoo configs (`promptfooconfig.yaml`) as a tuieval suite.

- `prompts` (text, `file://` .txt/.json files, `{id, label, raw}` objects, chat JSON with one
  system and one user message) become templates; `{{var}}` is tuieval's placeholder too.
- `tests` (inline, or `file://` CSV/YAML/JSON) become cases: `vars` the template variables
  (a list value expands into one case per combination, as promptfoo does), `metadata` the
  slices, `defaultTest` merged into each.
- Assertions become the suite's scorer and each case's target: `equals` → `exact` (`json` for an
  object), `contains` / `contains-any` → `contains` (case-sensitive), `icontains` / `icontains-any`
  → `contains`, `starts-with` → `contains` (case-sensitive; tuieval has no prefix scorer). A suite
  has one scoring rule, so a test asserting another kind, a second assertion, `regex`, `is-json`,
  `contains-json`, `javascript`, `python`, model-graded ones and the rest are left out, each with
  a note naming it. One `llm-rubric` shared by every test (a `defaultTest` rubric) becomes a judge
  scorer beside the first (reference-free, the rubric as its criteria, judged by
  `defaultTest.options.provider` or else the first provider); a rubric of a test's own is left out.
- `providers` become `--model` specs (openai, anthropic, ollama; openai with `apiBaseUrl` as
  openai-compatible) listed in the notes, since a suite does not name its model.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from collections import Counter
from pathlib import Path
from typing import Any

from tuieval.importers.common import (
    ImportFailed, Imported, one_line, plain_template, read_records, read_text, read_yaml, resolve, suite_case,
    unique_ids,
)

#: assertion type -> the tuieval scorer it is checked with (the value becomes the case's targets)
ASSERTIONS: dict[str, Any] = {
    "equals": "exact",
    "contains": {"type": "contains", "case_sensitive": True},
    "contains-any": {"type": "contains", "case_sensitive": True},
    "icontains": "contains",
    "icontains-any": "contains",
    "starts-with": {"type": "contains", "case_sensitive": True},
}
MODEL_GRADED = {"llm-rubric", "model-graded-closedqa", "model-graded-factuality", "factuality", "answer-relevance",
                "context-faithfulness", "context-recall", "context-relevance", "g-eval", "select-best", "similar",
                "classifier", "moderation", "search-rubric", "pi"}
#: kinds that judge with the same rule, so tests asserting either can share a scorer
KIND = {"equals": "exact", "contains": "contains", "contains-any": "contains", "starts-with": "contains",
        "icontains": "icontains", "icontains-any": "icontains"}


def suite_from_promptfoo(path: str | Path) -> Imported:
    """A promptfoo config as a suite (see the module docstring)."""
    path = Path(path)
    config = read_yaml(path)
    if not isinstance(config, dict):
        raise ImportFailed(f"{path}: a promptfoo config is a YAML mapping (prompts:, providers:, tests:)")
    imported = Imported(suite={}, source=f"promptfoo config {path}")
    base = path.parent
    templates = _templates(config.get("prompts"), base, path, imported)
    imported.models = _providers(config.get("providers"), imported)
    for key in ("scenarios", "derivedMetrics", "nunjucksFilters", "extensions"):
        if config.get(key):
            imported.note(f"{key} is not carried over")
    default = config.get("defaultTest") or {}
    if isinstance(default, str):
        default = _load_file(default, base, path, "defaultTest")
    if not isinstance(default, dict):
        raise ImportFailed(f"{path}: defaultTest must be a mapping (vars:, assert:)")
    tests = _tests(config.get("tests"), base, path)
    cases, kind, scorer, rubric = _cases(tests, default, base, imported)
    if not cases:
        raise ImportFailed(f"{path}: no test could be carried over ({len(imported.notes)} notes; "
                           "tuieval needs tests with an equals/contains/icontains/starts-with assertion)")
    _check_vars(templates, cases, imported)
    suite: dict[str, Any] = {
        "name": str(config.get("description") or path.parent.name or path.stem)[:80],
        "description": f"Imported from the promptfoo config {path.name}." + (
            f" {config['description']}" if isinstance(config.get("description"), str) else ""),
        "templates": templates, "cases": cases, "scorers": [scorer],
    }
    judge = judge_scorer(rubric, default, imported.models, imported) if rubric is not None else None
    if judge is not None:
        suite["scorers"].append(judge)
    repeat = (config.get("evaluateOptions") or {}).get("repeat")
    if isinstance(repeat, int) and repeat > 1:
        suite["sampling"] = {"samples": repeat}
    imported.suite = suite
    return imported


# --- prompts ------------------------------------------------------------------------------------

def _templates(raw: Any, base: Path, path: Path, imported: Imported) -> list[dict[str, Any]]:
    if raw is None:
        raise ImportFailed(f"{path}: prompts: missing")
    items = raw if isinstance(raw, list) else [raw]
    found: list[tuple[str | None, Any]] = []  # (label, text or chat messages)
    for item in items:
        if isinstance(item, str) and item.startswith("file://"):
            found += _prompt_file(item, base, path, imported)
        elif isinstance(item, str):
            found.append((None, item))
        elif isinstance(item, dict) and isinstance(item.get("raw"), str):
            found.append((item.get("label") or item.get("id"), item["raw"]))
        elif isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"].startswith("file://"):
            for _, text in _prompt_file(item["id"], base, path, imported):
                found.append((item.get("label"), text))
        else:
            imported.note(f"prompt {one_line(item, 60)} left out: not a text, file:// or {{raw:}} prompt")
    if isinstance(raw, dict):  # {file://a.txt: label}
        found = []
        for key, label in raw.items():
            found += [(label, t) for _, t in _prompt_file(str(key), base, path, imported)]
    templates = []
    for i, (label, body) in enumerate(found):
        system = None
        if isinstance(body, str) and body.lstrip().startswith("["):
            try:
                body = json.loads(body)
            except json.JSONDecodeError:
                pass
        if isinstance(body, list):
            chat = _chat(body)
            if isinstance(chat, str):
                imported.note(f"prompt {label or i + 1} left out: {chat}")
                continue
            system, body = chat
        prompt, _, unsupported = plain_template(body)
        sys_text, _, sys_unsupported = plain_template(system) if system else (None, set(), [])
        if unsupported or sys_unsupported:
            imported.note(f"prompt {label or i + 1} left out: Nunjucks beyond {{{{var}}}} "
                          f"({one_line((unsupported + sys_unsupported)[0], 50)})")
            continue
        t: dict[str, Any] = {"id": str(label) if label else f"p{i + 1}", "prompt": prompt}
        if sys_text:
            t["system"] = sys_text
        templates.append(t)
    ids = [t["id"] for t in templates]
    for t in templates:
        if ids.count(t["id"]) > 1:
            t["id"] = f"{t['id']}-{templates.index(t) + 1}"
    if not templates:
        raise ImportFailed(f"{path}: prompts: no prompt could be carried over")
    return templates


def _prompt_file(ref: str, base: Path, path: Path, imported: Imported) -> list[tuple[str | None, Any]]:
    target = resolve(base, ref.removeprefix("file://"))
    suffix = target.suffix.lower()
    if suffix in (".txt", ".md", ".j2", ".nunjucks", ""):
        text = read_text(target, "prompt file")
        # promptfoo splits a text file into several prompts on lines of ---
        parts = [p.strip("\n") for p in text.replace("\r\n", "\n").split("\n---\n")]
        return [(None, p) for p in parts if p.strip()]
    if suffix == ".json":
        return [(None, read_text(target, "prompt file"))]
    imported.note(f"prompt {ref} left out: {suffix} prompts are code, which tuieval does not run")
    return []


def _chat(messages: list) -> tuple[str | None, str] | str:
    system = None
    rest = [m for m in messages if isinstance(m, dict)]
    if len(rest) != len(messages):
        return "a chat prompt's messages must be {role, content} objects"
    if rest and rest[0].get("role") == "system":
        system = rest.pop(0).get("content")
    if len(rest) != 1 or rest[0].get("role") != "user" or not isinstance(rest[0].get("content"), str):
        return f"a {len(messages)}-message chat prompt; tuieval sends one system and one user message"
    return (system if isinstance(system, str) else None), rest[0]["content"]


# --- providers ----------------------------------------------------------------------------------

def _providers(raw: Any, imported: Imported) -> list[str]:
    items: list[Any]
    if raw is None:
        return []
    if isinstance(raw, dict):
        items = [{"id": k, **(v if isinstance(v, dict) else {})} for k, v in raw.items()]
    else:
        items = raw if isinstance(raw, list) else [raw]
    specs = []
    for item in items:
        pid = item if isinstance(item, str) else (item.get("id") if isinstance(item, dict) else None)
        config = (item.get("config") if isinstance(item, dict) else None) or {}
        spec = model_spec(pid, config) if isinstance(pid, str) else None
        if spec is None:
            imported.note(f"provider {one_line(pid, 60)} has no tuieval backend (openai, anthropic, ollama, "
                          "openai-compatible)")
            continue
        specs.append(spec)
        extra = [k for k in config if k not in ("apiBaseUrl", "apiKeyEnvar")]
        if extra:
            imported.note(f"provider {pid} config {', '.join(map(str, extra))} not carried over "
                          "(use tuieval run --temperature / --max-tokens)")
    return specs


def model_spec(provider_id: str, config: dict[str, Any]) -> str | None:
    """A promptfoo provider id as a `tuieval run --model` spec (with `--base-url` when it names one)."""
    parts = provider_id.split(":")
    family, rest = parts[0], parts[1:]
    if rest and rest[0] in ("chat", "completion", "messages", "responses"):
        rest = rest[1:]
    if not rest:
        return None
    model = ":".join(rest)  # ollama tags keep their colon: ollama:chat:llama3.1:8b
    if family == "openai":
        url = config.get("apiBaseUrl") or config.get("apiHost")
        return f"openai-compatible/{model} --base-url {url}" if url else f"openai/{model}"
    if family == "anthropic":
        return f"anthropic/{model}"
    if family == "ollama":
        return f"ollama/{model}"
    if family == "vllm":
        return f"vllm/{model}"
    return None


# --- tests --------------------------------------------------------------------------------------

def _load_file(ref: str, base: Path, path: Path, what: str) -> Any:
    target = resolve(base, ref.removeprefix("file://"))
    suffix = target.suffix.lower()
    if suffix in (".yaml", ".yml"):
        return read_yaml(target)
    if suffix in (".json", ".jsonl"):
        return read_records(target)
    if suffix == ".csv":
        return _csv_tests(target)
    raise ImportFailed(f"{path}: {what}: {ref}: tuieval reads YAML, JSON, JSONL or CSV test files")


def _tests(raw: Any, base: Path, path: Path) -> list[dict[str, Any]]:
    if raw is None:
        raise ImportFailed(f"{path}: tests: missing")
    if isinstance(raw, str):
        raw = [raw]
    tests: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else [raw]:
        if isinstance(item, str):
            loaded = _load_file(item, base, path, "tests")
            tests += loaded if isinstance(loaded, list) else [loaded]
        elif isinstance(item, dict):
            tests.append(item)
        else:
            raise ImportFailed(f"{path}: tests: each test is a mapping (vars:, assert:) or a file:// path")
    return tests


def _csv_tests(target: Path) -> list[dict[str, Any]]:
    """promptfoo's CSV tests: columns are vars; `__expected` cells are assertions ("contains: x",
    or a plain value meaning equals); `__description`, `__metadata:KEY` as promptfoo documents."""
    reader = csv.DictReader(io.StringIO(read_text(target, "tests file"), newline=""))
    tests = []
    for row in reader:
        test: dict[str, Any] = {"vars": {}, "assert": [], "metadata": {}}
        for col, cell in row.items():
            if col is None:
                continue
            if col.startswith("__expected"):
                if cell:
                    test["assert"].append(_expected_cell(cell))
            elif col == "__description":
                test["description"] = cell
            elif col.startswith("__metadata:"):
                test["metadata"][col.split(":", 1)[1]] = cell
            elif not col.startswith("__"):
                test["vars"][col] = cell
        tests.append(test)
    return tests


def _expected_cell(cell: str) -> dict[str, Any]:
    head, sep, value = cell.partition(":")
    kind = head.strip()
    if sep and (kind in ASSERTIONS or kind in MODEL_GRADED or kind in ("regex", "javascript", "python", "is-json",
                                                                         "contains-json", "grade", "fn", "eval")):
        kind = {"grade": "llm-rubric", "fn": "javascript", "eval": "javascript"}.get(kind, kind)
        value = value.strip()
        if kind.endswith("-any"):
            return {"type": kind, "value": [v.strip() for v in value.split(",")]}
        return {"type": kind, "value": value}
    return {"type": "equals", "value": cell}


def _cases(tests: list[dict[str, Any]], default: dict[str, Any], base: Path, imported: Imported,
           ) -> tuple[list[dict[str, Any]], str, Any]:
    expanded: list[tuple[str, dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = []
    labels = unique_ids((t.get("description") for t in tests), "test")
    default_asserts = default.get("assert") or []
    # a defaultTest assertion applies to every test: a kind that cannot be checked is said once
    # one llm-rubric for every test (promptfoo's usual defaultTest rubric) has a tuieval form: the
    # judge scorer, recorded beside the deterministic one; per-test rubrics have none
    rubric = _shared_rubric(tests, default_asserts)
    default_left = [a for a in default_asserts if not (isinstance(a, dict) and a.get("type") in ASSERTIONS)
                    and not (rubric is not None and _is_rubric(a))]
    if default_left:
        imported.note("defaultTest assertion(s) not carried over: "
                      + ", ".join(_describe(a) if isinstance(a, dict) else one_line(a, 30) for a in default_left))
    default_asserts = [a for a in default_asserts if a not in default_left and not _is_rubric(a)]
    for label, test in zip(labels, tests):
        for key in ("options", "threshold", "provider", "providers", "transform"):
            if test.get(key) is not None:
                imported.note(f"test {one_line(label, 40)}: {key} not carried over")
        vars_ = {**(default.get("vars") or {}), **(test.get("vars") or {})}
        asserts = [*default_asserts, *(test.get("assert") or [])]
        metadata = {**(default.get("metadata") or {}), **(test.get("metadata") or {})}
        metadata = {k: v for k, v in metadata.items() if isinstance(v, (str, int, float, bool))}
        vars_ = _file_vars(vars_, base, label, imported)
        if vars_ is None:
            continue
        combos = _combinations(vars_)
        if len(combos) > 1:
            imported.note(f"test {one_line(label, 40)}: list-valued vars expanded into {len(combos)} cases")
        for j, combo in enumerate(combos):
            expanded.append((label if len(combos) == 1 else f"{label}-{j + 1}", combo, asserts, metadata))

    # one scoring rule per suite: the kind most tests assert first
    firsts = [next((a["type"] for a in asserts if isinstance(a, dict) and a.get("type") in ASSERTIONS), None)
              for _, _, asserts, _ in expanded]
    counts = Counter(KIND[f] for f in firsts if f)
    if not counts:
        for label, _, asserts, _ in expanded:
            _note_unmapped(label, asserts, imported)
        return [], "", None, None
    kind = counts.most_common(1)[0][0]
    object_equals = kind == "exact" and all(
        isinstance(a.get("value"), (dict, list)) for _, _, asserts, _ in expanded for a in asserts
        if isinstance(a, dict) and a.get("type") == "equals")
    scorer = "json" if object_equals else next(ASSERTIONS[f] for f in firsts if f and KIND[f] == kind)
    if any(f == "starts-with" for f in firsts):
        imported.note("starts-with checked as contains (case-sensitive): tuieval has no prefix scorer, so an "
                      "answer with the value later than its start counts too")
    cases = []
    for label, vars_, asserts, metadata in expanded:
        chosen, left = None, []
        for a in asserts:
            if not isinstance(a, dict):
                left.append(one_line(a, 30))
            elif chosen is None and a.get("type") in ASSERTIONS and KIND[a["type"]] == kind:
                chosen = a
            else:
                if not (rubric is not None and _is_rubric(a)):
                    left.append(_describe(a))
        if chosen is None:
            _note_unmapped(label, asserts, imported, kind)
            continue
        if left:
            imported.note(f"test {one_line(label, 40)}: assertion(s) not carried over: {', '.join(left)} "
                          "(tuieval checks one assertion per case)")
        value = chosen.get("value")
        targets = value if chosen["type"].endswith("-any") and isinstance(value, list) else [value]
        if any(t is None or (isinstance(t, str) and not t) for t in targets):
            imported.note(f"test {one_line(label, 40)} left out: its {chosen['type']} assertion has no value")
            continue
        if not object_equals:
            targets = [t if isinstance(t, str) else json.dumps(t) for t in targets]
        cases.append(suite_case(label, vars_, targets, metadata))
    return cases, kind, scorer, rubric


def _is_rubric(a: Any) -> bool:
    return isinstance(a, dict) and a.get("type") == "llm-rubric" and isinstance(a.get("value"), str)


def _shared_rubric(tests: list[dict[str, Any]], default_asserts: list) -> str | None:
    """The rubric when every test is graded by the same one llm-rubric (its own or defaultTest's)."""
    values = set()
    for test in tests:
        found = [a["value"] for a in [*default_asserts, *(test.get("assert") or [])] if _is_rubric(a)]
        if len(found) != 1:
            return None
        values.add(found[0])
    return values.pop() if len(values) == 1 else None


def judge_scorer(rubric: str, default: dict[str, Any], models: list[str], imported: Imported) -> dict[str, Any] | None:
    """promptfoo's llm-rubric as tuieval's judge scorer (reference-free, the rubric as criteria)."""
    provider = (default.get("options") or {}).get("provider")
    if isinstance(provider, dict):
        provider = provider.get("id")
    spec = model_spec(provider, {}) if isinstance(provider, str) else None
    source = "defaultTest.options.provider"
    if spec is None:
        spec, source = (models[0] if models else None), "the first provider (promptfoo grades with its own default)"
    if spec is None:
        imported.note("llm-rubric not carried over: no provider to judge with (give defaultTest.options.provider)")
        return None
    model, _, base_url = spec.partition(" --base-url ")
    judge: dict[str, Any] = {"type": "judge", "name": "llm-rubric", "model": model, "mode": "reference_free",
                             "criteria": rubric}
    if base_url:
        judge["base_url"] = base_url
    imported.note(f"llm-rubric graded by tuieval's judge scorer (reference_free, the rubric as its criteria, "
                  f"tuieval's judge prompt), recorded beside the first scorer; judge model {model} from {source}")
    return judge


def _describe(a: dict[str, Any]) -> str:
    kind = str(a.get("type"))
    if kind == "llm-rubric":
        return "llm-rubric (a rubric of its own: tuieval's judge scorer grades a whole suite by one rubric)"
    if kind in MODEL_GRADED:
        return f"{kind} (model-graded: no tuieval scorer grades this way)"
    if kind in ("javascript", "python"):
        return f"{kind} (code, which tuieval does not run)"
    if kind in ASSERTIONS:
        return f"{kind} {one_line(a.get('value'), 30)}"
    return kind


def _note_unmapped(label: str, asserts: list, imported: Imported, kind: str | None = None) -> None:
    kinds = ", ".join(_describe(a) if isinstance(a, dict) else one_line(a, 30) for a in asserts) or "no assertion"
    why = f" (the suite's rule is {kind})" if kind and any(
        isinstance(a, dict) and a.get("type") in ASSERTIONS for a in asserts) else ""
    imported.note(f"test {one_line(label, 40)} left out: {kinds}{why}")


def _file_vars(vars_: dict[str, Any], base: Path, label: str, imported: Imported) -> dict[str, Any] | None:
    """promptfoo loads `file://` var values; text files are read here, anything else leaves the test out."""
    out = {}
    for k, v in vars_.items():
        if isinstance(v, str) and v.startswith("file://"):
            target = resolve(base, v.removeprefix("file://"))
            if target.suffix.lower() not in (".txt", ".md", ".json", ".yaml", ".yml", "") or not target.exists():
                imported.note(f"test {one_line(label, 40)} left out: var {k} is {v}, which tuieval cannot read")
                return None
            v = read_text(target)
        out[k] = v
    return out


def _combinations(vars_: dict[str, Any]) -> list[dict[str, Any]]:
    keys = [k for k, v in vars_.items() if isinstance(v, list)]
    if not keys:
        return [vars_]
    return [{**vars_, **dict(zip(keys, values))} for values in itertools.product(*(vars_[k] for k in keys))]


def _check_vars(templates: list[dict[str, Any]], cases: list[dict[str, Any]], imported: Imported) -> None:
    """A template whose variable a case lacks would fail validation: name them here instead."""
    from tuieval.suite.template import placeholders, unresolved

    for t in list(templates):
        for text in (t["prompt"], t.get("system") or ""):
            for ph in placeholders(text):
                missing = [c["id"] for c in cases if unresolved(ph, c["vars"])]
                if missing:
                    imported.note(f"{len(missing)} case(s) lack var {ph} used by prompt {t['id']}: they "
                                  f"get an empty value (promptfoo renders a missing var as empty)")
                    for c in cases:
                        if c["id"] in missing:
                            c["vars"][ph.split(".")[0]] = ""
