"""Paired comparison of two runs on the same cases: the `tuieval.compare/1` structure.

Rules (README "compare", docs/statistics.md §4.3, §5):

- **Pairing.** Cases are paired on `case_id`.  A case is paired when both runs hold at least
  one sample for it; every other case (in one run only, or without samples in one run, e.g.
  a partial run) is left out and counted in `unpaired_cases` / `unpaired`.  Runs of
  different suites cannot be paired (ValueError), nor can runs with no case in common.
- **Unit.** The case.  Its score in a run is the mean correctness over all its samples
  (every template), errors counting as wrong — the same per-case accuracy as the report.
  `delta = candidate − baseline`; per case `d_i = s_cand,i − s_base,i`.
- **Test.** When every paired case has exactly one sample in both runs the scores are 0/1
  and the exact McNemar test on the discordant counts is used (§5.1; `p_mid` is the mid-p
  variant, shown but not used for decisions).  Otherwise the two-sided sign-flip
  permutation test on the per-case differences (§5.2), `B` draws.  The same test is used
  for the overall line and every slice (`test`).
- **Interval.** Paired percentile bootstrap of `mean(d)` (§5.2): one resample of cases is
  applied to both runs, `B` replicates, `[α/2, 1−α/2]` quantiles.
- **Slices.** Every metadata `key=value` and the derived features the report uses
  (`input_tokens`, `script`, `has_digits`, `non_ascii_name`; levels from
  `slices.column_levels`, so numeric columns are binned), computed over the paired cases.
  A level holding every paired case is the overall line and is not repeated as a slice;
  levels with the same paired cases are one slice under the first name (metadata before
  derived) with the others in `aliases` (`slices.distinct_levels`), tested once.  A slice
  is *tested* when it holds at least `n_min = max(20, ⌈1% of paired cases⌉)` paired cases
  (`slices.min_support`, the rule of docs/statistics.md §8 step 2); smaller slices are listed in
  `untested_slices` with their descriptive accuracies, the reason and the minimum, and
  count as p = 1 in the multiple-testing family (§5.3), so
  `m = len(slices) + len(untested_slices)`.  A metadata column too varied to list
  (identifier-like) still has its values held by at least n_min paired cases tested; its
  smaller values are summarised in `skipped_columns`.
- **Power.** Every tested slice and the overall line carry `mde`: the smallest difference
  in accuracy the test would detect with 80% power (`power.paired_mde`, from the
  observed second moment of the per-case differences), at alpha for the overall line
  and at alpha / m for slices (BH with one real change among m tests rejects it when
  p ≤ alpha / m); None when no difference up to 100 points could be detected.
- **Multiplicity.** Benjamini–Hochberg q-values over the `m` slice tests (the overall line
  is a headline test outside the family).  `significant = q < alpha and the CI excludes 0`.
  `regressions`: significant slices with delta < 0, worst (most negative delta) first;
  `improvements`: significant with delta > 0, largest first.
- **Determinism.** Every test draws from its own generator seeded by `(rng_seed, a CRC of
  the slice's key=value)`, so a number does not depend on which other slices exist.
  Paired cases are processed in sorted `case_id` order and the resampling is oriented by
  the first non-zero difference, so swapping baseline and candidate negates `delta` and
  the CI exactly and leaves p and q unchanged.

Speed.  Per-case differences take few distinct values (with K samples per case at most
2K+1), so both resampling procedures are drawn from their exact sampling distributions
over the distinct values instead of over individual cases: the bootstrap mean as a
multinomial over the distinct differences (the same distribution as resampling case
indices), the sign-flip mean as independent binomial(m_v, ½) sign counts per distinct
|d| (the same distribution as flipping every case's sign).  Cost O(B · distinct values),
in bounded chunks, whatever the number of cases.  With more than `_MAX_LEVELS` distinct
values the index-based `stats.paired_bootstrap` / `stats.sign_flip_test` are used.
"""

from __future__ import annotations

import json
import zlib
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.power import POWER, paired_mde
from tuieval.analysis.report import case_slice_columns
from tuieval.analysis.slices import Level, column_levels, distinct_levels, frequent_levels, min_support
from tuieval.analysis.stats import benjamini_hochberg, json_float, mcnemar_exact, paired_bootstrap, sign_flip_test
from tuieval.sample_rules import is_correct

SCHEMA = "tuieval.compare/1"
RUN_FIELDS = ("id", "suite", "model", "simulated", "samples_per_case", "status", "temperature", "started_at")

RunRows = tuple[Mapping[str, Any], Sequence[Mapping[str, Any]], Sequence[Mapping[str, Any]]]

_MAX_LEVELS = 256            # distinct difference values handled by the exact-distribution path
_CHUNK_ELEMENTS = 1_000_000  # bound on a resampling chunk (replicates × distinct values)


# ---------------------------------------------------------------------------------------------
# Tests and intervals
# ---------------------------------------------------------------------------------------------

def _rng(seed: int, tag: str) -> np.random.Generator:
    """A generator for one test: seeded by (rng_seed, CRC32 of its tag), stable across processes."""
    return np.random.default_rng([int(seed), zlib.crc32(tag.encode("utf-8"))])


def paired_bootstrap_ci(d: np.ndarray, B: int, rng: np.random.Generator, alpha: float) -> tuple[float, float]:
    """Percentile CI of mean(d) from a paired bootstrap of cases (docs/statistics.md §5.2).

    Oriented by the sign of the first non-zero d (so the result for −d is exactly the
    negated, reversed interval), then drawn from the exact resampling distribution over
    the distinct values of d (multinomial counts), or index-resampled by
    `stats.paired_bootstrap` when d has more than `_MAX_LEVELS` distinct values.
    All-zero d gives (0, 0).
    """
    d = np.asarray(d, dtype=float)
    n = d.size
    nz = np.flatnonzero(d)
    if n == 0 or nz.size == 0:
        return (0.0, 0.0)
    s = 1.0 if d[nz[0]] > 0 else -1.0
    e = s * d
    vals, counts = np.unique(e, return_counts=True)
    if vals.size <= _MAX_LEVELS:
        pvals = counts / n
        chunk = max(1, _CHUNK_ELEMENTS // vals.size)
        reps = np.empty(B)
        done = 0
        while done < B:
            b = min(chunk, B - done)
            reps[done: done + b] = rng.multinomial(n, pvals, size=b) @ vals / n
            done += b
        lo, hi = (float(x) for x in np.quantile(reps, [alpha / 2.0, 1.0 - alpha / 2.0]))
    else:
        # mean(a[idx]) − mean(b[idx]) with one index set, a − b = e
        lo, hi = paired_bootstrap(e, np.zeros(n), B=B, rng=rng, alpha=alpha)["ci"]
    return (lo, hi) if s > 0 else (-hi, -lo)


def sign_flip_p(d: np.ndarray, B: int, rng: np.random.Generator) -> float:
    """Two-sided sign-flip permutation p-value for mean(d) = 0 (docs/statistics.md §5.2).

    p = (1 + #{|mean(s·d)| ≥ |mean(d)|}) / (B + 1).  Drawn as independent binomial sign
    counts per distinct |d| (exactly the distribution of flipping each case's sign), or by
    `stats.sign_flip_test` when |d| has more than `_MAX_LEVELS` distinct values.  Depends
    on |d| only, so swapping the runs leaves it unchanged.
    """
    d = np.asarray(d, dtype=float)
    a = np.abs(d)
    keep = a > 0
    if not keep.any():
        return 1.0
    vals, inv = np.unique(a[keep], return_inverse=True)
    if vals.size > _MAX_LEVELS:
        return sign_flip_test(d, B=B, rng=rng)
    m = np.bincount(inv, minlength=vals.size)
    pos = np.bincount(inv, weights=(d[keep] > 0), minlength=vals.size)
    obs = abs(float((2.0 * pos - m) @ vals))  # the identity flip, computed like the draws
    tol = 1e-9 * max(1.0, obs)
    hits = 0
    chunk = max(1, _CHUNK_ELEMENTS // vals.size)
    done = 0
    while done < B:
        b = min(chunk, B - done)
        x = rng.binomial(m, 0.5, size=(b, vals.size))
        hits += int((np.abs((2.0 * x - m) @ vals) >= obs - tol).sum())
        done += b
    return (1.0 + hits) / (B + 1.0)


def paired_test(base: np.ndarray, cand: np.ndarray, *, test: str, alpha: float, B: int, rng_seed: int,
                tag: str) -> dict[str, Any]:
    """Accuracies, delta, bootstrap CI and p-value for one set of paired per-case scores."""
    n = int(base.size)
    # k/n − k'/n' in floating point splits equal differences (0.6 − 0.4 ≠ 0.2); rounding
    # to 12 decimals merges them (a change far below any reported digit)
    d = np.round(cand - base, 12)
    b_acc = float(base.mean())
    c_acc = float(cand.mean())
    out: dict[str, Any] = {
        "n_cases": n, "baseline_accuracy": b_acc, "candidate_accuracy": c_acc, "delta": c_acc - b_acc,
        # discordance: b = cases where the baseline scored higher, c = where the candidate did
        "b": int((d < 0).sum()), "c": int((d > 0).sum()),
    }
    lo, hi = paired_bootstrap_ci(d, B, _rng(rng_seed, "bootstrap:" + tag), alpha)
    out["delta_ci"] = [lo, hi]
    if test == "mcnemar":
        p, p_mid = mcnemar_exact(out["b"], out["c"])
        out["p_value"] = p
        out["p_mid"] = p_mid
    else:
        out["p_value"] = sign_flip_p(d, B, _rng(rng_seed, "sign_flip:" + tag))
    return out


def _finite(e: dict[str, Any]) -> None:
    """JSON-safe numbers in place: NaN / inf → None, −0.0 → 0.0."""
    for k in ("baseline_accuracy", "candidate_accuracy", "delta", "p_value", "q_value", "p_mid", "mde"):
        if k in e:
            e[k] = json_float(e[k])
    if e.get("delta_ci") is not None:
        e["delta_ci"] = [json_float(x) for x in e["delta_ci"]]


def _excludes_zero(ci: Sequence[float]) -> bool:
    return ci[0] > 0.0 or ci[1] < 0.0


# ---------------------------------------------------------------------------------------------
# Per-case scores and pairing
# ---------------------------------------------------------------------------------------------

def case_scores(samples: Sequence[Mapping[str, Any]]) -> dict[Any, tuple[int, int]]:
    """{case_id: (n_samples, n_correct)}; a sample with an error never counts as correct."""
    ids = [s["case_id"] for s in samples]
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in ids), dtype=np.int64, count=len(ids))
    ok = np.fromiter((is_correct(s) for s in samples), dtype=bool,
                     count=len(samples))
    n = np.bincount(codes, minlength=len(index))
    k = np.bincount(codes, weights=ok, minlength=len(index))
    return {cid: (int(n[i]), int(round(k[i]))) for cid, i in index.items()}


def _run_block(run: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: run.get(k) for k in RUN_FIELDS}
    out["simulated"] = bool(run.get("simulated"))
    return out


def _sort_key(cid: Any) -> tuple[str, str]:
    return (type(cid).__name__, str(cid))


# ---------------------------------------------------------------------------------------------
# The comparison
# ---------------------------------------------------------------------------------------------

def compare_runs(baseline: RunRows, candidate: RunRows, *, alpha: float = 0.05, B: int = 10_000,
                 rng_seed: int = 0, n_min: int | None = None) -> dict[str, Any]:
    """The tuieval.compare/1 dictionary (JSON-serialisable) for baseline vs candidate.

    `baseline` and `candidate` are `(run, cases, samples)` as `reporting.load_rows` returns
    them.  `n_min` overrides the minimum number of paired cases for a slice to be tested
    (default `slices.min_support(n_paired)` = max(20, ⌈1%⌉)).  Raises ValueError when the
    runs belong to different suites or share no scored case.  See the module docstring
    for the procedure; extra fields beyond the contract:

    top level: n_cases (paired), unpaired_cases, unpaired {only_in_baseline,
    only_in_candidate, no_samples}, test (mcnemar | sign_flip), ci_method, alpha, B,
    rng_seed, n_min, m (BH family size), correction, power (0.8) and mde_alpha {overall,
    slices} (the level each mde is computed at), improvements, untested_slices (with
    n_min and a note saying why), skipped_columns, warnings; overall and slices: mde
    (smallest detectable |delta|, None when nothing could be), n_cases, b, c (cases where the
    baseline / the candidate scored higher), p_mid (McNemar), significant (overall: p <
    alpha and CI excludes 0, a headline test outside the BH family), slices: source
    (metadata | derived), aliases (other key=value names with the same paired cases),
    bin (binned numeric columns).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    if B < 1:
        raise ValueError(f"B must be at least 1, got {B}")
    run_a, cases_a, samples_a = baseline
    run_b, cases_b, samples_b = candidate
    if run_a.get("suite") != run_b.get("suite"):
        raise ValueError(f"runs are of different suites ({run_a.get('suite')!r} vs {run_b.get('suite')!r}): "
                         "a paired comparison needs the same cases")

    sc_a = case_scores(samples_a)
    sc_b = case_scores(samples_b)
    rows_a = {c["case_id"]: c for c in cases_a}
    rows_b = {c["case_id"]: c for c in cases_b}
    known_a = set(rows_a) | set(sc_a)
    known_b = set(rows_b) | set(sc_b)
    paired_ids = sorted((set(sc_a) & set(sc_b)), key=_sort_key)
    unpaired = {
        "only_in_baseline": len(known_a - known_b),
        "only_in_candidate": len(known_b - known_a),
        "no_samples": len((known_a & known_b) - set(paired_ids)),
    }
    n_unpaired = sum(unpaired.values())
    if not paired_ids:
        raise ValueError(f"runs {run_a.get('id')!r} and {run_b.get('id')!r} share no case with samples in both")

    n = len(paired_ids)
    na = np.array([sc_a[c][0] for c in paired_ids], dtype=float)
    ka = np.array([sc_a[c][1] for c in paired_ids], dtype=float)
    nb = np.array([sc_b[c][0] for c in paired_ids], dtype=float)
    kb = np.array([sc_b[c][1] for c in paired_ids], dtype=float)
    base = ka / na
    cand = kb / nb
    test = "mcnemar" if bool(np.all(na == 1) and np.all(nb == 1)) else "sign_flip"

    overall = paired_test(base, cand, test=test, alpha=alpha, B=B, rng_seed=rng_seed, tag="overall")
    overall["significant"] = bool(overall["p_value"] < alpha and _excludes_zero(overall["delta_ci"]))
    # the finest step of a per-case score (1/K): what the smallest possible change looks like
    steps = int(max(na.max(), nb.max()))
    d_all = np.round(cand - base, 12)
    overall["mde"] = paired_mde(n, float(np.mean(d_all * d_all)), alpha, samples_per_case=steps)

    # -- slices over the paired cases ------------------------------------------------------------
    case_rows = []
    n_text_changed = 0
    for cid in paired_ids:
        ra, rb = rows_a.get(cid), rows_b.get(cid)
        row = ra or rb or {}
        if ra is not None and rb is not None and (ra.get("input_text") != rb.get("input_text")
                                                   or ra.get("metadata") != rb.get("metadata")):
            n_text_changed += 1
        case_rows.append({"case_id": cid, "metadata": row.get("metadata") or {},
                          "input_text": row.get("input_text") or ""})
    cols, source = case_slice_columns(case_rows)
    nmin = int(n_min) if n_min is not None else min_support(n)

    tested: list[dict[str, Any]] = []
    untested: list[dict[str, Any]] = []
    skipped_columns: dict[str, str] = {}
    tested_masks: list[np.ndarray] = []
    by_column: dict[str, list[Level]] = {}
    for key, vals in cols.items():
        levels, why = column_levels(key, vals)
        if why:
            # a suite's own metadata slice is tested whenever it has enough paired cases,
            # however many small values the column also has
            frequent = frequent_levels(key, vals, nmin) if source.get(key) == "metadata" else []
            if frequent:
                by_column[key] = frequent
                why += (f"; its {len(frequent)} value(s) held by at least n_min = {nmin} paired cases are tested, "
                        "the smaller ones are not listed")
            skipped_columns[key] = why
            continue
        by_column[key] = levels
    # a level holding every paired case is the overall comparison; identical levels are one slice
    by_column, merged_away = distinct_levels(by_column, n)
    for key, why in merged_away.items():
        skipped_columns.setdefault(key, why)
    for key, levels in by_column.items():
        for lv in levels:
            mask = lv.mask
            k = int(mask.sum())
            entry: dict[str, Any] = {"key": key, "value": lv.value, "aliases": list(lv.aliases)}
            tag = "slice:" + json.dumps([key, lv.value], ensure_ascii=False, sort_keys=True, default=str)
            if k >= nmin:
                entry.update(paired_test(base[mask], cand[mask], test=test, alpha=alpha, B=B,
                                         rng_seed=rng_seed, tag=tag))
                tested.append(entry)
                tested_masks.append(mask)
            else:
                ba, ca = float(base[mask].mean()), float(cand[mask].mean())
                entry.update(n_cases=k, baseline_accuracy=ba, candidate_accuracy=ca, delta=ca - ba,
                             delta_ci=None, p_value=None, q_value=None, significant=False, mde=None,
                             n_min=nmin, note=f"not tested: {k} paired cases < n_min = {nmin}")
                untested.append(entry)
            entry["source"] = source.get(key, "metadata")
            if lv.bin is not None:
                entry["bin"] = list(lv.bin)

    # BH over every slice test performed, untested slices as p = 1 (docs/statistics.md §5.3)
    m = len(tested) + len(untested)
    q = benjamini_hochberg([e["p_value"] for e in tested] + [1.0] * len(untested)) if m else np.zeros(0)
    mde_alpha = alpha / max(1, m)
    for e, qv, mask in zip(tested, q[: len(tested)].tolist(), tested_masks):
        e["q_value"] = float(qv)
        e["significant"] = bool(qv < alpha and _excludes_zero(e["delta_ci"]))
        d = d_all[mask]
        e["mde"] = paired_mde(int(mask.sum()), float(np.mean(d * d)), mde_alpha, samples_per_case=steps)

    for e in tested + untested:
        _finite(e)
    _finite(overall)

    regressions = sorted((e for e in tested if e["significant"] and e["delta"] < 0),
                         key=lambda e: (e["delta"], e["q_value"], str(e["key"]), str(e["value"])))
    improvements = sorted((e for e in tested if e["significant"] and e["delta"] > 0),
                          key=lambda e: (-e["delta"], e["q_value"], str(e["key"]), str(e["value"])))

    warnings: list[str] = []
    if n_unpaired:
        warnings.append(f"{n_unpaired} case(s) not scored in both runs were left out "
                        f"({unpaired['only_in_baseline']} only in the baseline, {unpaired['only_in_candidate']} "
                        f"only in the candidate, {unpaired['no_samples']} without samples in one run)")
    for label, run in (("baseline", run_a), ("candidate", run_b)):
        status = run.get("status")
        if status is not None and status != "complete":
            warnings.append(f"the {label} run is {status}: only its finished cases are compared")
    if run_a.get("samples_per_case") != run_b.get("samples_per_case"):
        warnings.append(f"samples per case differ (baseline {run_a.get('samples_per_case')}, candidate "
                        f"{run_b.get('samples_per_case')}): per-case scores carry different sampling noise")
    if n_text_changed:
        warnings.append(f"{n_text_changed} paired case(s) have different input text or metadata in the two runs "
                        "(suite edited between runs?); slices use the baseline's")
    if untested:
        warnings.append(f"{len(untested)} slice(s) with fewer than {nmin} paired cases were not tested "
                        "(counted as p = 1 in the Benjamini–Hochberg family)")
    if n < nmin:
        warnings.append(f"only {n} paired cases: too few for slice tests")

    return {
        "schema": SCHEMA,
        "baseline": _run_block(run_a),
        "candidate": _run_block(run_b),
        "overall": overall,
        "slices": tested,
        "regressions": [dict(e) for e in regressions],
        # extras
        "improvements": [dict(e) for e in improvements],
        "untested_slices": untested,
        "n_cases": n,
        "unpaired_cases": n_unpaired,
        "unpaired": unpaired,
        "test": test,
        "ci_method": "paired percentile bootstrap",
        "alpha": alpha,
        "B": B,
        "rng_seed": rng_seed,
        "n_min": nmin,
        "m": m,
        "correction": "bh",
        "power": POWER,
        "mde_alpha": {"overall": alpha, "slices": mde_alpha},
        "skipped_columns": skipped_columns,
        "warnings": warnings,
    }
