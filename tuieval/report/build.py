"""The one way a run's report is built, for `tuieval run`/`report`, the export and the app.

`build` loads the lean rows from the store (`Store.analysis_cases`, and the samples as columns
from `analysis_sample_columns`: no dictionary per sample), with the cyclic collector paused,
chooses the clustering (`VarianceConfig.effective_method`; stored clusters of a remote tier are
reused rather than re-requested), runs the pure `tuieval.analysis.report.analyze_run`, adds
the suite's gates (`tuieval.gates`) and caches a finished run's report in the store. With a
local clustering tier, storing the clusters reuses the analysis's own clustering (one pass). The app
asks for the rows as well (`with_rows=True`) to draw its charts from the same samples.
Formatting lives apart, in `tuieval.report.formats`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tuieval.gates import evaluate_gates
from tuieval.report.clustering import cluster_samples, stored_assignments
from tuieval.report.contamination import label_cases
from tuieval.report.gc_pause import paused_gc
from tuieval.report.stored import load_report, store_report
from tuieval.analysis.variance.config import VarianceConfig
from tuieval.store import Store
from tuieval.store.db import PendingWrite

@dataclass
class BuiltReport:
    """A run's tuieval.report/1 object and, when asked for, the lean rows behind it."""

    run: dict[str, Any]
    report: dict[str, Any]
    cases: list[dict[str, Any]] | None = None
    samples: list[dict[str, Any]] | None = None


def load_rows(store: Store, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
    """A run, its cases and the sample columns the analysis reads (the sample rules applied)."""
    run = store.get_run(run_id)
    return run, store.analysis_cases(run["id"]), store.analysis_samples(run["id"])


def build(store: Store, run_id: str, *, persist_clusters: bool = False, with_rows: bool = False,
          prices: Any = None) -> BuiltReport:
    """The report of a run (see `_build`), built with the cyclic garbage collector paused
    (tuieval.report.gc_pause: at a million samples it more than doubles the time)."""
    with paused_gc():
        return _build(store, run_id, persist_clusters=persist_clusters, with_rows=with_rows, prices=prices)


def _build(store: Store, run_id: str, *, persist_clusters: bool, with_rows: bool, prices: Any) -> BuiltReport:
    """The report of a run (an id, a unique prefix or `latest`).

    With `persist_clusters` the clusters are computed and stored for later readers (the
    clustering runs once: the stored clusters and the report come from the same result).
    Without it, a finished run's cached report is returned when its samples have not changed,
    and a remote tier's stored clusters are reused (`analysis.clustering.source: "stored"`).
    The `cost` section is priced with the prices stored with the run (cached with the report);
    `prices` (a tuieval.cost PriceTable) re-prices it.
    Raises ClusteringBackendError when a remote endpoint is needed and fails.
    """
    run = store.get_run(run_id)
    fingerprint = store.report_fingerprint(run)
    cases = samples = None
    report = None
    if not persist_clusters:
        report = load_report(store, run["id"], fingerprint)
    contamination = None
    # work in threads beside this one: the cost section's token usage (read while the analysis
    # runs, Store.token_usage_beside), the clusters' write-back (Store.write_cluster_columns)
    pending: list = []
    try:
        if report is None or with_rows:
            # columns, not a dictionary per sample (tuieval.sample_columns): what a large run needs
            # (the cases read in a thread beside the sample columns: Store.analysis_cases_beside)
            reading = store.analysis_cases_beside(run["id"])
            pending.append(reading)
            samples = store.analysis_sample_columns(run["id"])
            cases = reading.wait()
            # (started after the read, which has a thread of its own at a million samples)
            usage = store.token_usage_beside(run["id"]) if report is None else None
            if usage is not None:
                pending.append(usage)
            # a probe run's cases get their contamination=likely|unflagged slice before the analysis
            contamination = label_cases(store, run, cases, report)
        if report is None:
            report = _report(store, run, fingerprint, cases, samples, persist_clusters, contamination, pending, usage)
    finally:
        for work in pending:  # joined whatever happened: nothing is left running after build returns
            work.wait()
    if prices is not None:  # re-priced on purpose (`report --prices FILE`)
        report["cost"] = _cost_section(store, run, report, cases, prices)
    _add_redteam(store, run, report, prices)
    return BuiltReport(run=run, report=report, cases=cases, samples=samples)


def _report(store: Store, run: dict[str, Any], fingerprint: str, cases, samples, persist_clusters: bool,
            contamination, pending: list, usage=None) -> dict[str, Any]:
    """The analysis and the sections beside it; the report stored when the run is finished."""
    report, clustered = _analyze(store, run, cases, samples, persist_clusters, pending)
    if contamination is not None:
        report["contamination"] = contamination
    extractors = _extraction_section(store, run)
    if extractors is not None:
        report.setdefault("robustness", {})["extractors"] = extractors
    perturbations = _perturbation_section(run, cases, samples, store)
    if perturbations is not None:
        report.setdefault("robustness", {})["perturbations"] = perturbations
    judge = _judge_section(store, run, samples)
    if judge is not None:
        report["judge"] = judge
    shadow = _shadow(store, run, cases, samples)
    if shadow is not None:
        report["shadow"] = shadow
    report["gates"] = evaluate_gates(report, (run.get("config") or {}).get("gates") or [])
    # the per-sample arrays and the slice membership, made once for the cost section and the store
    shared = _shared_parts(cases, samples, usage, with_masks=run["status"] != "running", clustered=clustered)
    report["cost"] = _cost_section(store, run, report, cases, None, shared)
    if run["status"] != "running":
        # A finished run's report only changes with its samples: keep it so reopening a large
        # run (the app, `tuieval report`) costs a read, not a re-analysis.
        # (the clusters' write-back committed first: one writer at a time, clusters before the
        # report; its checkpoint goes on beside the report's write, and is joined by `build`)
        store_report(store, run["id"], fingerprint, report, samples, cases,
                     arrays=shared.get("arrays"), masks=shared.get("masks"),
                     before_write=lambda: [getattr(work, "wait_committed", work.wait)() for work in pending])
    return report


def build_report(store: Store, run_id: str, *, persist_clusters: bool = False, prices: Any = None) -> dict[str, Any]:
    """The tuieval.report/1 object of a run (see `build`)."""
    return build(store, run_id, persist_clusters=persist_clusters, prices=prices).report


def _analyze(store: Store, run: dict[str, Any], cases: list[dict[str, Any]], samples: list[dict[str, Any]],
             persist_clusters: bool, pending: list | None = None):
    """The analysis proper: (report, what it clustered — `_Clustered`, whose `slice_masks` hands
    the slice levels over to the stored membership and the cost section); a local tier's clusters
    are written back in the background, their write added to `pending` (the caller waits on it)."""
    from tuieval.analysis.report import analyze_run_clustered

    config = VarianceConfig.from_run(run)
    method = config.effective_method
    if not config.is_remote:
        if not persist_clusters:
            return analyze_run_clustered(run, cases, samples, method=method)
        # a local tier: one clustering serves the report and the store (no endpoint to count)
        report, clustered = analyze_run_clustered(run, cases, samples, method=method,
                                                  cluster_stats={"source": "computed"})
        per_sample, rows = clustered.records()
        write = _store_clusters(store, run["id"], method, samples, per_sample, rows, background=pending is not None)
        if pending is not None:
            pending.append(write)
        return report, clustered
    if not persist_clusters:
        stored = stored_assignments(store, run, samples, method)
        if stored is not None:
            return analyze_run_clustered(run, cases, samples, method=method, clusters=stored,
                                         cluster_stats={"source": "stored"})
    assignments, rows, stats = cluster_samples(run, samples, cases, method, store)
    if persist_clusters:
        store.write_clusters(run["id"], method, assignments, rows)
    return analyze_run_clustered(run, cases, samples, method=method, clusters=assignments, cluster_stats=stats)


def _store_clusters(store: Store, run_id: str, method: str, samples, per_sample, rows, *, background: bool = False):
    """Write each sample's cluster (per_sample: aligned with `samples`, -1 for none) and the cluster
    rows; with `background`, in a thread when the store can (the returned handle's `wait()` joins it)."""
    from tuieval.sample_columns import SampleColumns

    if isinstance(samples, SampleColumns):
        import numpy as np

        # only the samples whose stored cluster differs (each UPDATE rewrites a whole sample row),
        # in row-id order (neighbouring rows share pages); NULL reads as NaN, unequal to any id
        stored = samples.floats("cluster")
        write = (per_sample >= 0) & (per_sample != stored)
        ids = np.asarray(samples.columns["id"], dtype=np.int64)[write]
        order = np.argsort(ids, kind="stable")
        return store.write_cluster_columns(run_id, method, per_sample[write][order], ids[order], rows,
                                           background=background)
    keep = (per_sample >= 0).tolist()
    clusters = per_sample.tolist()
    store.write_clusters(run_id, method, {(s["case_id"], s["template"], int(s["sample_index"])): c
                                          for s, c, k in zip(samples, clusters, keep) if k}, rows)
    return PendingWrite(None, None)  # (done)


def _shadow(store: Store, run: dict[str, Any], cases, samples) -> dict[str, Any] | None:
    """`shadow`: a shadow candidate beside its baseline (tuieval.report.shadow_section), None otherwise."""
    from tuieval.report.shadow_section import shadow_section

    return shadow_section(store, run, cases, samples)


def _shared_parts(cases: list[dict[str, Any]], samples, usage=None, *, with_masks: bool = True,
                  clustered: Any = None) -> dict[str, Any]:
    """From the sample columns: the per-sample arrays (analysis order), the slice membership
    over their case ids (`with_masks`: when the report is stored, which needs it anyway; handed
    over by the analysis, `clustered.slice_masks`, when its levels are the membership's) and the
    token usage per case read beside the analysis (`usage`: Store.token_usage_beside) — what the
    cost section and the stored report would otherwise each compute, or read, again."""
    from tuieval.sample_columns import SampleColumns

    if not isinstance(samples, SampleColumns) or usage is None:
        return {}
    from tuieval.report.slice_membership_store import masks_from_cases
    from tuieval.report.stored import sample_arrays

    arrays = sample_arrays(samples)
    masks = None
    if with_masks:
        masks = clustered.slice_masks(arrays.case_ids) if clustered is not None else None
        if masks is None:
            masks = masks_from_cases(cases, arrays.case_ids)
    return {"arrays": arrays, "masks": masks, "case_ids": arrays.case_ids, "usage": usage.wait()}


def _cost_section(store: Store, run: dict[str, Any], report: dict[str, Any], cases: list[dict[str, Any]] | None,
                  prices: Any, shared: dict[str, Any] | None = None) -> dict[str, Any]:
    from tuieval.report.cost import cost_section

    if cases is None:
        cases = store.analysis_cases(run["id"])
    shared = shared or {}
    return cost_section(store, run, cases, report.get("slices") or [], prices, usage=shared.get("usage"),
                        masks=shared.get("masks"), case_ids=shared.get("case_ids"))


def _judge_section(store: Store, run: dict[str, Any], samples: list[dict[str, Any]]) -> dict[str, Any] | None:
    """`judge`: the reliability of the run's judge scorers (tuieval.analysis.judge), None without one."""
    from tuieval.analysis.judge import judge_section
    from tuieval.scoring import build_scorers

    config = run.get("config") or {}
    scorers = build_scorers(config.get("scorers"))
    if not any(s.type == "judge" for s in scorers):
        return None
    return judge_section(scorers, samples, store.get_judgements(run["id"]), config.get("human_labels"))


def _add_redteam(store: Store, run: dict[str, Any], report: dict[str, Any], prices: Any = None) -> None:
    """`redteam` when a red-team run targets this run: read fresh, never cached (its attacks are
    stored after the seed run finished)."""
    from tuieval.report.redteam import redteam_section

    section = redteam_section(store, run, prices=prices)
    if section is not None:
        report["redteam"] = section


def _perturbation_section(run: dict[str, Any], cases: list[dict[str, Any]],
                          samples: list[dict[str, Any]], store: Store | None = None) -> dict[str, Any] | None:
    """`robustness.perturbations` when the run holds perturbed copies of its cases (tuieval.perturb).

    The answer-change rate clusters each copy's answers with its original's, so it uses the
    run's tier like the variance does; a remote tier's endpoint is called for it (and fails as
    the variance's clustering fails: ClusteringBackendError naming the setting)."""
    from tuieval.analysis.perturbations import has_perturbed_copies, perturbation_analysis
    from tuieval.analysis.variance.config import REMOTE_METHODS
    from tuieval.report.endpoints import Endpoints, clustering_error, usage_recorder

    if not has_perturbed_copies(cases):
        return None
    var = VarianceConfig.from_run(run)
    method = var.effective_method
    usage = usage_recorder(store, run["id"], "perturbations") if store is not None else None
    with Endpoints(var, method, (run.get("config") or {}).get("response_cache"), usage=usage) as ep:
        try:
            section = perturbation_analysis(cases, samples, method=method, threshold=var.threshold, judge=ep.judge,
                                            embed=ep.embed, tier=var.tier_args)
        except ValueError as exc:
            if method not in REMOTE_METHODS:
                raise
            raise clustering_error(method, exc, ep.field) from None
        if section is not None:
            section["method"]["answer_change"]["counters"].update(ep.counters())
    return section


def _extraction_section(store: Store, run: dict[str, Any]) -> dict[str, Any] | None:
    """`robustness.extractors` when the suite scores with several scorers (or names `extractors:`):
    their stored verdicts, plus the named built-in extractors re-reading the responses."""
    config = run.get("config") or {}
    extra = list(config.get("extractors") or [])
    if len(config.get("scorers") or []) + len(extra) < 2:
        return None
    from tuieval.report.rescore import rescore  # only when there is a section to build

    section = rescore(store, run["id"], extra)
    for key in ("schema", "run", "extractors_requested"):
        section.pop(key, None)
    return section


def build_comparison(store: Store, baseline_id: str, candidate_id: str, *, alpha: float = 0.05, B: int = 10_000,
                     rng_seed: int = 0) -> dict[str, Any]:
    """The tuieval.compare/1 object for two stored runs (ids, unique prefixes or `latest`).

    Raises ValueError when the runs cannot be paired (different suites, no shared case);
    tuieval.store.RunNotFound when an id is unknown.
    """
    from tuieval.analysis.compare import compare_runs

    return compare_runs(load_rows(store, baseline_id), load_rows(store, candidate_id), alpha=alpha, B=B,
                        rng_seed=rng_seed)
