"""Clustering a run's answers for its report: computed once with the run's tier, or the stored result reused.

Everything that clusters a stored run — the report, `tuieval export`, the app's inspector —
comes through here, so they agree on the method (`VarianceConfig.effective_method`), on the
endpoints it calls and on the errors it raises.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Mapping, Sequence

from tuieval.analysis.variance.config import REMOTE_METHODS, VarianceConfig
from tuieval.report.endpoints import Endpoints, clustering_error, usage_recorder
from tuieval.sample_rules import answer_text
from tuieval.store import Store

Assignments = dict[tuple[Any, Any, int], int]


def cluster_samples(run: Mapping[str, Any], samples: Sequence[Mapping[str, Any]],
                    cases: Sequence[Mapping[str, Any]] | None, method: str, store: Store | None,
                    purpose: str = "clustering") -> tuple[Assignments, list[dict[str, Any]], dict[str, Any]]:
    """Cluster samples with the run's tier: (assignments, cluster rows for the store, stats).

    `cases` gives the judge each case's question (input text); without it the judge sees an
    empty question. The embedding requests made are recorded in `store` (their cost) under
    `purpose` (what clustered: clustering, export, inspector, shadow); `store` is a required
    argument so that no caller forgets it — None only where nothing is spent on the run's
    behalf. Raises ClusteringBackendError when a remote tier's endpoint fails (CacheOnlyMissing
    under --cache-only when the response cache lacks some of its requests)."""
    from tuieval.analysis.report import cluster_records, cluster_run

    var = VarianceConfig.from_run(run)
    questions = {c["case_id"]: c.get("input_text") or "" for c in cases} if cases is not None else None
    with _tier_endpoints(run, var, method, store, purpose) as ep:
        results = cluster_run(samples, method, threshold=var.threshold, judge=ep.judge, embed=ep.embed,
                              questions=questions, **var.tier_args)
        stats = {**results.stats, "source": "computed", **ep.counters()}
    assignments, rows = cluster_records(samples, results)
    return assignments, rows, stats


def cluster_pairs(run: Mapping[str, Any], pairs: Sequence[tuple[str, str]], questions: Sequence[str] | None,
                  method: str, store: Store | None, purpose: str = "shadow") -> list[bool]:
    """Whether the two answers of each pair fall in one cluster under the run's tier: a shadow
    replay's agreement (the baseline's answer and the candidate's, one group per prompt, with
    that prompt's question for the judge tiers).

    The same tiers, endpoints, usage records and errors as `cluster_samples`, without the
    per-sample table and the cluster rows a report needs: two answers a group, nothing stored."""
    if method == "canonical":
        # the canonical tier is its forms: cluster_groups makes one cluster per form of a group and
        # calls no endpoint, so two answers share a cluster exactly when their forms are equal (two
        # missing answers, -1 both there, None both here). Per batch of a replay this skips the
        # arrays and the endpoints' set-up, most of a small batch's clustering
        from tuieval.analysis.variance.canonical import canonical_answer

        return [canonical_answer(a) == canonical_answer(b) for a, b in pairs]
    import numpy as np

    from tuieval.analysis.variance.groups import cluster_groups

    var = VarianceConfig.from_run(run)
    texts = [t for pair in pairs for t in pair]
    groups = np.repeat(np.arange(len(pairs), dtype=np.int64), 2)
    # as cluster_run passes them: a tier argument left unset takes cluster_groups' default
    tier = {k: v for k, v in var.tier_args.items() if v is not None}
    with _tier_endpoints(run, var, method, store, purpose) as ep:
        ids, _stats = cluster_groups(texts, groups, method, threshold=var.threshold, judge=ep.judge, embed=ep.embed,
                                     questions=list(questions) if questions is not None else None, **tier)
    return (ids[0::2] == ids[1::2]).tolist()


@contextmanager
def _tier_endpoints(run: Mapping[str, Any], var: VarianceConfig, method: str, store: Store | None, purpose: str):
    """The run's clustering endpoints for `method`; a remote tier's failure inside is raised as
    its ClusteringBackendError (not chained to the ValueError it came as)."""
    usage = usage_recorder(store, run["id"], purpose) if store is not None else None
    with Endpoints(var, method, (run.get("config") or {}).get("response_cache"), usage=usage) as ep:
        try:
            yield ep
        except ValueError as exc:
            if method not in REMOTE_METHODS:
                raise
            error = clustering_error(method, exc, ep.field)
        else:
            error = None
        if error is not None:
            raise error


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
