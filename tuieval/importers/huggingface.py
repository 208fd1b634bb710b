"""Hugging Face datasets saved to disk (`to_json`, `to_csv`, `to_parquet`) as a tuieval suite.

A saved dataset has its own column names, so the mapping is given (`input`, `target`, `id`,
`metadata` columns) or guessed from common names (question/prompt/input…, answer/target/label…),
each guess said in the notes. Every non-target column is a template variable, the input column
the prompt. A list-valued `choices` column with an index or letter target (MMLU's layout) is asked
as multiple choice. Parquet needs the optional `pyarrow` extra.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tuieval.importers.common import (
    MULTIPLE_CHOICE_TEMPLATE, ImportFailed, Imported, Row, input_cases, letters_phrase, multiple_choice, one_line,
    read_records, unique_ids,
)

INPUT_GUESSES = ("input", "question", "prompt", "problem", "query", "instruction", "text", "sentence")
TARGET_GUESSES = ("target", "answer", "answers", "label", "output", "ideal", "solution", "completion", "response")
ID_GUESSES = ("id", "idx", "qid", "question_id", "uid", "example_id")


def suite_from_hf(path: str | Path, *, input_field: str | None = None, target_field: str | None = None,
                  id_field: str | None = None, metadata_fields: tuple[str, ...] = (),
                  scorer: str = "normalized") -> Imported:
    """A saved Hugging Face dataset file as a suite (see the module docstring)."""
    path = Path(path)
    records = read_records(path)
    imported = Imported(suite={}, source=f"Hugging Face dataset file {path}")
    if not records:
        raise ImportFailed(f"{path}: the dataset has no rows")
    columns = list(dict.fromkeys(k for r in records[:100] for k in r))
    inp = _column(input_field, INPUT_GUESSES, columns, "--input", path, imported)
    tgt = _column(target_field, TARGET_GUESSES, columns, "--target", path, imported)
    cid_col = id_field or next((c for c in ID_GUESSES if c in columns), None)
    if id_field and id_field not in columns:
        raise ImportFailed(f"{path}: --id: no column {id_field!r} (columns: {', '.join(columns)})")
    for m in metadata_fields:
        if m not in columns:
            raise ImportFailed(f"{path}: --metadata: no column {m!r} (columns: {', '.join(columns)})")
    ids = unique_ids((r.get(cid_col) for r in records) if cid_col else [None] * len(records), "row")
    skip = {inp, tgt, cid_col, *metadata_fields}
    rows, choices_of = [], {}
    for case_id, rec in zip(ids, records):
        target = rec.get(tgt)
        # SQuAD-style {"text": [...]} answers hold the accepted texts
        if isinstance(target, dict) and isinstance(target.get("text"), list):
            target = target["text"]
        targets = [t for t in (target if isinstance(target, list) else [target]) if t not in (None, "")]
        if rec.get(inp) in (None, ""):
            imported.note(f"row {one_line(case_id, 40)} left out: no {inp}")
            continue
        if not targets:
            imported.note(f"row {one_line(case_id, 40)} left out: no {tgt}")
            continue
        extra = {k: v for k, v in rec.items() if k not in skip and v is not None}
        metadata = {m: rec[m] for m in metadata_fields if rec.get(m) is not None}
        if isinstance(rec.get("choices"), list) and rec["choices"]:
            choices_of[case_id] = rec["choices"]
            extra.pop("choices")
        rows.append(Row(case_id, rec[inp], targets, metadata, extra))
    if choices_of and len(choices_of) == len(rows):
        rows, letters = multiple_choice(rows, imported, choices_of, "row")
        prompt = MULTIPLE_CHOICE_TEMPLATE.replace("{letters}", letters_phrase(letters))
        scorers: list[Any] = [{"type": "choice", "choices": letters}]
        imported.note("the `choices` column makes this multiple choice: asked as Inspect's multiple_choice() "
                      "asks, scored on the letter")
    else:
        prompt, scorers = "{{ input }}", [scorer]
        imported.note(f"scored by `{scorer}` (a saved dataset does not say how it is scored; choose with --scorer)")
    cases, system = input_cases(rows, imported, "row")
    if not cases:
        raise ImportFailed(f"{path}: no row could be carried over")
    template: dict[str, Any] = {"id": "input", "prompt": prompt}
    if system is not None:
        template["system"] = system
    imported.suite = {"name": path.stem, "description": f"Imported from the dataset file {path.name}.",
                      "templates": [template], "cases": cases, "scorers": scorers}
    return imported


def _column(given: str | None, guesses: tuple[str, ...], columns: list[str], flag: str, path: Path,
            imported: Imported) -> str:
    if given:
        if given not in columns:
            raise ImportFailed(f"{path}: {flag}: no column {given!r} (columns: {', '.join(columns)})")
        return given
    for g in guesses:
        if g in columns:
            imported.note(f"{flag.lstrip('-')} column guessed: {g!r} (give {flag} COLUMN to choose another)")
            return g
    raise ImportFailed(f"{path}: {flag}: name the {flag.lstrip('-')} column (columns: {', '.join(columns)})")
