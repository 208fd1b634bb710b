"""`tuieval rescore`: extraction sensitivity of a stored run, with no new requests.

Every stored response is read again by each named extractor (tuieval.scoring.extractors)
and compared with its case's targets; the suite's own scorers take part with the verdicts
stored when the run was scored (`scorer:NAME`). The result is the
`robustness.extractors` section (tuieval.analysis.robustness.extraction) wrapped with the
run it came from (schema `tuieval.rescore/1`).
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

from tuieval.analysis.report import slice_membership
from tuieval.analysis.robustness.extraction import extraction_sensitivity
from tuieval.scoring.extractors import build_extractor
from tuieval.store import Store

SCHEMA = "tuieval.rescore/1"
#: what a rescore reads of a sample
_COLUMNS = ("case_id", "template", "sample_index", "response", "error", "scores")


def _stored_scorers(samples: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for s in samples:
        for name in json.loads(s.get("scores") or "{}") or {}:
            names.setdefault(name, None)
    return list(names)


def rescore(store: Store, run_id: str, extractors: Sequence[str], *, include_scorers: bool = True,
            alpha: float = 0.05) -> dict[str, Any]:
    """Re-read a stored run's responses with `extractors` (built-in names); ValueError names a bad one."""
    built = [build_extractor(name) for name in extractors]
    run = store.get_run(run_id)
    samples = store.get_samples(run["id"], columns=_COLUMNS)
    targets = {cid: t for cid, (t, _) in store.case_targets(run["id"]).items()}
    scorer_names = _stored_scorers(samples) if include_scorers else []
    names = [f"scorer:{n}" for n in scorer_names] + [e.name for e in built]
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
    verdicts = np.zeros((len(samples), len(names)), dtype=bool)
    extracted: list[list[str | None]] = []
    for i, s in enumerate(samples):
        stored = json.loads(s.get("scores") or "{}") or {}
        row: list[str | None] = []
        for j, name in enumerate(scorer_names):
            sc = stored.get(name) or {}
            verdicts[i, j] = bool(sc.get("correct"))
            row.append(sc.get("extracted"))
        for j, extractor in enumerate(built, start=len(scorer_names)):
            score = extractor.score(s.get("response"), targets.get(s["case_id"], []))
            verdicts[i, j] = score.correct
            row.append(score.extracted)
        extracted.append(row)
    cases = store.analysis_cases(run["id"])
    membership = slice_membership(cases, {s["case_id"] for s in samples})
    section = extraction_sensitivity(verdicts, extracted, names, samples, slices=membership, alpha=alpha)
    return {"schema": SCHEMA, "run": {k: run.get(k) for k in ("id", "suite", "model", "status", "samples_per_case")},
            "extractors_requested": list(extractors), **section}
