"""What the HTML report shows, gathered from the store: the report plus the few rows it needs.

`run_page` adds to a run's tuieval.report/1 object what the JSON leaves out: the latency
histogram (log-spaced bins over every measured sample), the deadline curve on the same axis
(`tuieval.analysis.latency.deadline_curve`), the slices in the order the page draws them
(flagged first, then worst accuracy), and the worst cases with their targets and every answer.
`comparison_page` is the paired comparison. Rendering is `tuieval.report.formats.html`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tuieval.analysis.latency import deadline_curve
from tuieval.report.build import build, build_comparison
from tuieval.store import Store

HISTOGRAM_BINS = 40
CURVE_POINTS = 60
WORST_CASES = 15
ANSWERS_PER_CASE = 12


def run_page(store: Store, run_id: str) -> dict[str, Any]:
    """Everything the HTML page of one run draws (see the module docstring)."""
    built = build(store, run_id)
    report = built.report
    # two columns for the histogram and the curve; only the worst cases' rows (below)
    lat, ok = store.latency_and_correct(built.run["id"])
    latency, correct = np.array(lat, dtype=float), np.array(ok, dtype=bool)
    slices = sorted(report.get("slices") or [],
                    key=lambda s: (not s.get("flagged"), s["accuracy"] if s.get("accuracy") is not None else 2.0))
    return {
        "report": report,
        "slices": slices,
        "histogram": latency_histogram(latency),
        "deadline": _deadline(correct, latency),
        "worst": _worst_cases(store, built.run["id"], report),
    }


def latency_histogram(latency: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Counts over log-spaced bins (latency is heavy-tailed: linear bins put the body in one bar)."""
    lat = latency[~np.isnan(latency)]
    if lat.size == 0:
        return {"edges": [], "counts": [], "n": 0}
    lo = max(1.0, float(lat.min()))
    hi = max(float(lat.max()), lo * 1.01)
    edges = np.geomspace(lo, hi, bins + 1)
    counts, _ = np.histogram(np.clip(lat, lo, hi), bins=edges)
    return {"edges": edges.tolist(), "counts": counts.tolist(), "n": int(lat.size)}


def _deadline(correct: np.ndarray, latency: np.ndarray) -> list[dict[str, Any]]:
    valid = latency[~np.isnan(latency)]
    if valid.size == 0:
        return []
    lo = max(1.0, float(valid.min()))
    hi = max(float(valid.max()), lo * 1.01)
    return deadline_curve(correct, latency, slo_grid=np.geomspace(lo, hi, CURVE_POINTS).tolist())


def _worst_cases(store: Store, run_id: str, report: dict[str, Any]) -> list[dict[str, Any]]:
    cases = sorted(report.get("cases") or [],
                   key=lambda c: (c["accuracy"] if c.get("accuracy") is not None else 2.0,
                                  # a sample's case the run does not list has no position: last
                                  c.get("position") is None, c.get("position") or 0))
    worst = cases[:WORST_CASES]
    wanted = {c["id"] for c in worst}
    answers: dict[str, list[dict[str, Any]]] = {cid: [] for cid in wanted}
    for s in store.analysis_sample_columns(run_id, case_ids=sorted(wanted)):
        if s["case_id"] in wanted:
            answers[s["case_id"]].append({k: s.get(k) for k in ("template", "sample_index", "answer", "correct",
                                                                 "latency_ms", "error")})
    out = []
    for c in worst:
        stored = store.get_case(run_id, c["id"]) or {}
        out.append({**c, "targets": stored.get("targets") or [], "input_text": stored.get("input_text") or "",
                    "answers": answers[c["id"]][:ANSWERS_PER_CASE], "n_answers": len(answers[c["id"]])})
    return out


def comparison_page(store: Store, baseline: str, candidate: str) -> dict[str, Any]:
    """The paired comparison (tuieval.compare/1) the comparison page draws."""
    return build_comparison(store, baseline, candidate)
