"""The paired comparison of two finished runs, computed once and kept in the store.

A comparison only changes when one of its runs' samples (or tuieval itself) does, which is
what a run's report fingerprint (`Store.report_fingerprint`) already tracks; with the test
settings it keys the stored `tuieval.compare/1` body. A run still being written is compared
afresh every time and nothing is kept.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tuieval.report.build import build_comparison
from tuieval.store import Store


def comparison_fingerprint(store: Store, baseline: dict[str, Any], candidate: dict[str, Any], *, alpha: float,
                           B: int, rng_seed: int) -> str:
    """Changes whenever the comparison could: either run's samples or status, tuieval, the settings."""
    return (f"{store.report_fingerprint(baseline)}|{store.report_fingerprint(candidate)}"
            f"|alpha={alpha!r}|B={B}|seed={rng_seed}")


def stored_comparison(store: Store, baseline_id: str, candidate_id: str, *, alpha: float = 0.05,
                      B: int = 10_000, rng_seed: int = 0) -> dict[str, Any]:
    """`build_comparison`'s result, read from the store when it was computed before for the
    same samples and settings, else computed (and kept when both runs are finished).

    Raises what `build_comparison` raises (ValueError when the runs cannot be paired)."""
    baseline, candidate = store.get_run(baseline_id), store.get_run(candidate_id)
    finished = baseline["status"] != "running" and candidate["status"] != "running"
    fingerprint = comparison_fingerprint(store, baseline, candidate, alpha=alpha, B=B, rng_seed=rng_seed)
    if finished:
        body = store.cached_comparison(baseline["id"], candidate["id"], fingerprint)
        if body is not None:
            return json.loads(body)
    result = build_comparison(store, baseline["id"], candidate["id"], alpha=alpha, B=B, rng_seed=rng_seed)
    if finished:
        try:
            store.cache_comparison(baseline["id"], candidate["id"], fingerprint, json.dumps(result, ensure_ascii=False))
        except sqlite3.OperationalError:
            pass  # a read-only database: the comparison is shown, just not kept
    return result
