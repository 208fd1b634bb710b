"""Human labels for judging the judge: `human_label` on a case, or a `human_labels:` file.

A label says whether the case's answer is correct, as a person judged it. Accepted values
(case-insensitive): true/false, pass/fail, correct/incorrect, yes/no, 1/0. The file is JSONL
(one object per line with `id` and `label`) or CSV (columns `id`, `label`), its path relative
to the suite. A label on the case wins over the file's. The report compares the judge's
verdicts with them (Cohen's κ, confusion matrix: tuieval.analysis.judge).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Callable

_TRUE = {"true", "pass", "correct", "yes", "1"}
_FALSE = {"false", "fail", "incorrect", "no", "0"}
ACCEPTED = "true/false, pass/fail, correct/incorrect, yes/no or 1/0"

AddProblem = Callable[..., None]


def label_value(value: Any) -> bool | None:
    """The label as a verdict; None when it is not an accepted value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower() if isinstance(value, str) else None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return None


def _read_file(path: Path, shown: str, add: AddProblem) -> dict[str, tuple[Any, int]]:
    out: dict[str, tuple[Any, int]] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        add(("human_labels",), f"cannot read {shown}: {exc.__class__.__name__}")
        return out
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        if not reader.fieldnames or "id" not in reader.fieldnames or "label" not in reader.fieldnames:
            add(("human_labels",), f"{shown}: needs columns id and label")
            return out
        for line, row in enumerate(reader, start=2):
            out[str(row["id"])] = (row["label"], line)
        return out
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError:
            add(("human_labels",), f"{shown} line {line}: not valid JSON", line=None)
            continue
        if not isinstance(obj, dict) or "id" not in obj or "label" not in obj:
            add(("human_labels",), f"{shown} line {line}: each line needs id and label")
            continue
        out[str(obj["id"])] = (obj["label"], line)
    return out


def collect(cases: list, spec: Any, suite_path: Path, add: AddProblem) -> dict[str, bool]:
    """{case id: label} from the cases' `human_label` and the `human_labels:` file; problems via `add`."""
    labels: dict[str, bool] = {}
    ids = {c.id for c in cases}
    if spec is not None:
        if not isinstance(spec, str) or not spec.strip():
            add(("human_labels",), "must be the path of a JSONL or CSV file of id, label")
        else:
            path = (suite_path.parent / spec).resolve()
            for cid, (value, line) in _read_file(path, spec, add).items():
                verdict = label_value(value)
                if cid not in ids:
                    add(("human_labels",), f"{spec} line {line}: no case with id {cid!r}")
                elif verdict is None:
                    add(("human_labels",), f"{spec} line {line}: label {value!r} is not one of {ACCEPTED}")
                else:
                    labels[cid] = verdict
    for case in cases:
        if case.human_label is None:
            continue
        verdict = label_value(case.human_label)
        if verdict is None:
            add(("cases",), f"case {case.id!r}: human_label {case.human_label!r} is not one of {ACCEPTED}", case.line)
        else:
            labels[case.id] = verdict
    return labels
