"""`tuieval export`: every sample of a run as one JSON object, clusters included."""

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


def export_rows(store: Store, run_id: str) -> Iterator[dict[str, Any]]:
    """One object per sample, as `tuieval export --format jsonl` prints them."""
    run = store.get_run(run_id)
    cases = store.analysis_cases(run["id"])
    metadata = {c["case_id"]: c["metadata"] for c in cases}
    samples = store.get_samples(run["id"])
    for s in samples:
        s["correct"] = is_correct(s)
    if samples and all(s.get("cluster") is None for s in samples):
        # never analysed (e.g. an interrupted run): cluster now, without writing
        assignments, _, _ = cluster_samples(run, samples, cases, VarianceConfig.from_run(run).effective_method)
        for s in samples:
            s["cluster"] = assignments.get((s["case_id"], s["template"], s["sample_index"]))
    for s in samples:
        row = dict(s, prompt=json.loads(s["prompt"]), metadata=metadata.get(s["case_id"], {}),
                   cached=bool(s.get("cached")))
        yield {k: row.get(k) for k in EXPORT_FIELDS}
