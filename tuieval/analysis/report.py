"""Run analysis: the `tuieval.report/1` structure from stored rows (README "Report schema", docs/statistics.md).

Units and aggregation rules (every figure's unit is the case, never the sample):
- A (case, template) pair sampled N times is one *group*: it is clustered and gets
  consistency, semantic entropy, mode and majority correctness.
- A case aggregates its groups (templates): accuracy = share of all its samples that
  are correct (errors count as incorrect); consistency, semantic entropy (and its
  normalised / Miller–Madow versions) = mean over its templates that have a valid
  answer; majority_correct_rate = share of its templates whose modal answer is
  correct, majority_correct = rate ≥ 0.5 (exact for one template); n_clusters and
  `clusters` list every template's clusters (tagged with `template` when a suite has
  several).
- A slice's (and the run's) accuracy is the mean of its cases' accuracies, with an
  interval from `stats.mean_ci_items` (Wilson when case scores are 0/1, CLT on case
  means otherwise, cluster-robust when `cluster_key` names a metadata field).
- pass@k / pass^k use each case's own n (all its samples) and c; k is reported only
  when every case in the slice has n ≥ k.
- error_rate is per sample (a share of requests); latency percentiles are nearest-rank
  over every sample with a recorded latency (failed requests included: a user waited
  for them), timeouts (error_kind "timeout") right-censored and shown as "> T".

Extra fields (the contract's names are never changed):
- METRICS: n_valid, accuracy_ci_method (wilson | clt | clustered | wilson-fallback),
  accuracy_ci_warning / n_item_clusters (clustered), consistency_ci,
  semantic_entropy_normalized (SE/ln N), miller_madow, n_tied_cases,
  latency_ms.{n, n_censored, method, p99_is_max, censored, display, timeout_ms},
  ttft_ms.n, accuracy_within_slo_ci, slo_attainment.
- overall: n_cases_pending, n_templates, per_template, template_flip_rate,
  deadline_curve, tpot_ms, correct_goodput_per_s (at the run's own concurrency).
- slices: source (metadata | derived | discovered), bin, conditions, aliases (other
  key=value names with exactly the same cases; a level holding every case is not a
  slice), mde (the smallest increase of the failure rate over the rest's its test
  detects with 80% power at alpha / m; None when untested or when nothing could be
  detected), and from discovery delta, delta_ci (Newcombe), lift, p_value, test,
  exploratory, estimates_from, pruned_by.
- cases: position, n_samples, n_valid, n_errors, is_tied, tied_clusters (indices into
  `clusters`), semantic_entropy_normalized, miller_madow, majority_correct_rate;
  clusters carry n_correct, sample_indices and, with several templates, template.
- analysis: clustering method and counters, alpha, unit, percentile method,
  discovery summary (m tests, n_min, split, skipped columns, power and mde_alpha: the
  target power and per-test level of every slice's mde).  `analysis.clustering`
  holds method, threshold and the tier's counters from `cluster_groups`: linkage,
  embed_calls / embedded_texts (embeddings), rule, judge_calls, unparsed_replies
  (judge replies that fell back to neutral), pair_cache_hits (judge tiers), bands
  {exact, below_low, band, above_high} and similarity (hybrid), plus whatever the
  caller adds through `cluster_stats` (e.g. the endpoint's request counts, or
  source: "stored" when stored clusters were reused).
"""

from __future__ import annotations

import json
import math
import operator
from dataclasses import dataclass
from datetime import datetime
from itertools import chain, repeat
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.blas_threads import one_thread
from tuieval.analysis.latency import LatencyIndex, deadline_curve, tpot
from tuieval.analysis.robustness.templates import template_sensitivity
from tuieval.analysis.slices import (Level, column_levels, derive_features, discover_slices_columns, distinct_levels,
                                     hashable)
from tuieval.analysis.stats import DEFAULT_KS, mean_ci_items, per_task_pass_at_k, per_task_pass_hat_k
from tuieval.analysis.stats import json_float as _f
from tuieval.analysis.variance.config import VarianceConfig
from tuieval.analysis.variance import (ClusterResult, Embed, Judge, canonical_answer, cluster_groups, flip_rates,
                                       group_stats, renumber)
from tuieval.sample_columns import SampleColumns
from tuieval.sample_rules import answer_text, is_correct, is_error

SCHEMA = "tuieval.report/1"
DERIVED_KEYS = ("input_tokens", "script", "has_digits", "non_ascii_name")
RUN_FIELDS = ("id", "suite", "model", "status", "samples_per_case", "temperature", "started_at",
              "finished_at", "slo_ms")


def _nan_array(values: Sequence[Any]) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


# ---------------------------------------------------------------------------------------------
# Sample table: columnar, sorted by (case, template, sample_index)
# ---------------------------------------------------------------------------------------------

class _Table:
    """Samples as numpy columns sorted into contiguous (case, template) groups."""

    def __init__(self, samples: Sequence[Mapping[str, Any]], case_index: dict[Any, int],
                 case_of: np.ndarray | None = None) -> None:
        n = len(samples)
        self.n = n
        columnar = isinstance(samples, SampleColumns)
        col = samples.columns if columnar else None
        # the store's runs of rows with one case and template: each run's template looked up once
        runs = samples.group_runs() if columnar else None
        templates = col["template"] if columnar else [s.get("template") for s in samples]
        tmpl_names = sorted(set(runs[1] if runs is not None else templates), key=lambda t: (t is None, str(t)))
        self.templates = tmpl_names
        t_index = {t: i for i, t in enumerate(tmpl_names)}
        T = max(1, len(tmpl_names))
        case_col = col["case_id"] if columnar else [s["case_id"] for s in samples]
        ci = case_of if case_of is not None else np.fromiter(map(case_index.__getitem__, case_col),
                                                             dtype=np.int64, count=n)
        if runs is not None:
            ti = np.repeat(np.fromiter(map(t_index.__getitem__, runs[1]), dtype=np.int64, count=len(runs[1])), runs[2])
        else:
            ti = np.fromiter(map(t_index.__getitem__, templates), dtype=np.int64, count=n)
        if columnar:  # the store's sample_index is NOT NULL
            si = np.array(col["sample_index"], dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
        else:
            si = np.fromiter((int(s.get("sample_index") or 0) for s in samples), dtype=np.int64, count=n)
        # the store reads samples by case id, template, sample index: when that is already the
        # analysis's order (case ids that sort like positions), no sort and no reordering
        in_order = n < 2 or _non_decreasing(ci, ti, si)
        order = np.arange(n) if in_order else np.lexsort((si, ti, ci))
        self.order = order
        self.in_order = in_order   # the table's rows are the samples as given
        self.case = ci if in_order else ci[order]
        self.tmpl = ti if in_order else ti[order]
        self.sample_index = si if in_order else si[order]
        if columnar:
            errors = samples.errors
            self.error = errors[order]
            self.correct = samples.correct_mask[order]
            self.censored = _timeouts(col["error_kind"], errors)[order]
            self.latency = samples.floats("latency_ms")[order]
            self.ttft = samples.floats("ttft_ms")[order]
            self.out_tokens = samples.floats("output_tokens")[order]
            # the store computed each answer by the sample rules (ANSWER_SQL): None for an error
            texts = col["answer"]
        else:
            self.error = np.fromiter((is_error(s) for s in samples), dtype=bool, count=n)[order]
            self.correct = np.fromiter((is_correct(s) for s in samples), dtype=bool, count=n)[order]
            self.censored = np.fromiter((s.get("error_kind") == "timeout" for s in samples), dtype=bool,
                                        count=n)[order]
            self.latency = _nan_array([s.get("latency_ms") for s in samples])[order] if n else np.zeros(0)
            self.ttft = _nan_array([s.get("ttft_ms") for s in samples])[order] if n else np.zeros(0)
            self.out_tokens = _nan_array([s.get("output_tokens") for s in samples])[order] if n else np.zeros(0)
            texts = [answer_text(s) for s in samples]
        self.texts = list(texts) if in_order else [texts[i] for i in order.tolist()]
        if columnar:
            self.valid_text = _answered(texts, errors)[order]
        else:
            self.valid_text = np.fromiter(map(operator.is_not, self.texts, repeat(None, n)), dtype=bool, count=n)
        gkey = self.case * T + self.tmpl
        if n and (in_order or _non_decreasing(gkey)):
            # sorted keys: the distinct ones start where the key changes (what np.unique finds by sorting)
            change = np.r_[True, gkey[1:] != gkey[:-1]]
            ukey, self.group = gkey[change], np.cumsum(change) - 1
        else:
            ukey, self.group = np.unique(gkey, return_inverse=True)
        self.group = self.group.reshape(-1)
        self.n_groups = int(ukey.size)
        self.group_case = ukey // T
        self.group_tmpl = ukey % T


def _timeouts(kinds: list[Any], errors: np.ndarray) -> np.ndarray:
    """`kind == "timeout"` of each sample's error kind. A kind is stored only beside an error (a
    few samples in a hundred): when every kind that is not None is at an error, only the errors'
    kinds are read (the None values counted by `list.count`, in C), else every value."""
    n = len(kinds)
    out = np.zeros(n, dtype=bool)
    n_kinds = n - kinds.count(None)
    if n_kinds == 0:
        return out
    at = np.flatnonzero(errors).tolist()
    there = [kinds[i] for i in at]
    if len(there) - there.count(None) != n_kinds:  # a kind without an error: the plain pass
        return np.fromiter(map(operator.eq, kinds, repeat("timeout", n)), dtype=bool, count=n)
    out[at] = [k == "timeout" for k in there]
    return out


def _answered(texts: list[Any], errors: np.ndarray) -> np.ndarray:
    """`text is not None` of each sample's answer. The store's answer is None for an error (the
    sample rules): when the None answers are exactly the errors' (counted by `list.count`, in C,
    and the errors' answers read), that is `~errors`, else every value is read."""
    n = len(texts)
    at = np.flatnonzero(errors).tolist()
    if texts.count(None) == len(at) and [texts[i] for i in at].count(None) == len(at):
        return ~errors
    return np.fromiter(map(operator.is_not, texts, repeat(None, n)), dtype=bool, count=n)


def _non_decreasing(*keys: np.ndarray) -> bool:
    """Whether rows are already sorted by the keys (first key first), i.e. lexsort would keep them."""
    first = keys[0]
    step = np.diff(first)
    if (step < 0).any():
        return False
    tie = step == 0
    for k in keys[1:]:
        d = np.diff(k)
        if (tie & (d < 0)).any():
            return False
        tie &= d == 0
    return True


def _cluster_table(table: _Table, method: str, *, threshold: float | None, judge: Judge | None,
                   questions: Sequence[str] | None, embed: Embed | None = None, **tier: Any) -> tuple[np.ndarray, dict]:
    group_q = None
    if questions is not None:
        group_q = [questions[c] for c in table.group_case.tolist()]
    return cluster_groups(table.texts, table.group, method, threshold=threshold, judge=judge, questions=group_q,
                          embed=embed, **tier)


class RunClusters(dict):
    """{(case_id, template): ClusterResult} with the clustering's run-wide `stats`
    (the counters `cluster_groups` returns: judge calls, bands, embed calls…)."""

    stats: dict[str, Any]

    def __init__(self, *args: Any, stats: Mapping[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.stats = dict(stats or {})


def cluster_run(samples: Sequence[Mapping[str, Any]], method: str = "canonical", *, threshold: float | None = None,
                judge: Judge | None = None, questions: Mapping[Any, str] | None = None,
                embed: Embed | None = None, **tier: Any) -> RunClusters:
    """Cluster every (case_id, template) group of a run's samples.

    Returns {(case_id, template): ClusterResult} where result.ids[i] is the cluster of
    the group's i-th sample in sample_index order (result.sample_indices[i]), -1 for an
    error; result.representatives / sizes describe the clusters.  Clustering reads
    `extracted`, else `response`; errors are excluded.  `questions` maps case_id → the
    case's input text (needed by the judge methods).  `embed` is the embeddings tier's
    (and optionally hybrid's) function; `tier` takes rule, tau_low, tau_high, linkage.
    The returned mapping's `.stats` holds the run-wide counters.  Pass the assignments
    to `analyze_run(clusters=…, cluster_stats=result.stats)` so the report uses exactly
    these clusters instead of clustering again.
    """
    case_ids = list(dict.fromkeys(s["case_id"] for s in samples))
    case_index = {c: i for i, c in enumerate(case_ids)}
    table = _Table(samples, case_index)
    qs = [questions.get(c, "") for c in case_ids] if questions is not None else None
    ids, stats = _cluster_table(table, method, threshold=threshold, judge=judge, questions=qs, embed=embed,
                                **{k: v for k, v in tier.items() if v is not None})
    out = RunClusters(stats=stats)
    bounds = np.r_[0, np.flatnonzero(np.diff(table.group)) + 1, table.n]
    ids_l = ids.tolist()
    si_l = table.sample_index.tolist()
    for g in range(table.n_groups):
        a, b = int(bounds[g]), int(bounds[g + 1])
        key = (case_ids[int(table.group_case[g])], table.templates[int(table.group_tmpl[g])])
        out[key] = ClusterResult.from_ids(ids_l[a:b], method, sample_indices=si_l[a:b])
    return out


def _given_clusters(table: _Table, samples: Sequence[Mapping[str, Any]],
                    clusters: Mapping[tuple[Any, Any, int], int]) -> np.ndarray:
    """Cluster id per table row from {(case_id, template, sample_index): cluster},
    renumbered by first appearance inside each group; -1 for errors."""
    order = table.order.tolist()
    ids = np.full(table.n, -1, dtype=np.int64)
    for row, i in enumerate(order):
        if table.texts[row] is None:
            continue
        s = samples[i]
        k = (s["case_id"], s.get("template"), int(s.get("sample_index") or 0))
        c = clusters.get(k)
        if c is None or c < 0:
            raise ValueError(f"clusters: no cluster for sample {k!r}")
        ids[row] = int(c)
    bounds = np.r_[0, np.flatnonzero(np.diff(table.group)) + 1, table.n]
    out = ids.tolist()
    for g in range(table.n_groups):
        a, b = int(bounds[g]), int(bounds[g + 1])
        out[a:b] = renumber(out[a:b])
    return np.asarray(out, dtype=np.int64)


def cluster_records(samples: Sequence[Mapping[str, Any]], results: Mapping[tuple[Any, Any], ClusterResult],
                    ) -> tuple[dict[tuple[Any, Any, int], int], list[dict[str, Any]]]:
    """What `Store.write_clusters` takes: ({(case_id, template, sample_index): cluster},
    [{case_id, template, cluster, size, correct, representative}]).

    A cluster's `correct` is its representative's (first member's) correctness and
    `representative` its answer text (extracted, else response).
    """
    by_key = {(s["case_id"], s.get("template"), int(s.get("sample_index") or 0)): s for s in samples}
    sample_clusters: dict[tuple[Any, Any, int], int] = {}
    clusters: list[dict[str, Any]] = []
    for (cid, tmpl), res in results.items():
        sidx = res.sample_indices or list(range(len(res.ids)))
        for si, c in zip(sidx, res.ids):
            if c >= 0:
                sample_clusters[(cid, tmpl, si)] = c
        for k, (pos, size) in enumerate(zip(res.representatives, res.sizes)):
            if size == 0:
                continue
            s = by_key[(cid, tmpl, sidx[pos])]
            clusters.append({"case_id": cid, "template": tmpl, "cluster": k, "size": size,
                             "correct": is_correct(s), "representative": answer_text(s)})
    return sample_clusters, clusters


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def _seconds_between(a: Any, b: Any) -> float | None:
    try:
        ta = datetime.fromisoformat(str(a)) if not isinstance(a, (int, float)) else datetime.fromtimestamp(a)
        tb = datetime.fromisoformat(str(b)) if not isinstance(b, (int, float)) else datetime.fromtimestamp(b)
        return (tb - ta).total_seconds()
    except (TypeError, ValueError, OverflowError):
        return None


def _group_mean(group_case: np.ndarray, values: np.ndarray, n_cases: int) -> np.ndarray:
    """Mean of per-group values per case, ignoring NaN groups; NaN where a case has none."""
    ok = ~np.isnan(values)
    num = np.bincount(group_case[ok], weights=values[ok], minlength=n_cases)
    den = np.bincount(group_case[ok], minlength=n_cases)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)


class _Analysis:
    """Per-case arrays computed once; `metrics(mask)` evaluates METRICS for any case subset."""

    def __init__(self, table: _Table, gs: dict, n_cases: int, slo_ms: float | None, alpha: float,
                 cluster_ids: list | None) -> None:
        self.t = table
        self.alpha = alpha
        self.slo = slo_ms
        self.cluster_ids = cluster_ids
        nc = n_cases
        ci = table.case
        self.n_samples = np.bincount(ci, minlength=nc)
        self.n_correct = np.bincount(ci, weights=table.correct, minlength=nc)
        self.n_errors = np.bincount(ci, weights=table.error, minlength=nc)
        self.n_valid = np.bincount(ci, weights=table.valid_text, minlength=nc)
        has = self.n_samples > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            self.accuracy = np.where(has, self.n_correct / np.maximum(self.n_samples, 1), np.nan)
        gc = table.group_case
        valid_g = gs["n_valid"] > 0
        self.consistency = _group_mean(gc, np.where(valid_g, gs["consistency"], np.nan), nc)
        self.se = _group_mean(gc, np.where(valid_g, gs["semantic_entropy"], np.nan), nc)
        self.semantic_entropy_normalized = _group_mean(gc, gs["semantic_entropy_normalized"], nc)
        self.mm = _group_mean(gc, np.where(valid_g, gs["miller_madow"], np.nan), nc)
        # templates without a valid answer count as majority-wrong (errors are incorrect)
        n_groups = np.bincount(gc, minlength=nc)
        self.maj_rate = np.where(n_groups > 0, np.bincount(gc, weights=gs["majority_correct"], minlength=nc)
                                 / np.maximum(n_groups, 1), np.nan)
        self.n_clusters = np.bincount(gc, weights=gs["n_clusters"], minlength=nc).astype(np.int64)
        self.is_tied = np.bincount(gc, weights=gs["is_tied"], minlength=nc) > 0
        if slo_ms is not None:
            with np.errstate(invalid="ignore"):
                g = table.correct & (table.latency <= slo_ms)
            self.slo_case = np.where(has, np.bincount(ci, weights=g, minlength=nc) / np.maximum(self.n_samples, 1),
                                     np.nan)
            with np.errstate(invalid="ignore"):
                met = table.latency <= slo_ms
            self.slo_met = met
            # per case, how many of its samples met the SLO (whole numbers, summed exactly): a
            # slice's attainment is its cases' count over their samples, with no per-sample gather
            self.slo_met_case = np.bincount(ci, weights=met, minlength=nc)
        # pass@k / pass^k: the task is one prompt sampled N times, a (case, template) pair, as
        # for consistency (docs/statistics.md §3 counts n and c per task); a case's value is the mean over its
        # templates, and k is reported only when every task of the cases in view has n >= k.
        ng = np.bincount(table.group, minlength=table.n_groups).astype(np.int64)
        cg = np.rint(np.bincount(table.group, weights=table.correct, minlength=table.n_groups)).astype(np.int64)
        self.min_task_n = np.full(nc, np.iinfo(np.int64).max)
        np.minimum.at(self.min_task_n, gc, ng)
        self.min_task_n[~has] = 0
        # a set of the counts, not np.unique: that imports numpy.ma (~20 ms) on every run's report
        self.ks = sorted(set(DEFAULT_KS) | set(ng.tolist()))
        self.pass_at: dict[int, np.ndarray] = {}
        self.pass_hat: dict[int, np.ndarray] = {}
        for k in self.ks:
            ok = ng >= k
            if not ok.any():
                continue
            a = np.full(table.n_groups, np.nan)
            h = np.full(table.n_groups, np.nan)
            a[ok] = per_task_pass_at_k(ng[ok], cg[ok], k)
            h[ok] = per_task_pass_hat_k(ng[ok], cg[ok], k)
            self.pass_at[k], self.pass_hat[k] = _group_mean(gc, a, nc), _group_mean(gc, h, nc)
        self.lat_index = LatencyIndex(table.latency, table.censored)
        self.ttft_index = LatencyIndex(table.ttft)
        # the case of each sample in each index's order: a case mask selects sorted samples in one gather
        self.lat_case = table.case[self.lat_index.order]
        self.ttft_case = table.case[self.ttft_index.order]

    def metrics(self, mask: np.ndarray) -> dict:
        """METRICS of tuieval.report/1 (plus extras) for the cases in `mask`."""
        m = mask & (self.n_samples > 0)
        # the cases' positions once: gathering by them gives the arrays a boolean mask would (the
        # same values in the same order, so the same sums), at a fraction of the cost
        at = np.flatnonzero(m)
        n_cases = int(at.size)
        n_samples = int(self.n_samples[at].sum())
        n_errors = int(self.n_errors[at].sum())
        acc_vals = self.accuracy[at]
        cl = None
        if self.cluster_ids is not None:
            cl = [self.cluster_ids[i] for i in at.tolist()]
        acc = mean_ci_items(acc_vals, self.alpha, cluster_ids=cl)
        cons_vals = self.consistency[at]
        cons_vals = cons_vals[~np.isnan(cons_vals)]
        cons = mean_ci_items(cons_vals, self.alpha)
        se_vals = self.se[at]
        se_vals = se_vals[~np.isnan(se_vals)]
        hn = self.semantic_entropy_normalized[at]
        hn = hn[~np.isnan(hn)]
        mm = self.mm[at]
        mm = mm[~np.isnan(mm)]
        pak, phk = {}, {}
        n_min = int(self.min_task_n[at].min()) if n_cases else 0
        for k in self.ks:
            if k <= n_min and k in self.pass_at:
                pak[str(k)] = _f(self.pass_at[k][at].mean())
                phk[str(k)] = _f(self.pass_hat[k][at].mean())
        lat = self.lat_index.summary(selected=m[self.lat_case])
        ttft = self.ttft_index.summary(with_max=False, selected=m[self.ttft_case])
        out: dict[str, Any] = {
            "n_cases": n_cases, "n_samples": n_samples, "n_errors": n_errors,
            "accuracy": _f(acc["mean"]), "accuracy_ci": [_f(x) for x in acc["ci"]] if acc["ci"] else None,
            "majority_accuracy": _f(self.maj_rate[at].mean()) if n_cases else None,
            "consistency": _f(cons["mean"]), "semantic_entropy": _f(se_vals.mean()) if se_vals.size else None,
            "pass_at_k": pak, "pass_hat_k": phk,
            "error_rate": (n_errors / n_samples) if n_samples else None,
            "latency_ms": lat, "ttft_ms": {k: ttft[k] for k in ("p50", "p95", "p99", "n")},
            "accuracy_within_slo": None,
            # extras (not part of the contract's required fields)
            "accuracy_ci_method": acc["method"], "n_valid": int(self.n_valid[at].sum()),
            "consistency_ci": [_f(x) for x in cons["ci"]] if cons["ci"] else None,
            "semantic_entropy_normalized": _f(hn.mean()) if hn.size else None,
            "miller_madow": _f(mm.mean()) if mm.size else None,
            "n_tied_cases": int(self.is_tied[at].sum()),
        }
        if "warning" in acc:
            out["accuracy_ci_warning"] = acc["warning"]
        if "n_clusters" in acc:
            out["n_item_clusters"] = acc["n_clusters"]
        if self.slo is not None and n_cases:
            s = mean_ci_items(self.slo_case[at], self.alpha, cluster_ids=cl)
            out["accuracy_within_slo"] = _f(s["mean"])
            out["accuracy_within_slo_ci"] = [_f(x) for x in s["ci"]]
            # the share of the selected cases' samples that met it: k / n, as the mean of their flags is
            k = float(self.slo_met_case[at].sum())
            out["slo_attainment"] = _f(k / n_samples) if n_samples else None
        return out


# Metadata that links a perturbed copy (tuieval.perturb) or a contamination probe
# (tuieval.contamination) to its original case: an identifier, one slice per original case,
# never a slice worth a row of the scoreboard.
NOT_SLICES = frozenset({"original_case", "probe_of"})


def case_slice_columns(cases: Sequence[Mapping[str, Any]],
                       keys: Sequence[str] | None = None) -> tuple[dict[str, list], dict[str, str]]:
    """Slice columns per case: metadata keys (first-seen order; `keys` when given, e.g. those
    of a larger set of cases) then derived features."""
    if keys is None:
        keys = metadata_keys(cases)
    metadata = [m or {} for m in map(_GET_METADATA, cases)]
    # each key's column by a C-level map of dict.get over the cases' metadata
    cols: dict[str, list] = {k: list(map(operator.methodcaller("get", k), metadata)) for k in keys}
    source = {k: "metadata" for k in keys}
    derived = derive_features([t or "" for t in map(_GET_TEXT, cases)])
    for k in DERIVED_KEYS:
        name = k if k not in keys else f"derived.{k}"
        cols[name] = derived[k]
        source[name] = "derived"
    return cols, source


def metadata_keys(cases: Sequence[Mapping[str, Any]]) -> list[str]:
    """The metadata keys that are slice columns, in first-seen order."""
    return [k for k in _all_metadata_keys(cases) if k not in NOT_SLICES]


def _all_metadata_keys(cases: Sequence[Mapping[str, Any]]) -> dict[str, None]:
    """Every metadata key of the cases, in first-seen order: each case's keys chained into one
    dict by C-level maps (a case without metadata, None or {}, has none)."""
    return dict.fromkeys(chain.from_iterable(filter(None, map(_GET_METADATA, cases))))


@dataclass
class SliceLevels:
    """The slice columns of some cases (in the order given) and their levels, as the report uses
    them: `levels` after `distinct_levels` (no level holding every case, one name per set of
    cases), `skipped` the columns left out and why, `source` metadata | derived per column."""

    ids: list[Any]
    cols: dict[str, list]
    source: dict[str, str]
    levels: dict[str, list[Level]]
    skipped: dict[str, str]
    _members: dict[tuple[str, Any], frozenset] | None = None

    def masks_over(self, case_ids: Sequence[Any]) -> dict[tuple[str, Any], np.ndarray]:
        """Each level's mask as one boolean array over `case_ids` (in their order; an id that is
        not one of these cases is in no level), keyed (key, slice_value_key(value))."""
        at = {cid: i for i, cid in enumerate(self.ids)}
        pos = np.fromiter(map(at.get, case_ids, repeat(-1)), dtype=np.int64, count=len(case_ids))
        known = pos >= 0
        same = bool(known.all()) and pos.size == len(self.ids) and bool((pos == np.arange(pos.size)).all())
        out: dict[tuple[str, Any], np.ndarray] = {}
        for k, lvls in self.levels.items():
            for lv in lvls:
                if same:  # the ids in the levels' own order: the masks as they are (copied)
                    mask = lv.mask.copy()
                else:
                    mask = np.zeros(len(case_ids), dtype=bool)
                    mask[known] = lv.mask[pos[known]]
                out[(k, slice_value_key(lv.value))] = mask
        return out

    def membership(self) -> dict[tuple[str, Any], frozenset]:
        """(key, slice_value_key(value)) → the case ids of the level (made once)."""
        if self._members is None:
            ids = self.ids
            self._members = {(k, slice_value_key(lv.value)): frozenset(ids[i] for i in np.flatnonzero(lv.mask).tolist())
                             for k, lvls in self.levels.items() for lv in lvls}
        return self._members


def by_position(cases: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The cases sorted by position (those without one last, in their order): a new list, the
    cases as given when they are in that order already (the store reads them so; the check is
    C-level maps, the sort a Python key per case)."""
    pos = list(map(_GET_POSITION, cases))
    if None not in pos and all(map(operator.le, pos, pos[1:])):
        return list(cases)
    return sorted(cases, key=lambda c: (c.get("position") is None, c.get("position") or 0))


_CASE_ID = operator.itemgetter("case_id")
_GET_POSITION = operator.methodcaller("get", "position")
_GET_METADATA = operator.methodcaller("get", "metadata")
_GET_TEXT = operator.methodcaller("get", "input_text")

#: the last cases slice_levels saw and what it made of them: the analysis, the stored report's
#: slice membership and the cost section ask for the same cases' levels one after the other
#: (at 100,000 cases each asking cost about a second)
_LAST_LEVELS: tuple[tuple, SliceLevels] | None = None


def slice_levels(cases: Sequence[Mapping[str, Any]], keys: Sequence[str] | None = None,
                 drop: str | None = None) -> SliceLevels:
    """The slice levels of `cases` (each case one item, in the order given): the columns of
    `case_slice_columns(cases, keys)` without `drop` (the cluster key: the clustering unit, not a
    slice), each cut into levels by `column_levels`, then `distinct_levels`. The same cases
    asked for again with the same keys are answered from the last call (compared by value: the
    case ids, a copy of each case's metadata and its input text). Callers must not modify what
    they get."""
    global _LAST_LEVELS
    if keys is None:
        keys = metadata_keys(cases)
    # the cases by value, read by C-level maps (a Python step per case was ~0.4 s at 100,000)
    metadata = list(map(_GET_METADATA, cases))
    memo_key = (tuple(keys), drop, list(map(_CASE_ID, cases)),
                list(map(dict, metadata)) if None not in metadata else [dict(m or {}) for m in metadata],
                list(map(_GET_TEXT, cases)))
    last = _LAST_LEVELS
    if last is not None and last[0] == memo_key:
        return last[1]
    cols, source = case_slice_columns(cases, keys)
    if drop:
        cols.pop(drop, None)
    levels: dict[str, list[Level]] = {}
    skipped: dict[str, str] = {}
    for k, vals in cols.items():
        lv, why = column_levels(k, vals)
        if why:
            skipped[k] = why
        else:
            levels[k] = lv
    levels, merged_away = distinct_levels(levels, len(cases))
    skipped.update(merged_away)
    out = SliceLevels([c["case_id"] for c in cases], cols, source, levels, skipped)
    _LAST_LEVELS = (memo_key, out)
    return out


def slice_value_key(v: Any) -> Any:
    """A slice value as a dictionary key: JSON text for lists and dicts, as the report writes them."""
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return v if isinstance(v, (str, int, float, bool, type(None))) else str(v)


def slice_membership(cases: Sequence[Mapping[str, Any]],
                     analyzed: set[Any] | None = None) -> dict[tuple[str, Any], frozenset]:
    """(key, value) → case ids, with the slice levels the report uses (metadata values, numeric
    bins, derived features; a level holding every case dropped, levels with the same cases
    listed once under the report's name), computed over the cases that have samples (`analyzed`).
    The sets are shared between calls on the same cases (`slice_levels`): read them, never modify them."""
    cases = by_position(cases)
    if analyzed is not None:
        cases = [c for c in cases if c["case_id"] in analyzed]
    return dict(slice_levels(cases).membership())


def slice_masks(cases: Sequence[Mapping[str, Any]], case_ids: Sequence[Any]) -> dict[tuple[str, Any], np.ndarray]:
    """`slice_membership(cases, set(case_ids))` as one boolean array per level over `case_ids`
    (in their order; an id with no case row is in no level), read from the levels' own masks
    rather than from sets of ids."""
    analyzed = set(case_ids)
    cases = by_position(cases)
    return slice_levels([c for c in cases if c["case_id"] in analyzed]).masks_over(case_ids)


class _Clustered:
    """What one analysis clustered: the sample table, each row's cluster and the per-group counts."""

    def __init__(self, table: _Table, ids: np.ndarray, gs: dict, cases: Sequence[Mapping[str, Any]],
                 membership: SliceLevels | None = None) -> None:
        self.table, self.ids, self.gs, self.cases = table, ids, gs, cases
        self._membership = membership

    def slice_masks(self, case_ids: Sequence[Any]) -> dict[tuple[str, Any], np.ndarray] | None:
        """`slice_masks(cases, case_ids)` from the levels the analysis cut its slices from, when
        those are the membership's (the run's case rows, sampled, with the columns they carry and
        none dropped); None otherwise (the caller derives them: `slice_masks`)."""
        return None if self._membership is None else self._membership.masks_over(case_ids)

    def records(self) -> tuple[np.ndarray, list[dict[str, Any]]]:
        """(cluster per input sample, in the order the samples were given, -1 for none;
        the cluster rows `Store.write_clusters` takes), equal to what `cluster_records` makes
        of `cluster_run`: groups in order of their case's first sample, then template;
        clusters by id, a cluster's `correct` and `representative` its first member's."""
        t, ids, gs = self.table, self.ids, self.gs
        counts, rep = gs["counts"], gs["rep"]
        cl_g, cl_k = np.nonzero(counts)   # every (group, cluster) with members: groups in table order
        if t.in_order:
            # the samples as given are the table's rows: each case's first sample comes in case
            # order, so the groups are already in order of their case's first sample, then template
            per_input = ids.copy()
        else:
            per_input = np.full(t.n, -1, dtype=np.int64)
            per_input[t.order] = ids
            first = np.full(len(self.cases), t.n, dtype=np.int64)
            np.minimum.at(first, t.case, t.order)
            g_order = np.lexsort((t.group_tmpl, first[t.group_case]))
            # groups in g_order, then by cluster id
            rank = np.empty(g_order.size, dtype=np.int64)
            rank[g_order] = np.arange(g_order.size)
            by = np.lexsort((cl_k, rank[cl_g]))
            cl_g, cl_k = cl_g[by], cl_k[by]
        r = rep[cl_g, cl_k]
        case_ids = list(map(_CASE_ID, self.cases))
        texts = t.texts
        rows = [{"case_id": case_ids[c], "template": t.templates[tm], "cluster": k, "size": size,
                 "correct": ok, "representative": texts[i]}
                for c, tm, k, size, ok, i in zip(t.group_case[cl_g].tolist(), t.group_tmpl[cl_g].tolist(),
                                                 cl_k.tolist(), counts[cl_g, cl_k].tolist(), t.correct[r].tolist(),
                                                 r.tolist())]
        return per_input, rows


def analyze_run(run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], *,
                method: str | None = None, cluster_key: str | None = None, rng_seed: int = 0,
                alpha: float = 0.05, threshold: float | None = None, judge: Judge | None = None,
                embed: Embed | None = None, clusters: Mapping[tuple[Any, Any, int], int] | None = None,
                cluster_stats: Mapping[str, Any] | None = None,
                discover: bool = True, delta_min: float = 0.05) -> dict:
    """The tuieval.report/1 dictionary (JSON-serialisable) for one run (see `analyze_run_clustered`)."""
    return analyze_run_clustered(run, cases, samples, method=method, cluster_key=cluster_key, rng_seed=rng_seed,
                                 alpha=alpha, threshold=threshold, judge=judge, embed=embed, clusters=clusters,
                                 cluster_stats=cluster_stats, discover=discover, delta_min=delta_min)[0]


def analyze_run_clustered(run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]],
                          samples: Sequence[Mapping[str, Any]], *, method: str | None = None,
                          cluster_key: str | None = None, rng_seed: int = 0, alpha: float = 0.05,
                          threshold: float | None = None, judge: Judge | None = None, embed: Embed | None = None,
                          clusters: Mapping[tuple[Any, Any, int], int] | None = None,
                          cluster_stats: Mapping[str, Any] | None = None, discover: bool = True,
                          delta_min: float = 0.05) -> tuple[dict, _Clustered]:
    """The tuieval.report/1 dictionary (JSON-serialisable) for one run, and the clusters it used
    (`.records()`: what to store, so a run is clustered once for its report and its store).

    `method` (canonical | lexical | embeddings | entailment | hybrid; embeddings needs
    `embed`, a callable list of texts → matrix with one row per text; entailment and
    hybrid need `judge`, a callable (question, premise, hypothesis) → raw reply, and
    hybrid uses `embed` for its similarity when given), `threshold` and `cluster_key`
    default to the run's config ("variance": {"method", "threshold", "linkage",
    "tau_low", "tau_high", "rule"}, "cluster_key"), then to canonical / the tier default
    / none.  `clusters` ({(case_id, template, sample_index): cluster}, e.g. from
    `cluster_records(cluster_run(...))` or the stored samples.cluster column) skips
    clustering: every valid sample must have one; `cluster_stats` then fills
    analysis.clustering (and is merged into it otherwise).  No model is ever called
    from here: the callables do that.
    Extra fields beyond the contract are documented in the module docstring.
    `rng_seed` seeds the discovery/confirmation split.  Slices: every metadata
    key=value, the derived features, and discovered conjunctions that were flagged.
    The matrix products run on one BLAS thread (tuieval.analysis.blas_threads: small products,
    where a waiting second thread spins on a busy machine).
    """
    with one_thread():
        return _analyze_run_clustered(run, cases, samples, method=method, cluster_key=cluster_key, rng_seed=rng_seed,
                                      alpha=alpha, threshold=threshold, judge=judge, embed=embed, clusters=clusters,
                                      cluster_stats=cluster_stats, discover=discover, delta_min=delta_min)


def _analyze_run_clustered(run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]],
                           samples: Sequence[Mapping[str, Any]], *, method: str | None, cluster_key: str | None,
                           rng_seed: int, alpha: float, threshold: float | None, judge: Judge | None,
                           embed: Embed | None, clusters: Mapping[tuple[Any, Any, int], int] | None,
                           cluster_stats: Mapping[str, Any] | None, discover: bool,
                           delta_min: float) -> tuple[dict, _Clustered]:
    cfg = run.get("config") or {}
    var_cfg = VarianceConfig.from_mapping(cfg.get("variance"))
    method = method or var_cfg.effective_method
    if threshold is None:
        threshold = var_cfg.threshold
    cluster_key = cluster_key or cfg.get("cluster_key")
    slo = run.get("slo_ms")
    slo = float(slo) if slo is not None else None

    # cases in position order; a sample for an unknown case gets a bare case row
    cases = by_position(cases)
    case_ids = [c["case_id"] for c in cases]
    case_index = {cid: i for i, cid in enumerate(case_ids)}
    sample_cases = samples.columns["case_id"] if isinstance(samples, SampleColumns) else [s["case_id"] for s in samples]
    runs = samples.group_runs() if isinstance(samples, SampleColumns) else None
    # each sample's case index in one pass (one look-up per run of a case's samples when the store
    # read them in runs); only the samples of unlisted cases are looked at again
    if runs is not None:
        case_of = np.repeat(np.fromiter(map(case_index.get, runs[0], repeat(-1)), dtype=np.int64,
                                        count=len(runs[0])), runs[2])
    else:
        case_of = np.fromiter(map(case_index.get, sample_cases, repeat(-1)), dtype=np.int64, count=len(sample_cases))
    unlisted = np.flatnonzero(case_of < 0)
    extra = list(dict.fromkeys(sample_cases[i] for i in unlisted.tolist()))  # in order of first sample
    for cid in extra:
        case_index[cid] = len(case_ids)
        case_ids.append(cid)
        cases.append({"case_id": cid, "position": None, "metadata": {}, "input_text": "", "targets": [], "vars": {}})
    if unlisted.size:
        case_of[unlisted] = [case_index[sample_cases[i]] for i in unlisted.tolist()]
    nc = len(cases)

    table = _Table(samples, case_index, case_of)
    if clusters is not None:
        ids, cstats = _given_clusters(table, samples, clusters), {"method": method}
    else:
        ids, cstats = _cluster_table(table, method, threshold=threshold, judge=judge, embed=embed,
                                     questions=[c.get("input_text") or "" for c in cases],
                                     **var_cfg.tier_args)
    cstats = {**cstats, **(cluster_stats or {})}
    gs = group_stats(table.group, ids, table.correct, table.n_groups)
    cluster_ids = None
    if cluster_key:
        cluster_ids = [hashable((c.get("metadata") or {}).get(cluster_key)) for c in cases]
    an = _Analysis(table, gs, nc, slo, alpha, cluster_ids)
    has = an.n_samples > 0

    overall = an.metrics(np.ones(nc, dtype=bool))
    overall["n_cases_pending"] = int((~has).sum())
    overall["n_templates"] = len(table.templates)
    overall.update(_template_breakdown(table, gs, an, alpha))
    overall["deadline_curve"] = deadline_curve(table.correct, np.where(table.censored, np.nan, table.latency),
                                               _slo_grid(table, slo))
    tp = tpot(table.latency, table.ttft, table.out_tokens)
    tidx = LatencyIndex(tp, keep_order=False)  # one summary: sorted values, no order
    ts = tidx.summary(with_max=False)
    overall["tpot_ms"] = {k: ts[k] for k in ("p50", "p95", "p99", "n")}
    wall = _seconds_between(run.get("started_at"), run.get("finished_at"))
    overall["correct_goodput_per_s"] = (float(table.correct.sum()) / wall) if wall and wall > 0 else None

    # -- slices ------------------------------------------------------------------------------------
    analyzed = np.flatnonzero(has)
    # the columns of every case name the columns (a key only unsampled cases carry is still a
    # column, reported as skipped); the levels are those of the sampled cases
    sampled = [cases[i] for i in analyzed.tolist()]
    all_keys = metadata_keys(cases)
    sl = slice_levels(sampled, keys=all_keys, drop=cluster_key)
    # the stored membership's rule (`slice_masks`) reads only the sampled case rows, their own
    # keys, nothing dropped: when that is what the analysis read, its levels are handed over
    same_rule = (not extra and (not cluster_key or cluster_key not in sl.source)
                 and (len(sampled) == nc or all_keys == metadata_keys(sampled)))
    cols, source, levels, skipped = sl.cols, sl.source, sl.levels, dict(sl.skipped)
    disc_info: dict[str, Any] = {"enabled": discover}
    found: dict[tuple, Any] = {}
    conj: list = []
    if discover and analyzed.size:
        f = 1.0 - an.accuracy[analyzed]
        res = discover_slices_columns(cols, f, alpha=alpha, delta_min=delta_min, rng_seed=rng_seed,
                                      cluster_ids=[cluster_ids[i] for i in analyzed.tolist()] if cluster_ids else None,
                                      levels=levels, samples_per_item=float(an.n_samples[analyzed].mean()))
        for r in res["results"]:
            if len(r.conditions) == 1:
                found[(r.key, hashable(r.value))] = r
            elif r.flagged:
                conj.append(r)
        disc_info.update(m=res["m"], n=res["n"], n_min=res["n_min"], split=res["split"],
                         exploratory=res["exploratory"], correction=res["test_family"], alpha=alpha,
                         delta_min=delta_min, n_flagged=sum(r.flagged for r in res["results"]),
                         power=res["power"], mde_alpha=res["mde_alpha"])
    disc_info["skipped_columns"] = skipped

    def full_mask(sub: np.ndarray) -> np.ndarray:
        m = np.zeros(nc, dtype=bool)
        m[analyzed[sub]] = True
        return m

    slices_out: list[dict] = []
    for k, lvls in levels.items():
        for lv in lvls:
            r = found.get((k, hashable(lv.value)))
            entry = {"key": k, "value": lv.value, "flagged": bool(r.flagged) if r else False,
                     "q_value": _f(r.q_value) if r else None, "source": source.get(k, "metadata"),
                     "aliases": list(lv.aliases), "mde": _f(r.mde) if r else None}
            entry.update(an.metrics(full_mask(lv.mask)))
            if lv.bin is not None:
                entry["bin"] = list(lv.bin)
            if r is not None:
                entry.update(_discovery_fields(r))
            slices_out.append(entry)
    for r in conj:
        entry = {"key": r.key, "value": r.value, "flagged": True, "q_value": _f(r.q_value),
                 "source": "discovered", "conditions": [list(c) for c in r.conditions], "aliases": [],
                 "mde": _f(r.mde)}
        entry.update(an.metrics(full_mask(r.mask)))
        entry.update(_discovery_fields(r))
        slices_out.append(entry)

    cases_out = _cases_output(cases, table, ids, gs, an)
    report = {
        "schema": SCHEMA,
        "run": _run_block(run),
        "overall": overall,
        "slices": slices_out,
        "cases": cases_out,
        "analysis": {"clustering": {"method": method, "threshold": threshold, **_jsonable(cstats)},
                     "alpha": alpha, "unit": "case", "cluster_key": cluster_key,
                     "percentile_method": "nearest_rank", "semantic_entropy": "discrete",
                     "discovery": disc_info},
    }
    # perturbed copies (tuieval.perturb) are the perturbation section's; templates compare originals
    copies = ({c["case_id"] for c in cases if "original_case" in (c.get("metadata") or {})}
              if "original_case" in _all_metadata_keys(cases) else set())
    templates = template_robustness(table, case_ids, alpha, rng_seed, exclude=copies)
    if templates is not None:
        report["robustness"] = {"templates": templates}
    return report, _Clustered(table, ids, gs, cases, sl if same_rule else None)


def template_robustness(table: _Table, case_ids: Sequence[Any], alpha: float, rng_seed: int,
                        exclude: set[Any] = frozenset()) -> dict | None:
    """`robustness.templates` (tuieval.analysis.robustness.templates) for a run with several templates."""
    T = len(table.templates)
    if T < 2 or table.n_groups == 0:
        return None
    g_n = np.bincount(table.group, minlength=table.n_groups)
    g_acc = np.bincount(table.group, weights=table.correct, minlength=table.n_groups) / np.maximum(g_n, 1)
    scores = np.full((len(case_ids), T), np.nan)
    scores[table.group_case, table.group_tmpl] = g_acc
    has = ~np.isnan(scores).all(axis=1) & np.array([c not in exclude for c in case_ids], dtype=bool)
    return template_sensitivity(scores[has], [c for c, h in zip(case_ids, has.tolist()) if h],
                                [str(t) for t in table.templates], binary=bool((g_n == 1).all()), alpha=alpha,
                                rng_seed=rng_seed)


def _jsonable(d: Mapping[str, Any]) -> dict:
    def conv(v: Any) -> Any:
        if isinstance(v, np.integer):
            return int(v)
        if isinstance(v, np.floating):
            return float(v)
        if isinstance(v, Mapping):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {k: conv(v) for k, v in d.items() if k != "method"}


def _discovery_fields(r) -> dict:
    return {"delta": _f(r.delta), "delta_ci": [_f(r.delta_ci[0]), _f(r.delta_ci[1])], "lift": _f(r.lift),
            "p_value": _f(r.p_value), "test": r.test, "exploratory": r.exploratory,
            "estimates_from": r.estimates_from, "pruned_by": r.pruned_by}


def _run_block(run: Mapping[str, Any]) -> dict:
    out = {k: run.get(k) for k in RUN_FIELDS}
    status = run.get("status")
    out["status"] = status if status in ("complete", "partial", "failed") else "partial"
    if status not in ("complete", "partial", "failed"):
        out["stored_status"] = status
    out["simulated"] = bool(run.get("simulated"))
    return out


def _slo_grid(table: _Table, slo: float | None) -> list[float] | None:
    ok = table.latency[table.correct & ~np.isnan(table.latency) & ~table.censored]
    if ok.size == 0:
        return [slo] if slo is not None else None
    srt = np.sort(ok)
    qs = np.arange(1, 21) / 20.0
    grid = {float(srt[min(srt.size, max(1, math.ceil(q * srt.size - 1e-9))) - 1]) for q in qs}
    if slo is not None:
        grid.add(float(slo))
    return sorted(grid)


def _template_breakdown(table: _Table, gs: dict, an: _Analysis, alpha: float) -> dict:
    """Per-template accuracy (case as the unit) and, with several templates, flip rates (§2)."""
    G = table.n_groups
    g_n = np.bincount(table.group, minlength=G)
    g_c = np.bincount(table.group, weights=table.correct, minlength=G)
    g_acc = g_c / np.maximum(g_n, 1)
    per: dict[str, Any] = {}
    for ti, name in enumerate(table.templates):
        sel = table.group_tmpl == ti
        ci = mean_ci_items(g_acc[sel], alpha)
        cons = gs["consistency"][sel]
        cons = cons[~np.isnan(cons)]
        per[str(name)] = {"n_cases": int(sel.sum()), "n_samples": int(g_n[sel].sum()), "accuracy": _f(ci["mean"]),
                          "accuracy_ci": [_f(x) for x in ci["ci"]] if ci["ci"] else None,
                          "consistency": _f(cons.mean()) if cons.size else None}
    out: dict[str, Any] = {"per_template": per}
    if len(table.templates) < 2:
        out["template_flip_rate"] = None
        return out
    # Modes are compared across templates through their representatives' canonical
    # forms (exact for the canonical tier; an approximation for the lexical tier).
    counts, rep = gs["counts"], gs["rep"]
    canon_cache: dict[str, str | None] = {}
    by_case: dict[int, list[tuple[set, set]]] = {}
    for g in range(G):
        if gs["n_valid"][g] == 0:
            continue
        top = counts[g].max()
        tied = np.flatnonzero(counts[g] == top)
        reps = rep[g, tied]
        modes = set()
        for r in reps.tolist():
            t = table.texts[r]
            if t not in canon_cache:
                canon_cache[t] = canonical_answer(t)
            modes.add(canon_cache[t])
        corr = {bool(table.correct[r]) for r in reps.tolist()}
        by_case.setdefault(int(table.group_case[g]), []).append((modes, corr))
    anch, pair, canch = [], [], []
    for lst in by_case.values():
        if len(lst) < 2:
            continue
        fr = flip_rates([m for m, _ in lst])
        cf = flip_rates([c for _, c in lst])
        if fr["anchored"] is not None:
            anch.append(fr["anchored"])
            pair.append(fr["pairwise"])
        if cf["anchored"] is not None:
            canch.append(cf["anchored"])
    out["template_flip_rate"] = {
        "anchored": _f(np.mean(anch)) if anch else None, "pairwise": _f(np.mean(pair)) if pair else None,
        "correctness_anchored": _f(np.mean(canch)) if canch else None, "n_cases": len(anch),
        "anchored_ci": mean_ci_items(anch, alpha)["ci"] if anch else None,
    }
    return out


def json_floats(values: np.ndarray) -> list[float | None]:
    """`json_float` of every value of a float array at once (NaN, ±inf → None; −0.0 → 0.0):
    the same Python floats, without a call per value."""
    arr = np.asarray(values, dtype=np.float64) + 0.0  # −0.0 + 0.0 is 0.0, as json_float adds it
    out = arr.astype(object)
    out[~np.isfinite(arr)] = None
    return out.tolist()


def _cases_output(cases: Sequence[Mapping[str, Any]], table: _Table, ids: np.ndarray, gs: dict,
                  an: _Analysis) -> list[dict]:
    """The report's `cases` list; cluster members are listed by sample_index.

    Every (group, cluster) with members is one entry of `clusters`, in group order then
    cluster id: the nonzero cells of `counts` in row-major order, which are also the sorted
    distinct keys group·C + cluster of the valid samples, so each cluster's members are one
    slice of the samples sorted by that key. A case's groups are consecutive (the table is
    sorted by case, then template), so its clusters are one slice of that flat list."""
    counts, rep = gs["counts"], gs["rep"]
    C = counts.shape[1]
    valid = np.flatnonzero(ids >= 0)
    key = table.group[valid] * C + ids[valid]
    srt = np.argsort(key, kind="stable")  # members in sample order inside each cluster
    skeys = key[srt]
    member_si = table.sample_index[valid][srt].tolist()
    cut = (np.flatnonzero(np.diff(skeys)) + 1).tolist()
    starts, ends = [0] + cut, cut + [len(member_si)]
    cl_g, cl_k = np.nonzero(counts)           # row-major: group, then cluster id
    size = counts[cl_g, cl_k]
    r = rep[cl_g, cl_k]
    n_corr = np.bincount(key, weights=table.correct[valid], minlength=counts.size).reshape(counts.shape)
    texts = table.texts
    members = [member_si[a:b] for a, b in zip(starts, ends)] if skeys.size else []
    cols = (size.tolist(), table.correct[r].tolist(), [texts[i] for i in r.tolist()],
            np.rint(n_corr[cl_g, cl_k]).astype(np.int64).tolist(), members)
    if len(table.templates) > 1:
        names = [table.templates[t] for t in table.group_tmpl[cl_g].tolist()]
        flat = [{"size": a, "correct": b, "representative": c, "n_correct": d, "sample_indices": e, "template": t}
                for a, b, c, d, e, t in zip(*cols, names)]
    else:
        flat = [{"size": a, "correct": b, "representative": c, "n_correct": d, "sample_indices": e}
                for a, b, c, d, e in zip(*cols)]
    # each case's slice of the flat list, and the positions in it of its tied modes
    nc = len(cases)
    cl_case = table.group_case[cl_g]
    n_cl = np.bincount(cl_case, minlength=nc)
    case_start = np.r_[0, np.cumsum(n_cl)[:-1]] if nc else np.zeros(0, dtype=np.int64)
    top = counts.max(axis=1)
    tied = (size == top[cl_g]) & gs["is_tied"][cl_g]
    tied_at = np.flatnonzero(tied)
    tied_pos = (tied_at - case_start[cl_case[tied_at]]).tolist()
    tied_from = np.searchsorted(cl_case[tied_at], np.arange(nc + 1)).tolist()
    cs, ce = case_start.tolist(), (case_start + n_cl).tolist()
    maj = an.maj_rate
    with np.errstate(invalid="ignore"):
        # None for a case without samples, else whether its majority rate reaches one half
        majority = np.where(an.n_samples > 0, maj >= 0.5, False).astype(object)
    majority[an.n_samples == 0] = None
    # every per-case value as one list, walked together (no index lookups per case)
    out = [{
        "id": c["case_id"], "metadata": c.get("metadata") or {},
        "accuracy": acc, "consistency": cons, "n_clusters": b - a,
        "semantic_entropy": se,
        "majority_correct": mc,
        "clusters": flat[a:b],
        # extras
        "position": c.get("position"), "n_samples": ns, "n_valid": nv,
        "n_errors": ne, "is_tied": tc, "tied_clusters": tied_pos[t0:t1],
        "semantic_entropy_normalized": hn, "miller_madow": mm,
        "majority_correct_rate": mrate,
    } for c, acc, cons, se, hn, mm, mrate, ns, nv, ne, tc, mc, a, b, t0, t1 in zip(
        cases, json_floats(an.accuracy), json_floats(an.consistency), json_floats(an.se),
        json_floats(an.semantic_entropy_normalized), json_floats(an.mm), json_floats(maj),
        an.n_samples.tolist(), np.rint(an.n_valid).astype(np.int64).tolist(),
        np.rint(an.n_errors).astype(np.int64).tolist(), an.is_tied.tolist(), majority.tolist(), cs, ce,
        tied_from[:-1], tied_from[1:])]
    return out
