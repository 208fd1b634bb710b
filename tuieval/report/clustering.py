"""Clustering a run's answers for its report: computed once with the run's tier, or the stored result reused.

Everything that clusters a stored run — the report, `tuieval export`, the app's inspector —
comes through here, so they agree on the method (`VarianceConfig.effective_method`), on the
endpoints it calls and on the errors it raises.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuieval.analysis.variance.config import REMOTE_METHODS, VarianceConfig
from tuieval.report.endpoints import Endpoints, clustering_error, usage_recorder
from tuieval.sample_rules import answer_text
from tuieval.store import Store

Assignments = dict[tuple[Any, Any, int], int]


def cluster_samples(run: Mapping[str, Any], samples: Sequence[Mapping[str, Any]],
                    cases: Sequence[Mapping[str, Any]] | None, method: str, store: Store | None,
                    purpose: str = "clustering", *, rows: bool = True,
                    ) -> tuple[Assignments, list[dict[str, Any]], dict[str, Any]]:
    """Cluster samples with the run's tier: (assignments, cluster rows for the store, stats).

    `cases` gives the judge each case's question (input text); without it the judge sees an
    empty question. The embedding requests made are recorded in `store` (their cost) under
    `purpose` (what clustered: clustering, export, inspector, shadow); `store` is a required
    argument so that no caller forgets it — None only where nothing is spent on the run's
    behalf. Raises ClusteringBackendError when a remote tier's endpoint fails (CacheOnlyMissing
    under --cache-only when the response cache lacks some of its requests). With `rows=False` only
    the assignments are made (the cluster rows are [], for a caller that stores none: shadow)."""
    from tuieval.analysis.report import cluster_records, cluster_run

    var = VarianceConfig.from_run(run)
    questions = {c["case_id"]: c.get("input_text") or "" for c in cases} if cases is not None else None
    usage = usage_recorder(store, run["id"], purpose) if store is not None else None
    with Endpoints(var, method, (run.get("config") or {}).get("response_cache"), usage=usage) as ep:
        try:
            results = cluster_run(samples, method, threshold=var.threshold, judge=ep.judge, embed=ep.embed,
                                  questions=questions, **var.tier_args)
        except ValueError as exc:
            if method not in REMOTE_METHODS:
                raise
            error = clustering_error(method, exc, ep.field)
        else:
            error = None
        if error is not None:
            raise error
        stats = {**results.stats, "source": "computed", **ep.counters()}
    if not rows:
        return sample_assignments(results), [], stats
    assignments, cluster_rows = cluster_records(samples, results)
    return assignments, cluster_rows, stats


def sample_assignments(results: Mapping[tuple[Any, Any], Any]) -> Assignments:
    """{(case_id, template, sample_index): cluster} of clustered samples (errors left out), as
    `cluster_records` gives it, without the cluster rows."""
    out: Assignments = {}
    for (cid, tmpl), res in results.items():
        sidx = res.sample_indices or range(len(res.ids))
        for si, c in zip(sidx, res.ids):
            if c >= 0:
                out[(cid, tmpl, si)] = c
    return out


def stored_assignments(store: Store, run: Mapping[str, Any], samples: Sequence[Mapping[str, Any]],
                       method: str) -> Assignments | None:
    """The stored samples.cluster column, when `method` wrote it for every answered sample; else None."""
    for s in samples:
        if answer_text(s) is not None and s.get("cluster") is None:
            return None
    if store.cluster_methods(run["id"]) != [method]:
        return None
    return {(s["case_id"], s["template"], int(s["sample_index"])): int(s["cluster"])
            for s in samples if s.get("cluster") is not None}
