"""A suite's trend: its runs of one model in time order, and which step between consecutive runs
changed significantly (the `tuieval.trend/1` series; docs/statistics.md "Trend").

Pure: it takes each run's report figures, its latencies, and the paired comparison
(`tuieval.analysis.compare.compare_runs`) of every consecutive pair, and decides the marks.

- **Accuracy** steps are the comparison's own paired test on the cases both runs hold (exact
  McNemar with one sample per case, the sign-flip permutation test otherwise), its paired
  bootstrap interval of the difference, and Benjamini–Hochberg across the series' steps (a long
  history is many tests): a step is significant when q < alpha and its interval excludes 0.
- **Worst slice**: the run's slice with the lowest accuracy (ties: the first in report order);
  its step is the comparison's test of that same slice (already BH-adjusted across slices).
- **Consistency and p99** are not paired tests: a step is marked when the two runs' 95%
  intervals are disjoint (conservative; `method: intervals_disjoint`). The p99 interval is the
  distribution-free order-statistic interval of the run's latencies.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.latency import order_statistic_ci
from tuieval.analysis.stats import benjamini_hochberg, json_float

SCHEMA = "tuieval.trend/1"


def run_point(run: Mapping[str, Any], report: Mapping[str, Any], latencies: Sequence[float],
              tags: Sequence[str] = (), alpha: float = 0.05) -> dict[str, Any]:
    """One run's figures for the trend: accuracy, worst slice, consistency, p99, each with interval and n."""
    o = report.get("overall") or {}
    lat = np.asarray([x for x in latencies if x is not None], dtype=float)
    lat = lat[~np.isnan(lat)]
    lo, hi = order_statistic_ci(lat, 0.99, alpha) if lat.size else (None, None)
    p99 = (o.get("latency_ms") or {}).get("p99")
    return {
        "id": run["id"], "started_at": run.get("started_at"), "status": run.get("status"),
        "model": run.get("model"), "simulated": bool(run.get("simulated")), "tags": list(tags),
        "n_cases": o.get("n_cases"), "n_samples": o.get("n_samples"),
        "accuracy": {"value": o.get("accuracy"), "ci": o.get("accuracy_ci"), "n": o.get("n_samples"),
                     "n_cases": o.get("n_cases")},
        "worst_slice": worst_slice(report.get("slices") or []),
        "consistency": {"value": o.get("consistency"), "ci": o.get("consistency_ci"), "n": o.get("n_cases")},
        "p99_ms": {"value": p99, "ci": [lo, hi], "n": int(lat.size)},
    }


def worst_slice(slices: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The slice with the lowest accuracy (the first in report order on a tie); None without slices."""
    best: Mapping[str, Any] | None = None
    for s in slices:
        if s.get("accuracy") is None:
            continue
        if best is None or s["accuracy"] < best["accuracy"]:
            best = s
    if best is None:
        return None
    return {"key": best.get("key"), "value": best.get("value"), "accuracy": best.get("accuracy"),
            "ci": best.get("accuracy_ci"), "n_cases": best.get("n_cases"), "n": best.get("n_samples")}


def _disjoint(a: Sequence[float | None] | None, b: Sequence[float | None] | None) -> bool:
    """Two intervals that cannot overlap; an open (None) end overlaps everything on its side."""
    if not a or not b:
        return False
    a_lo, a_hi = a
    b_lo, b_hi = b
    return (a_hi is not None and b_lo is not None and a_hi < b_lo) or \
        (b_hi is not None and a_lo is not None and b_hi < a_lo)


def _slice_step(comparison: Mapping[str, Any], ws: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if ws is None:
        return None
    for group in ("slices", "untested_slices"):
        for s in comparison.get(group) or []:
            if s.get("key") == ws["key"] and str(s.get("value")) == str(ws["value"]):
                return {"key": ws["key"], "value": ws["value"], "n_cases": s.get("n_cases"),
                        "delta": json_float(s.get("delta")), "delta_ci": s.get("delta_ci"),
                        "p_value": json_float(s.get("p_value")), "q_value": json_float(s.get("q_value")),
                        "significant": bool(s.get("significant")), "tested": group == "slices"}
    return {"key": ws["key"], "value": ws["value"], "n_cases": 0, "significant": False, "tested": False,
            "note": "not a slice of the paired cases"}


def series_steps(points: Sequence[Mapping[str, Any]], comparisons: Sequence[Mapping[str, Any] | None],
                 alpha: float = 0.05) -> list[dict[str, Any]]:
    """The change from each run to the next. `comparisons[i]` compares points[i] with points[i+1]
    (None when they share no case: then the accuracy step is untested)."""
    steps: list[dict[str, Any]] = []
    for i, cmp in enumerate(comparisons):
        a, b = points[i], points[i + 1]
        step: dict[str, Any] = {"from": a["id"], "to": b["id"]}
        if cmp is None:
            step["accuracy"] = {"tested": False, "n_paired": 0, "significant": False,
                                "note": "the runs share no case: no paired test"}
        else:
            o = cmp["overall"]
            step["accuracy"] = {"tested": True, "test": cmp.get("test"), "n_paired": cmp.get("n_cases"),
                                "delta": json_float(o.get("delta")), "delta_ci": o.get("delta_ci"),
                                "p_value": json_float(o.get("p_value")), "mde": json_float(o.get("mde"))}
        step["worst_slice"] = _slice_step(cmp, b["worst_slice"]) if cmp is not None else None
        for name in ("consistency", "p99_ms"):
            va, vb = a[name].get("value"), b[name].get("value")
            step[name] = {"delta": json_float(vb - va) if va is not None and vb is not None else None,
                          "method": "intervals_disjoint",
                          "significant": _disjoint(a[name].get("ci"), b[name].get("ci"))}
        steps.append(step)
    tested = [s for s in steps if s["accuracy"]["tested"]]
    if tested:
        q = benjamini_hochberg([s["accuracy"]["p_value"] if s["accuracy"]["p_value"] is not None else 1.0
                                for s in tested])
        for s, qv in zip(tested, q):
            acc = s["accuracy"]
            acc["q_value"] = json_float(float(qv))
            ci = acc.get("delta_ci") or [None, None]
            excludes_zero = ci[0] is not None and ci[1] is not None and (ci[0] > 0 or ci[1] < 0)
            acc["significant"] = bool(qv < alpha and excludes_zero)
    for s in steps:
        acc = s["accuracy"]
        acc["direction"] = ("down" if (acc.get("delta") or 0) < 0 else "up") if acc["significant"] else None
    return steps
