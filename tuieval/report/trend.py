"""`tuieval trend`: a suite's finished runs in time order, one series per model, with the paired
comparison of each run with the one before it (the `tuieval.trend/1` object; the figures and marks
are tuieval.analysis.trend's). The CLI and the app's Runs screen both build it here."""

from __future__ import annotations

from typing import Any

from tuieval.analysis.trend import SCHEMA, run_point, series_steps
from tuieval.report.build import build, build_comparison
from tuieval.store import Store
from tuieval.store.tags import tags_by_run


class TrendError(LookupError):
    """No finished run of that suite (or of that model on it); `field` names the argument at fault."""

    def __init__(self, message: str, field: str = "SUITE") -> None:
        super().__init__(message)
        self.field = field


def suite_runs(store: Store, suite: str, model: str | None = None) -> tuple[list[dict[str, Any]], list[dict]]:
    """(finished runs of the suite, oldest first; the runs left out with why). TrendError when none."""
    every = [r for r in store.list_runs() if r["suite"] == suite]
    if not every:
        raise TrendError(f"no runs of suite {suite!r}")
    if model is not None:
        every = [r for r in every if r["model"] == model]
        if not every:
            raise TrendError(f"no runs of {model} on suite {suite!r}", "--model")
    every.sort(key=lambda r: (r["started_at"] or "", r["id"]))
    kept = [r for r in every if r["status"] == "complete"]
    # a partial or failed run holds only some cases: its figures are not comparable with the rest
    skipped = [{"id": r["id"], "model": r["model"], "status": r["status"],
                "reason": f"{r['status']}: only finished runs are compared"} for r in every if r["status"] != "complete"]
    if not kept:
        raise TrendError(f"no finished run of suite {suite!r}" + (f" with {model}" if model else ""))
    return kept, skipped


def build_trend(store: Store, suite: str, model: str | None = None, *, alpha: float = 0.05,
                B: int = 10_000) -> dict[str, Any]:
    """The tuieval.trend/1 object of `suite` (a suite name as runs store it)."""
    runs, skipped = suite_runs(store, suite, model)
    tags = tags_by_run(store)
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        by_model.setdefault(r["model"], []).append(r)
    series = []
    for name, model_runs in by_model.items():
        points = []
        for r in model_runs:
            built = build(store, r["id"], with_rows=True)
            points.append(run_point(r, built.report, [s.get("latency_ms") for s in built.samples or []],
                                    tags.get(r["id"], ()), alpha))
        comparisons = []
        for a, b in zip(model_runs, model_runs[1:]):
            try:
                comparisons.append(build_comparison(store, a["id"], b["id"], alpha=alpha, B=B))
            except ValueError:  # no case in common (e.g. different --limit): nothing to pair
                comparisons.append(None)
        series.append({"model": name, "simulated": bool(model_runs[0].get("simulated")), "runs": points,
                       "steps": series_steps(points, comparisons, alpha)})
    return {"schema": SCHEMA, "suite": suite, "model": model, "alpha": alpha, "B": B,
            "n_runs": len(runs), "series": series, "skipped_runs": skipped,
            "method": {"accuracy": "paired test of compare (exact McNemar with one sample per case, sign-flip "
                                   "permutation otherwise) on the shared cases; Benjamini-Hochberg across a "
                                   "series' steps",
                       "worst_slice": "compare's test of the later run's worst slice (BH across slices)",
                       "consistency": "intervals_disjoint", "p99_ms": "intervals_disjoint (order-statistic CI)"}}
