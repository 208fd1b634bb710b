"""OpenAI evals registries (an eval's YAML and its `samples.jsonl`) as a tuieval suite.

A registry entry names a base eval (`my-eval: {id: my-eval.dev.v0}`) and its version
(`my-eval.dev.v0: {class: evals.elsuite.basic.match:Match, args: {samples_jsonl: my-eval/samples.jsonl}}`);
`samples_jsonl` is relative to the registry's `data/` folder. Each sample has `input` (text or
chat messages) and `ideal` (one accepted answer or a list). The basic classes become scorers:

- `Match` (the completion starts with an ideal answer): `contains`, case-sensitive — tuieval has no
  prefix scorer, so an answer that states the ideal later counts too (said in the notes);
- `Includes` (an ideal answer occurs in the completion): `contains`, case-sensitive unless
  `ignore_case: true`;
- `FuzzyMatch` (after normalising, either text contains the other): `contains`, case-insensitive —
  the completion containing the ideal; an ideal containing a shorter completion does not count;
- `JsonMatch`: `json` (the completion's JSON equals an ideal's).

Model-graded classes (a modelgraded_spec's prompt and choice scores) are refused with a message
naming them: a judge scorer for them is written by hand. A `samples.jsonl` given directly is scored as `Match`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuieval.importers.common import (
    ImportFailed, Imported, Row, input_cases, one_line, read_records, read_yaml, resolve, unique_ids,
)

#: class name (after the last `:`) -> (scorer spec, what differs from the original)
CLASSES: dict[str, tuple[Any, str | None]] = {
    "Match": ({"type": "contains", "case_sensitive": True},
              "Match passes a completion that starts with an ideal answer; tuieval has no prefix scorer, so this "
              "suite uses contains (case-sensitive): an answer that states the ideal later counts too"),
    "Includes": ({"type": "contains", "case_sensitive": True}, None),
    "FuzzyMatch": ("contains",
                   "FuzzyMatch also passes when the normalised completion is contained in an ideal answer; tuieval's "
                   "contains (case-insensitive) only passes the completion containing the ideal"),
    "JsonMatch": ("json", None),
}


def suite_from_openai_evals(path: str | Path, *, eval_name: str | None = None) -> Imported:
    """An OpenAI evals registry YAML (or a samples.jsonl) as a suite (see the module docstring)."""
    path = Path(path)
    imported = Imported(suite={}, source=f"OpenAI evals registry {path}")
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        class_name, args, name, description = "Match", {}, path.parent.name or path.stem, ""
        samples_path = path
        imported.note("no registry entry given: scored as the basic Match eval")
    else:
        name, description, class_name, args = _entry(path, eval_name, imported)
        if "samples_jsonl" not in args:
            raise ImportFailed(f"{path}: {name}.args.samples_jsonl is missing")
        # registry/evals/x.yaml names data under registry/data/
        samples_path = resolve(path.parent, str(args["samples_jsonl"]), path.parent.parent / "data", Path.cwd())
    short = class_name.rsplit(":", 1)[-1].rsplit(".", 1)[-1]
    if short not in CLASSES:
        hint = (" (a model-graded eval: its modelgraded_spec prompt and choice scores are not carried over; "
                "write a judge scorer by hand)"
                if "modelgraded" in class_name or "ModelBased" in class_name else "")
        raise ImportFailed(f"{path}: {name}.class {class_name} has no tuieval scorer{hint}; "
                           f"supported: {', '.join(CLASSES)}")
    scorer, caveat = CLASSES[short]
    if short == "Includes" and args.get("ignore_case"):
        scorer = "contains"
    if caveat:
        imported.note(caveat)
    for key in ("num_few_shot", "few_shot_jsonl"):
        if args.get(key):
            imported.note(f"args.{key} is not carried over: tuieval sends each sample's own messages")
    records = read_records(samples_path, "jsonl")
    if not records:
        raise ImportFailed(f"{samples_path}: no samples")
    ids = unique_ids((r.get("id") for r in records), "sample")
    rows = []
    for cid, rec in zip(ids, records):
        ideal = rec.get("ideal")
        targets = [t for t in (ideal if isinstance(ideal, list) else [ideal]) if t not in (None, "")]
        if rec.get("input") in (None, "", []):
            imported.note(f"sample {cid} left out: no input")
        elif not targets:
            imported.note(f"sample {cid} left out: no ideal answer")
        else:
            metadata = {k: v for k, v in rec.items() if k not in ("input", "ideal", "id")
                        and isinstance(v, (str, int, float, bool))}
            rows.append(Row(cid, rec["input"], targets, metadata))
    cases, system = input_cases(rows, imported)
    if not cases:
        raise ImportFailed(f"{samples_path}: no sample could be carried over")
    template: dict[str, Any] = {"id": "input", "prompt": "{{ input }}"}
    if system is not None:
        template["system"] = system
    suite: dict[str, Any] = {"name": name, "description": description or f"Imported from the OpenAI eval {name}.",
                             "templates": [template], "cases": cases, "scorers": [scorer]}
    if isinstance(args.get("max_tokens"), int) and args["max_tokens"] > 0:
        suite["sampling"] = {"max_tokens": args["max_tokens"]}
    imported.suite = suite
    return imported


def _entry(path: Path, eval_name: str | None, imported: Imported) -> tuple[str, str, str, dict]:
    """(name, description, class, args) of the eval chosen in a registry file."""
    data = read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise ImportFailed(f"{path}: a registry file maps eval names to {{id:}} or {{class:, args:}}")
    bases = [k for k, v in data.items() if isinstance(v, dict) and "id" in v]
    name = eval_name or (bases[0] if bases else next((k for k, v in data.items()
                                                      if isinstance(v, dict) and "class" in v), None))
    if name is None or name not in data:
        known = ", ".join(str(k) for k in data)
        raise ImportFailed(f"{path}: --eval {name}: no such eval (the file has: {known})")
    if not eval_name and len(bases) > 1:
        imported.note(f"the registry file holds {len(bases)} evals; imported {name} (choose with --eval: "
                      f"{', '.join(bases[1:])})")
    entry = data[name]
    description = str(entry.get("description") or "") if isinstance(entry, dict) else ""
    seen = {name}
    while isinstance(entry, dict) and "class" not in entry and "id" in entry:
        target = entry["id"]
        if target in seen or target not in data:
            raise ImportFailed(f"{path}: {name}.id {one_line(target)} names no entry with class: in this file")
        seen.add(target)
        entry = data[target]
    if not isinstance(entry, dict) or not isinstance(entry.get("class"), str):
        raise ImportFailed(f"{path}: {name}: no class: for the eval")
    args = entry.get("args") or {}
    if not isinstance(args, dict):
        raise ImportFailed(f"{path}: {name}.args must be a mapping")
    return str(name), description, entry["class"], args
