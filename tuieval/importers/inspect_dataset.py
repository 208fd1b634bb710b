"""Inspect-style datasets (JSONL, JSON or CSV of `Sample` fields) as a tuieval suite.

Fields, as Inspect's `Sample` names them: `input` (text, or chat messages), `target` (text or a
list of accepted texts), `id`, `metadata` (a mapping), `choices` (multiple choice). Rows with
choices are asked as Inspect's `multiple_choice()` solver asks them and scored by the `choice`
scorer on the letter; other rows are scored by `scorer` (the dataset does not say how: in Inspect
the task's code does). Other columns of a CSV become metadata.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuieval.importers.common import (
    MULTIPLE_CHOICE_TEMPLATE, ImportFailed, Imported, Row, input_cases, letters_phrase, multiple_choice, one_line,
    read_records, unique_ids,
)

SAMPLE_FIELDS = ("input", "target", "id", "metadata", "choices", "sandbox", "files", "setup")


def suite_from_inspect(path: str | Path, *, scorer: str = "normalized") -> Imported:
    """An Inspect dataset file as a suite (see the module docstring)."""
    path = Path(path)
    records = read_records(path)
    imported = Imported(suite={}, source=f"Inspect dataset {path}")
    if not records:
        raise ImportFailed(f"{path}: the dataset has no rows")
    if not any("input" in r for r in records):
        raise ImportFailed(f"{path}: no `input` field (an Inspect Sample needs input; columns: "
                           f"{', '.join(list(records[0])[:12])})")
    ids = unique_ids((r.get("id") for r in records), "sample")
    is_csv = path.suffix.lower() == ".csv"
    extra_columns: set[str] = set()
    rows: list[Row] = []
    choices_of: dict[str, list[Any]] = {}
    for cid, rec in zip(ids, records):
        for key in ("sandbox", "files", "setup"):
            if rec.get(key):
                imported.note(f"sample {one_line(cid, 40)}: `{key}` is not carried over (tuieval sends prompts only)")
        if rec.get("input") in (None, ""):
            imported.note(f"sample {one_line(cid, 40)} left out: no input")
            continue
        target = rec.get("target")
        targets = [t for t in (target if isinstance(target, list) else [target]) if t not in (None, "")]
        if not targets:
            imported.note(f"sample {one_line(cid, 40)} left out: no target (tuieval cases need one, even for a "
                          "judge scorer)")
            continue
        metadata = rec.get("metadata") if isinstance(rec.get("metadata"), dict) else {}
        if rec.get("metadata") not in (None, "") and not isinstance(rec.get("metadata"), dict):
            imported.note(f"sample {one_line(cid, 40)}: metadata is not a mapping and is left out")
        if is_csv:  # Inspect's CSV reader maps columns; the unmapped ones are most useful as slices
            extras = {k: v for k, v in rec.items() if k not in SAMPLE_FIELDS and v != ""}
            extra_columns.update(extras)
            metadata = {**extras, **metadata}
        row = Row(cid, rec["input"], targets, metadata)
        choices = rec.get("choices")
        if isinstance(choices, list) and choices:
            choices_of[cid] = choices
        rows.append(row)
    if extra_columns:
        imported.note(f"CSV columns {', '.join(sorted(extra_columns))} became metadata (slices)")

    mc = [r for r in rows if r.id in choices_of]
    if mc and len(mc) < len(rows):
        imported.note(f"{len(rows) - len(mc)} sample(s) without choices left out: the suite is multiple choice "
                      f"({len(mc)} samples have choices)")
    if mc:
        kept, letters = multiple_choice(mc, imported, choices_of)
        prompt = MULTIPLE_CHOICE_TEMPLATE.replace("{letters}", letters_phrase(letters))
        scorers: list[Any] = [{"type": "choice", "choices": letters}]
    else:
        kept, prompt, scorers = rows, "{{ input }}", [scorer]
        imported.note(f"scored by `{scorer}`: an Inspect dataset does not name its scorer (the task's code does); "
                      "choose another with --scorer")
    cases, system = input_cases(kept, imported)
    if not cases:
        raise ImportFailed(f"{path}: no sample could be carried over ({len(imported.notes)} left out)")
    template: dict[str, Any] = {"id": "inspect", "prompt": prompt}
    if system is not None:
        template["system"] = system
    imported.suite = {"name": path.stem, "description": f"Imported from the Inspect dataset {path.name}.",
                      "templates": [template], "cases": cases, "scorers": scorers}
    return imported
