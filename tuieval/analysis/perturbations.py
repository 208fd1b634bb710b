"""What a perturbation run says: per perturbation, severity and slice, accuracy on the original
cases vs their perturbed copies, paired.

The unit is the original case (docs/statistics.md §0): a perturbed copy is paired with its original through
the `original_case` link its metadata carries (tuieval.perturb), and each is scored by its mean
correctness over all its samples (and templates). Per (perturbation at a severity, slice):

- accuracy original and perturbed with intervals (`mean_ci_items`: Wilson for 0/1 scores);
- the paired difference with a paired-bootstrap interval;
- the flip rates: original correct → perturbed wrong, and back (a case is "correct" when more
  than half its samples are; with one sample, simply its verdict);
- the paired test: exact McNemar on the flips with one sample per case, a sign-flip test on the
  per-case differences otherwise (docs/statistics.md §5.1–5.2), and Benjamini–Hochberg q-values across the
  whole perturbation × slice table (§5.3);

- the answer-change rate: the share of pairs whose perturbed answers left the original's majority
  answer, judged by the run's clustering tier (did the meaning change), beside the same rate on
  the exact strings (tuieval.analysis.robustness.answer_change), each with a Wilson interval;

and per original case the worst case over its perturbations (correct only if correct on the
original and on every copy; HELM's robustness figure), overall and per perturbation, and a
severity curve per perturbation family. Numpy and the standard library only, no I/O: a remote
clustering tier's judge / embed callables come from the caller.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.robustness.answer_change import PairChange, answer_changes
from tuieval.analysis.stats import (benjamini_hochberg, mcnemar_exact, mean_ci_items, paired_bootstrap, sign_flip_test,
                                    wilson)
from tuieval.sample_rules import is_correct

#: the metadata a perturbed copy carries (written by tuieval.perturb.apply)
LINK_KEY = "original_case"
PERTURBATION_KEY = "perturbation"
SEVERITY_KEY = "severity"
_LINK_KEYS = {LINK_KEY, PERTURBATION_KEY, SEVERITY_KEY}
MAX_SLICE_LEVELS = 20   # metadata with more values than this is not a slice here (ids, free text)


def has_perturbed_copies(cases: Sequence[Mapping[str, Any]]) -> bool:
    """Whether any case is a perturbed copy (carries the link to its original)."""
    return any(LINK_KEY in (c.get("metadata") or {}) for c in cases)


def _label(name: str, severity: Any) -> str:
    if severity is None:
        return name
    text = repr(float(severity))
    return f"{name}:{text[:-2] if text.endswith('.0') else text}"


def _case_means(samples: Sequence[Mapping[str, Any]]) -> tuple[dict[Any, float], dict[Any, int]]:
    n: dict[Any, int] = defaultdict(int)
    k: dict[Any, int] = defaultdict(int)
    for s in samples:
        n[s["case_id"]] += 1
        k[s["case_id"]] += is_correct(s)
    return {c: k[c] / n[c] for c in n}, dict(n)


def _slices(originals: Sequence[Mapping[str, Any]]) -> list[tuple[str, Any, set]]:
    """("all", None, every id) and each (metadata key, value, ids) of the original cases."""
    out: list[tuple[str, Any, set]] = [("all", None, {c["case_id"] for c in originals})]
    values: dict[str, dict[Any, set]] = defaultdict(lambda: defaultdict(set))
    for c in originals:
        for key, value in (c.get("metadata") or {}).items():
            if key in _LINK_KEYS or isinstance(value, (dict, list)):
                continue
            values[key][value].add(c["case_id"])
    for key, levels in values.items():
        if 2 <= len(levels) <= MAX_SLICE_LEVELS:
            for value in sorted(levels, key=lambda v: (v is None, str(v))):
                out.append((key, value, levels[value]))
    return out


def _pair_stats(orig: np.ndarray, pert: np.ndarray, binary: bool, *, alpha: float, B: int,
                rng: np.random.Generator) -> dict[str, Any]:
    n = int(orig.size)
    a, p = mean_ci_items(orig, alpha), mean_ci_items(pert, alpha)
    boot = paired_bootstrap(pert, orig, B=min(B, 2000), rng=rng, alpha=alpha)
    ok_o, ok_p = orig > 0.5, pert > 0.5
    broke = int(np.sum(ok_o & ~ok_p))
    fixed = int(np.sum(~ok_o & ok_p))
    if binary:
        test, p_value = "mcnemar", mcnemar_exact(broke, fixed)[0]
    else:
        test, p_value = "sign-flip", float(sign_flip_test(pert - orig, B=B, rng=rng))
    flip = mean_ci_items((ok_o & ~ok_p).astype(float), alpha)
    back = mean_ci_items((~ok_o & ok_p).astype(float), alpha)
    return {
        "n_pairs": n,
        "accuracy_original": a["mean"], "accuracy_original_ci": a["ci"],
        "accuracy_perturbed": p["mean"], "accuracy_perturbed_ci": p["ci"],
        "delta": boot["delta"], "delta_ci": list(boot["ci"]),
        "flips_correct_to_wrong": broke, "flips_wrong_to_correct": fixed,
        "flip_rate": flip["mean"], "flip_rate_ci": flip["ci"],
        "flip_back_rate": back["mean"], "flip_back_rate_ci": back["ci"],
        "test": test, "p_value": p_value,
    }


def _change_stats(changes: Sequence[PairChange], alpha: float) -> dict[str, Any]:
    """Answer-change and string-change rates over the pairs that had answers to compare (Wilson)."""
    compared = [c for c in changes if c.compared]
    n = len(compared)
    k = sum(c.changed for c in compared)
    ks = sum(c.string_changed for c in compared)
    return {"n_answer_compared": n, "answer_changes": k, "answer_change_rate": k / n if n else None,
            "answer_change_rate_ci": list(wilson(k, n, alpha)) if n else None,
            "string_changes": ks, "string_change_rate": ks / n if n else None,
            "string_change_rate_ci": list(wilson(ks, n, alpha)) if n else None}


def perturbation_analysis(cases: Sequence[Mapping[str, Any]], samples: Sequence[Mapping[str, Any]], *,
                          alpha: float = 0.05, B: int = 10_000, seed: int = 0, method: str = "canonical",
                          threshold: float | None = None, judge: Any = None, embed: Any = None,
                          tier: Mapping[str, Any] | None = None) -> dict[str, Any] | None:
    """The perturbation section of a run's report; None when the run has no perturbed copies.

    `cases` are the run's case rows (case_id, metadata, input_text), `samples` its sample rows
    (case_id, template, sample_index, correct, error, answer). Copies whose original has no
    samples (a partial run) are left out of the pairs and counted under `n_unpaired`.
    `method`, `threshold`, `judge`, `embed` and `tier` are the run's clustering tier and its
    settings, used for the answer-change rate.
    """
    means, counts = _case_means(samples)
    originals = [c for c in cases if LINK_KEY not in (c.get("metadata") or {})]
    copies = [c for c in cases if LINK_KEY in (c.get("metadata") or {})]
    if not copies:
        return None
    binary = bool(counts) and max(counts.values()) == 1
    groups: dict[tuple[str, Any], list[tuple[Any, Any]]] = defaultdict(list)   # (name, severity) → (orig, copy)
    unpaired = 0
    for c in copies:
        meta = c["metadata"]
        orig_id = meta[LINK_KEY]
        if orig_id not in means or c["case_id"] not in means:
            unpaired += 1
            continue
        groups[(meta.get(PERTURBATION_KEY), meta.get(SEVERITY_KEY))].append((orig_id, c["case_id"]))
    slices = _slices([c for c in originals if c["case_id"] in means])
    all_pairs = [pair for g in groups.values() for pair in g]
    questions = {c["case_id"]: c.get("input_text") or "" for c in originals}
    changes, change_counters = answer_changes(all_pairs, samples, method, threshold=threshold, judge=judge,
                                              embed=embed, questions=questions, **dict(tier or {}))
    rng = np.random.default_rng(seed)
    rows: list[dict[str, Any]] = []
    order = sorted(groups, key=lambda g: (str(g[0]), -1.0 if g[1] is None else float(g[1])))
    for name, severity in order:
        pairs = groups[(name, severity)]
        for key, value, members in slices:
            chosen = [(o, c) for o, c in pairs if o in members]
            if not chosen:
                continue
            orig = np.array([means[o] for o, _ in chosen])
            pert = np.array([means[c] for _, c in chosen])
            row = {"perturbation": name, "severity": severity, "label": _label(name, severity),
                   "slice": "all" if key == "all" else f"{key}={value}", "slice_key": key,
                   "slice_value": value}
            row.update(_pair_stats(orig, pert, binary, alpha=alpha, B=B, rng=rng))
            row.update(_change_stats([changes[c] for _, c in chosen], alpha))
            rows.append(row)
    q = benjamini_hochberg([r["p_value"] for r in rows]) if rows else []
    for r, qv in zip(rows, q):
        r["q_value"] = float(qv)
        r["significant"] = bool(qv <= alpha)
    return {
        "method": {"unit": "original case", "score": "mean correctness over its samples",
                   "test": "mcnemar" if binary else "sign-flip", "multiple_testing": "benjamini-hochberg",
                   "alpha": alpha,
                   "answer_change": {"clustering": method, "unit": "original case",
                                     "changed": "more than half of the copy's answers outside the original's "
                                                "majority cluster",
                                     "counters": dict(change_counters)}},
        "n_originals": len(originals), "n_perturbed": len(copies), "n_unpaired": unpaired,
        "rows": rows,
        "worst_case": _worst_case(groups, means, alpha),
        "severity_curves": _curves(rows),
    }


def _worst_case(groups, means: Mapping[Any, float], alpha: float) -> dict[str, Any]:
    """Per original case: correct on the original and on every copy (of all perturbations, and
    of each perturbation family apart)."""
    def summary(by_orig: Mapping[Any, list]) -> dict[str, Any]:
        worst = np.array([float(means[o] > 0.5 and all(means[c] > 0.5 for c in copies))
                          for o, copies in by_orig.items()])
        s = mean_ci_items(worst, alpha)
        return {"n_cases": s["n"], "accuracy": s["mean"], "accuracy_ci": s["ci"]}

    everything: dict[Any, list] = defaultdict(list)
    per_family: dict[str, dict[Any, list]] = defaultdict(lambda: defaultdict(list))
    for (name, _sev), pairs in groups.items():
        for o, c in pairs:
            everything[o].append(c)
            per_family[name][o].append(c)
    out = summary(everything) if everything else {"n_cases": 0, "accuracy": None, "accuracy_ci": None}
    out["by_perturbation"] = {name: summary(by) for name, by in sorted(per_family.items())}
    return out


def _curves(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """For each family with severities, the whole-run rows ordered by severity."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["slice_key"] == "all" and r["severity"] is not None:
            out[r["perturbation"]].append({k: r[k] for k in (
                "severity", "n_pairs", "accuracy_perturbed", "accuracy_perturbed_ci", "delta", "delta_ci",
                "flip_rate", "flip_rate_ci", "q_value", "answer_change_rate", "answer_change_rate_ci")})
    return {name: sorted(points, key=lambda p: p["severity"]) for name, points in out.items()}


#: the slices of a set of original cases, by the rule above (tuieval.contamination summarises
#: its per-case flags over the same slices)
slice_members = _slices
