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
SAMPLE_COLUMNS = ("case_id", "template", "sample_index", "response", "error", "scores")


def read_samples(samples: Sequence[dict[str, Any]], targets: dict[Any, Any], extractors: Sequence[str], *,
                 include_scorers: bool = True) -> tuple[list[str], np.ndarray, list[list[str | None]]]:
    """Each sample read by the suite's scorers (their stored verdicts, `scorer:NAME`) and by the
    built-in `extractors`: (names, verdicts[sample, extractor], extracted[sample][extractor]).
    `samples` hold SAMPLE_COLUMNS; `targets` maps case id → its targets. ValueError names a bad
    extractor."""
    built = [build_extractor(name) for name in extractors]
    stored = [json.loads(s.get("scores") or "{}") or {} for s in samples]
    scorer_names = list(dict.fromkeys(name for sc in stored for name in sc)) if include_scorers else []
    names = [f"scorer:{n}" for n in scorer_names] + [e.name for e in built]
    if len(set(names)) != len(names):
        raise ValueError(f"an extractor is named twice: {', '.join(names)}")
    rows_ok: list[list[bool]] = []
    extracted: list[list[str | None]] = []
    prepared: dict[Any, list[Any]] = {}  # a case's targets, prepared once per extractor
    judged: dict[tuple[Any, Any], tuple[list[bool], list[str | None]]] = {}  # repeated answers read once
    for s, scores in zip(samples, stored):
        ok: list[bool] = []
        read: list[str | None] = []
        for name in scorer_names:
            sc = scores.get(name) or {}
            ok.append(bool(sc.get("correct")))
            read.append(sc.get("extracted"))
        case, response = s["case_id"], s.get("response")
        hit = judged.get((case, response))
        if hit is None:
            ready = prepared.get(case)
            if ready is None:
                ready = prepared[case] = [e.prepare(list(targets.get(case) or [])) for e in built]
            pairs = [extractor.judge(response, target) for extractor, target in zip(built, ready)]
            hit = judged[(case, response)] = ([c for _, c in pairs], [t for t, _ in pairs])
        ok.extend(hit[0])
        read.extend(hit[1])
        rows_ok.append(ok)
        extracted.append(read)
    return names, np.array(rows_ok, dtype=bool).reshape(len(samples), len(names)), extracted


def rescore(store: Store, run_id: str, extractors: Sequence[str], *, include_scorers: bool = True,
            alpha: float = 0.05) -> dict[str, Any]:
    """Re-read a stored run's responses with `extractors` (built-in names); ValueError names a bad one."""
    run = store.get_run(run_id)
    samples = store.get_samples(run["id"], columns=SAMPLE_COLUMNS)
    targets = {cid: t for cid, (t, _) in store.case_targets(run["id"]).items()}
    names, verdicts, extracted = read_samples(samples, targets, extractors, include_scorers=include_scorers)
    cases = store.analysis_cases(run["id"])
    membership = slice_membership(cases, {s["case_id"] for s in samples})
    section = extraction_sensitivity(verdicts, extracted, names, samples, slices=membership, alpha=alpha)
    return {"schema": SCHEMA, "run": {k: run.get(k) for k in ("id", "suite", "model", "status", "samples_per_case")},
            "extractors_requested": list(extractors), **section}
