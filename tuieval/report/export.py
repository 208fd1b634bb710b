"""`tuieval export`: every sample of a run as one JSON object, clusters included, and on a run
with a judge scorer the sample's judgements (each judge request: grade, reasoning, raw reply)."""

from __future__ import annotations

import json
from typing import Any, Iterator

from tuieval.report.clustering import cluster_samples
from tuieval.analysis.variance.config import VarianceConfig
from tuieval.sample_rules import is_correct
from tuieval.store import Store

#: the keys of an exported sample, in order (README "export")
EXPORT_FIELDS = ("run_id", "case_id", "template", "sample_index", "prompt", "response", "extracted", "correct",
                 "score", "latency_ms", "ttft_ms", "output_tokens", "error", "error_kind", "attempts", "cluster",
                 "metadata", "input_tokens", "cached")
#: the keys of each exported judgement (README "export"); the judge's prompt is left out (it repeats
#: the sample's prompt and answer), the reply is kept whole
JUDGEMENT_FIELDS = ("scorer", "judge", "judge_sample", "orientation", "grade", "score", "parsed", "problem",
                    "reasoning", "reply", "latency_ms", "input_tokens", "output_tokens", "attempts", "error",
                    "error_kind")


def _judged(store: Store, run: dict[str, Any]) -> dict[tuple, list[dict[str, Any]]] | None:
    """(case, template, sample index) → the sample's judgements in judge order; None without a judge scorer."""
    from tuieval.scoring import build_scorers

    if not any(s.type == "judge" for s in build_scorers((run.get("config") or {}).get("scorers"))):
        return None
    out: dict[tuple, list[dict[str, Any]]] = {}
    for j in store.get_judgements(run["id"]):
        out.setdefault((j["case_id"], j["template"], j["sample_index"]), []).append(
            {k: j.get(k) for k in JUDGEMENT_FIELDS})
    return out


def export_rows(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """One object per sample, as `tuieval export --format jsonl` prints them."""
    run = store.get_run(run_id)
    cases = store.analysis_cases(run["id"])
    metadata = {c["case_id"]: c["metadata"] for c in cases}
    assignments = None
    if store.count_samples(run["id"]) and not store.has_clusters(run["id"]):
        # never analysed (e.g. an interrupted run): cluster now from the lean rows, without writing
        assignments, _, _ = cluster_samples(run, store.analysis_samples(run["id"]), cases,
                                            VarianceConfig.from_run(run).effective_method, store, "export")
    judged = _judged(store, run)
    # streamed: one row at a time, so a million-sample run is exported in bounded memory
    for s in store.iter_samples(run["id"]):
        s["correct"] = is_correct(s)
        if assignments is not None:
            s["cluster"] = assignments.get((s["case_id"], s["template"], s["sample_index"]))
        row = dict(s, prompt=json.loads(s["prompt"]), metadata=metadata.get(s["case_id"], {}),
                   cached=bool(s.get("cached")))
        out = {k: row.get(k) for k in EXPORT_FIELDS}
        if judged is not None:
            out["judgements"] = judged.get((s["case_id"], s["template"], s["sample_index"]), [])
        yield out
