"""lm-evaluation-harness task YAMLs (generative, over a local data file) as a tuieval suite.

Carried over: `doc_to_text` as the template (Jinja `{{ field }}`; `.strip()` / `| trim` applied to
the data), `doc_to_target` as the target (a field, `{{ field }}`, or a constant), the data file of
`dataset_path: json | csv | parquet` with `dataset_kwargs.data_files` (test split, else
validation), `description` as the system prompt, `metric_list`'s `exact_match` options
(`regexes_to_ignore` applied to the targets as lm-eval applies them to references, `ignore_case`
and `ignore_punctuation` choosing `normalized` over `exact`), each `filter_list` pipeline as a
regex scorer (the first decides, the others are recorded beside it for the extraction-sensitivity
view), `repeats` and `generation_kwargs` temperature / max_gen_toks as sampling. Not carried over,
each with a note: `until` stop sequences, few-shot settings, other metrics and filter functions.
`loglikelihood` and `multiple_choice` tasks are refused: tuieval sends generative requests only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from tuieval.importers.common import (
    SAFE_LOADER, ImportFailed, Imported, one_line, plain_template, read_records, read_yaml, resolve, suite_case, unique_ids,
)
from tuieval.suite.template import PLACEHOLDER


class _Function:
    """A `!function module.name` value: Python the harness imports, which an import cannot run."""

    def __init__(self, name: str) -> None:
        self.name = name


class _TaskLoader(SAFE_LOADER):  # type: ignore[misc,valid-type]
    pass


_TaskLoader.add_constructor("!function", lambda loader, node: _Function(loader.construct_scalar(node)))

#: filter functions with a regex scorer form; `take_first` picks the first of several generations
KNOWN_FILTERS = ("regex", "take_first", "remove_whitespace")


def suite_from_lm_eval(path: str | Path) -> Imported:
    """An lm-evaluation-harness task YAML as a suite (see the module docstring)."""
    path = Path(path)
    task = _load_task(path)
    name = str(task.get("task") or path.stem)
    imported = Imported(suite={}, source=f"lm-evaluation-harness task {path}")
    output_type = task.get("output_type", "generate_until")
    if output_type != "generate_until":
        raise ImportFailed(f"{path}: output_type {output_type}: tuieval imports generative tasks "
                           "(generate_until) only; log-likelihood scoring needs token probabilities")
    for key in ("doc_to_text", "doc_to_target"):
        if isinstance(task.get(key), _Function):
            raise ImportFailed(f"{path}: {key} is Python (!function {task[key].name}); "
                               "tuieval imports Jinja templates and fields only")
    if task.get("process_docs") is not None:
        imported.note("process_docs (Python run over the documents) is not carried over: the documents are used as stored")
    records = _documents(path, task)
    text = task.get("doc_to_text")
    if not isinstance(text, str):
        raise ImportFailed(f"{path}: doc_to_text must be a template string")
    prompt, strip_vars, unsupported = plain_template(text)
    if unsupported:
        raise ImportFailed(f"{path}: doc_to_text uses Jinja beyond {{{{ field }}}}: {one_line(unsupported[0], 60)}")
    target_of = _target_reader(path, task.get("doc_to_target"))
    equal, ignore = _exact_match(task, imported)
    scorers = _filters(task, equal, imported)
    fields = list(dict.fromkeys(PLACEHOLDER.findall(prompt)))
    roots = {f.split(".")[0] for f in fields}
    ids = unique_ids((r.get("id", r.get("idx")) for r in records), "doc")
    cases, dropped = [], 0
    for cid, doc in zip(ids, records):
        target = target_of(doc)
        if target is None or target == "":
            dropped += 1
            continue
        for pattern in ignore:
            target = re.sub(pattern, "", str(target))
        vars_ = {k: (v.strip() if k in strip_vars and isinstance(v, str) else v)
                 for k, v in doc.items() if k in roots}
        cases.append(suite_case(cid, vars_, [target], None))
    if dropped:
        imported.note(f"{dropped} document(s) left out: doc_to_target gave no target")
    if not cases:
        raise ImportFailed(f"{path}: no document could be carried over")
    template: dict[str, Any] = {"id": "doc_to_text", "prompt": prompt}
    description = task.get("description")
    if isinstance(description, str) and description.strip():
        if "{{" in description:
            imported.note("description uses placeholders and is not carried over as the system prompt")
        else:
            template["system"] = description.strip()
    suite: dict[str, Any] = {"name": name, "description": f"Imported from the lm-evaluation-harness task {name}.",
                             "templates": [template], "cases": cases, "scorers": scorers}
    sampling = _sampling(task, imported)
    if sampling:
        suite["sampling"] = sampling
    imported.suite = suite
    return imported


def _load_task(path: Path) -> dict[str, Any]:
    task = read_yaml(path, _TaskLoader)
    if not isinstance(task, dict):
        raise ImportFailed(f"{path}: a task file is a YAML mapping (task:, doc_to_text:, …)")
    include = task.get("include")
    if isinstance(include, str):  # a task may extend a base file; its own keys win
        base = resolve(path.parent, include)
        if not base.exists():
            raise ImportFailed(f"{path}: include: {include}: no such file")
        task = {**_load_task(base), **{k: v for k, v in task.items() if k != "include"}}
    return task


def _documents(path: Path, task: dict[str, Any]) -> list[dict[str, Any]]:
    builder = task.get("dataset_path")
    if builder not in ("json", "csv", "parquet"):
        raise ImportFailed(f"{path}: dataset_path {one_line(builder)}: tuieval reads local data files "
                           "(dataset_path: json, csv or parquet with dataset_kwargs.data_files)")
    files = (task.get("dataset_kwargs") or {}).get("data_files")
    split = task.get("test_split") or task.get("validation_split") or "test"
    if isinstance(files, dict):
        chosen = files.get(split)
        if chosen is None:
            raise ImportFailed(f"{path}: dataset_kwargs.data_files has no {split!r} split (has: {', '.join(files)})")
    else:
        chosen = files
    if isinstance(chosen, list):
        chosen = chosen[0] if len(chosen) == 1 else chosen
    if not isinstance(chosen, str):
        raise ImportFailed(f"{path}: dataset_kwargs.data_files must name one file for the {split!r} split")
    data = resolve(path.parent, chosen, Path.cwd())
    fmt = {"json": None, "csv": "csv", "parquet": "parquet"}[builder]
    records = read_records(data, fmt if fmt else ("json" if data.suffix.lower() == ".json" else "jsonl"))
    if not records:
        raise ImportFailed(f"{data}: no documents")
    return records


def _target_reader(path: Path, spec: Any):
    if isinstance(spec, str):
        template, strip_vars, unsupported = plain_template(spec)
        if unsupported:
            raise ImportFailed(f"{path}: doc_to_target uses Jinja beyond {{{{ field }}}}: {one_line(unsupported[0], 60)}")
        m = PLACEHOLDER.fullmatch(template.strip())
        if m:
            field = m.group(1)
            strip = field in strip_vars
            return lambda doc: _get(doc, field, strip)
        if not PLACEHOLDER.search(template):
            # a bare name is a field of the document (lm-eval's rule), else a constant
            return lambda doc: doc.get(spec, spec) if spec in doc else spec
        raise ImportFailed(f"{path}: doc_to_target must be one field ({{{{ answer }}}}), not {one_line(spec, 60)}")
    if isinstance(spec, int) and not isinstance(spec, bool):
        return lambda doc: spec
    raise ImportFailed(f"{path}: doc_to_target must be a field name or {{{{ field }}}}")


def _get(doc: dict, dotted: str, strip: bool) -> Any:
    value: Any = doc
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value.strip() if strip and isinstance(value, str) else value


def _exact_match(task: dict[str, Any], imported: Imported) -> tuple[str, list[str]]:
    """The comparison the metric makes ("exact" or "normalized") and the target regexes to remove."""
    metrics = task.get("metric_list") or [{"metric": "exact_match"}]
    names = [m.get("metric") for m in metrics if isinstance(m, dict)]
    em = next((m for m in metrics if isinstance(m, dict) and m.get("metric") == "exact_match"), None)
    others = [str(n) for n in names if n != "exact_match"]
    if others:
        imported.note(f"metric(s) {', '.join(others)} not carried over: tuieval scores by exact match here")
    if em is None:
        return "normalized", []
    ignore = [p for p in em.get("regexes_to_ignore") or [] if isinstance(p, str)]
    loose = bool(em.get("ignore_case") or em.get("ignore_punctuation"))
    if loose:
        imported.note("exact_match ignore_case/ignore_punctuation: compared with tuieval's normalized scorer "
                      "(which also ignores articles and extra whitespace)")
    if ignore:
        imported.note(f"regexes_to_ignore {ignore} applied to the targets; on responses the filters' regex "
                      "extraction stands in for them")
    return ("normalized" if loose else "exact"), ignore


def _filters(task: dict[str, Any], equal: str, imported: Imported) -> list[Any]:
    scorers: list[Any] = []
    for i, pipeline in enumerate(task.get("filter_list") or []):
        fname = str(pipeline.get("name") or f"filter{i}") if isinstance(pipeline, dict) else f"filter{i}"
        steps = pipeline.get("filter") if isinstance(pipeline, dict) else None
        steps = steps if isinstance(steps, list) else []
        unknown = [str(s.get("function")) for s in steps if isinstance(s, dict)
                   and s.get("function") not in KNOWN_FILTERS]
        regexes = [s for s in steps if isinstance(s, dict) and s.get("function") == "regex"]
        if unknown or len(regexes) != 1:
            why = f"functions {', '.join(unknown)}" if unknown else f"{len(regexes)} regex steps"
            imported.note(f"filter {fname} not carried over ({why}; tuieval reads one regex per scorer)")
            continue
        step = regexes[0]
        pattern = step.get("regex_pattern", r"#### (\-?[0-9\.\,]+)")  # the harness's default pattern
        try:
            groups = re.compile(pattern).groups
        except re.error as exc:
            imported.note(f"filter {fname} not carried over: its regex does not compile ({exc})")
            continue
        select = step.get("group_select", 0)
        spec: dict[str, Any] = {"type": "regex", "name": fname, "pattern": pattern, "then": equal,
                                "match": "last" if select == -1 else "first"}
        if select not in (0, -1):
            imported.note(f"filter {fname}: group_select {select} read as the first match")
        # several groups in alternation: lm-eval keeps whichever took part, the whole match here
        spec["group"] = 1 if groups == 1 else 0
        if step.get("fallback") not in (None, "[invalid]"):
            imported.note(f"filter {fname}: fallback {one_line(step['fallback'], 30)} not carried over "
                          "(no match extracts nothing)")
        scorers.append(spec)
    if not scorers:
        scorers = [equal]
        if task.get("filter_list"):
            imported.note(f"no filter could be carried over: responses compared whole by `{equal}`")
    return scorers


def _sampling(task: dict[str, Any], imported: Imported) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gen = task.get("generation_kwargs") or {}
    temperature = gen.get("temperature")
    if isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and 0 <= temperature <= 2:
        out["temperature"] = float(temperature)
    max_toks = gen.get("max_gen_toks")
    if isinstance(max_toks, int) and max_toks > 0:
        out["max_tokens"] = max_toks
    if gen.get("until"):
        imported.note(f"generation_kwargs.until {gen['until']} not carried over: tuieval sends no stop sequences")
    repeats = task.get("repeats")
    if isinstance(repeats, int) and repeats > 1:
        out["samples"] = repeats
    if task.get("num_fewshot"):
        imported.note(f"num_fewshot {task['num_fewshot']} not carried over (a template sweep's shots: draws "
                      "examples from the suite's own cases, not a fewshot split)")
    return out
