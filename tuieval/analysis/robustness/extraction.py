"""Extraction sensitivity: how much of a score is the answer extractor rather than the model.

Input: for every sample, each extractor's verdict (correct or not) and what it extracted.
Error samples are wrong under every extractor and never count as a disagreement.

- Per extractor: accuracy with its interval (case as the unit: the mean over cases of the
  share of a case's samples that extractor marks correct) and how many samples it read
  anything from.
- Pairs: each pair of extractors compared on the same cases with the paired test tuieval
  uses for runs (`analysis.compare.paired_test`: exact McNemar with one sample per case,
  sign-flip permutation on case means otherwise; paired bootstrap interval of the
  difference), Benjamini–Hochberg across the pairs.
- Disagreement: the share of samples on which the extractors do not all agree, overall
  (Wilson interval) and per slice; every such sample listed with what each one extracted.
- `points_depending`: best − worst extractor accuracy, in points of the score, and the
  share of cases whose majority verdict depends on the extractor.
- An extractor that read nothing from any response does not apply to these answers (a
  choice-letter reader on numbers): it is listed with `applicable: false` and left out of
  the pairs, the disagreement and the spread.

See docs/statistics.md §2 (extraction).
"""

from __future__ import annotations

from itertools import combinations, repeat
from operator import is_not, itemgetter
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.compare import paired_test
from tuieval.analysis.stats import benjamini_hochberg, mean_ci_items, wilson


def extraction_sensitivity(verdicts: np.ndarray, extracted: Sequence[Sequence[str | None]], names: Sequence[str],
                           samples: Sequence[Mapping[str, Any]], *,
                           slices: Mapping[tuple[str, Any], set] | None = None, alpha: float = 0.05,
                           B: int = 10_000, rng_seed: int = 0, columns: bool = False) -> dict[str, Any]:
    """The `robustness.extractors` section.

    `verdicts[i, e]` is extractor e's verdict on sample i (`samples[i]` gives case_id,
    template, sample_index and error); `extracted[i][e]` what it read (with `columns`,
    `extracted[e][i]`: one column per extractor, which is how a large run is built); `slices`
    maps (key, value) → case ids."""
    v = np.asarray(verdicts, dtype=bool)
    n_samples, n_ext = v.shape
    # `s.get("error") is not None` per sample, the loop in C (a hundred thousand samples on a large run)
    errors = np.fromiter(map(is_not, map(dict.get, samples, repeat("error")), repeat(None)), dtype=bool,
                         count=n_samples) if all(s.__class__ is dict for s in samples) else \
        np.fromiter((s.get("error") is not None for s in samples), dtype=bool, count=n_samples)
    v = v & ~errors[:, None]
    case_of = [s["case_id"] for s in samples]
    index: dict[Any, int] = {}
    codes = np.fromiter((index.setdefault(c, len(index)) for c in case_of), dtype=np.int64, count=n_samples)
    n_cases = len(index)
    per_case_n = np.bincount(codes, minlength=n_cases).astype(float)
    case_acc = np.stack([np.bincount(codes, weights=v[:, e], minlength=n_cases) / np.maximum(per_case_n, 1)
                         for e in range(n_ext)], axis=1) if n_ext else np.zeros((n_cases, 0))
    one_sample = bool(n_cases) and bool((per_case_n == 1).all())
    out: dict[str, Any] = {"n_samples": n_samples, "n_cases": n_cases, "extractors": [], "pairs": [],
                           "test": "mcnemar" if one_sample else "sign_flip"}
    applicable = []
    # what each extractor read: one pass per column
    cols = list(extracted) if columns else [list(col) for col in zip(*extracted)] if n_samples else [[]] * n_ext
    if errors.any():
        n_read = [int((np.fromiter((x is not None for x in col), dtype=bool, count=n_samples) & ~errors).sum())
                  for col in cols]
    else:
        # no error sample to leave out: what was read is what is not None, counted in C
        n_read = [len(col) - (col if col.__class__ is list else list(col)).count(None) for col in cols]
    for e, name in enumerate(names):
        ci = mean_ci_items(case_acc[:, e], alpha) if n_cases else {"mean": None, "ci": None}
        read = int(n_read[e])
        if read:
            applicable.append(e)
        out["extractors"].append({"name": str(name), "n_cases": n_cases, "accuracy": ci["mean"],
                                  "accuracy_ci": list(ci["ci"]) if ci["ci"] else None, "n_extracted": read,
                                  "applicable": bool(read)})
    # an extractor that read nothing from any response does not apply to this answer type (a
    # choice reader on numeric answers): listed, but left out of the pairs and the spread
    out["n_applicable"] = len(applicable)
    v_all = v
    v = v[:, applicable]
    case_acc = case_acc[:, applicable]
    names_all, names = names, [names[e] for e in applicable]
    n_ext = len(applicable)
    pairs = []
    for a, b in combinations(range(n_ext), 2):
        r = paired_test(case_acc[:, a], case_acc[:, b], test=out["test"], alpha=alpha, B=B, rng_seed=rng_seed,
                        tag=f"extractors:{names[a]}:{names[b]}")
        pairs.append({"a": str(names[a]), "b": str(names[b]), "n_cases": n_cases, "accuracy_a": r["baseline_accuracy"],
                      "accuracy_b": r["candidate_accuracy"], "delta": r["delta"], "delta_ci": r["delta_ci"],
                      "a_only": r["b"], "b_only": r["c"], "p_value": r["p_value"]})
    if pairs:
        for p, q in zip(pairs, benjamini_hochberg([p["p_value"] for p in pairs]).tolist()):
            p["q_value"] = q
            p["significant"] = q < alpha and (p["delta_ci"][0] > 0 or p["delta_ci"][1] < 0)
    out["pairs"] = pairs
    disagree = (v.any(axis=1) & ~v.all(axis=1)) if n_ext >= 2 else np.zeros(n_samples, dtype=bool)
    k = int(disagree.sum())
    out["disagreement_rate"] = {"value": k / n_samples if n_samples else None,
                                "ci": list(wilson(k, n_samples, alpha)) if n_samples else None,
                                "n_samples": n_samples, "n_disagree": k}
    used = [x for x in out["extractors"] if x["applicable"] and x["accuracy"] is not None]
    accs = [x["accuracy"] for x in used]
    majority = case_acc >= 0.5
    depends = (majority.any(axis=1) & ~majority.all(axis=1)) if n_ext >= 2 else np.zeros(n_cases, dtype=bool)
    out["points_depending"] = {"spread_points": 100.0 * (max(accs) - min(accs)) if len(accs) >= 2 else None,
                               "best": used[int(np.argmax(accs))]["name"] if len(accs) >= 2 else None,
                               "worst": used[int(np.argmin(accs))]["name"] if len(accs) >= 2 else None,
                               "share_of_cases": float(depends.mean()) if n_cases else None,
                               "n_cases_depending": int(depends.sum())}
    by_slice = []
    case_list = list(index)            # case of each code
    for (key, value), members in (slices or {}).items():
        # membership decided once per case, then spread to the samples through their case codes
        in_slice = np.fromiter((c in members for c in case_list), dtype=bool, count=n_cases)
        sel = in_slice[codes] if n_samples else np.zeros(0, dtype=bool)
        m = int(sel.sum())
        if m == 0:
            continue
        kk = int((disagree & sel).sum())
        by_slice.append({"key": key, "value": value, "n_samples": m, "disagreement_rate": kk / m,
                         "ci": list(wilson(kk, m, alpha))})
    by_slice.sort(key=lambda s: -s["disagreement_rate"])
    out["by_slice"] = by_slice
    listed = np.flatnonzero(disagree).tolist()
    keys = [str(n) for n in names_all]
    # the listed samples' readings, gathered column by column, then one row per sample
    rows = list(zip(*[_pick(col, listed) for col in cols])) if cols else [()] * len(listed)
    # one sample looked up once per entry (a large run lists tens of thousands)
    out["disagreements"] = [
        {"case_id": s["case_id"], "template": s.get("template"), "sample_index": s.get("sample_index"),
         "extracted": dict(zip(keys, read)), "correct": dict(zip(keys, ok))}
        for s, read, ok in zip(map(samples.__getitem__, listed), rows, v_all[listed].tolist())
    ]
    return out


def _pick(values: Sequence[Any], index: list[int]) -> Sequence[Any]:
    """values[i] for each i of index (itemgetter does the loop in C)."""
    return itemgetter(*index)(values) if len(index) > 1 else [values[i] for i in index]
