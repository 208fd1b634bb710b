"""The red-team figures of one target (pure: rows in, JSON-ready dicts out; docs/statistics.md
"Red-teaming").

* An attack *counts* for a target when the target answered its seed right (only those targets
  are sent it), answered the attack without a request error, and the answer was decided.
  It is *broken* when that answer is wrong.
* Attack success rate (ASR) = broken / counted, per strategy, per slice × strategy and overall,
  each with its Wilson interval and n. The tries of one case share the case, so with
  --tries > 1 the attack-level interval is optimistic; `case_rate` (cases broken at least once,
  Wilson over cases) has independent units.
* "Broken at least once in k tries" per (case, strategy) is the unbiased pass@k estimator from
  the attacker's side (n = counted tries, c = broken ones); per strategy its mean over cases
  for each k every case allows, with a percentile bootstrap interval over cases.
* Two targets on the same attacks: per strategy, the attacks both counted are paired; b = only
  the first target broken, c = only the second; exact McNemar on (b, c), Benjamini–Hochberg
  across strategies.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from tuieval.analysis.slices import level_name
from tuieval.analysis.stats import (benjamini_hochberg, bootstrap_ci, json_float, mcnemar_exact, pass_at_k,
                                    wilson)

ALL = "all"
#: a metadata value longer than this is not a slice level (it is text, not a category)
MAX_LEVEL_CHARS = 60


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n)
    return {"n": n, "n_broken": k, "asr": json_float(k / n) if n else None, "ci": [json_float(lo), json_float(hi)]}


def counted(answers: Iterable[Mapping[str, Any]], run_id: str) -> list[Mapping[str, Any]]:
    """The target's answers that count (see the module docstring)."""
    return [a for a in answers if a["run_id"] == run_id and a.get("error") is None and a.get("correct") is not None]


def slice_levels(metadata: Mapping[str, Any]) -> list[str]:
    """The "key=value" slices a seed case belongs to: its scalar metadata values."""
    out = []
    for key, value in sorted(metadata.items()):
        if isinstance(value, (str, int, bool)) and not isinstance(value, float) and len(str(value)) <= MAX_LEVEL_CHARS:
            out.append(level_name(key, value))
    return out


def per_case(rows: Sequence[Mapping[str, Any]], strategies: Sequence[str], tries: int) -> list[dict[str, Any]]:
    """Per (case, strategy): counted tries, broken tries and pass@k for k = 1..counted tries."""
    groups: dict[tuple[str, str], list[bool]] = {}
    for a in rows:
        groups.setdefault((a["case_id"], a["strategy"]), []).append(not a["correct"])
    order = {s: i for i, s in enumerate(strategies)}
    out = []
    for (case_id, strategy), broken in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        n, c = len(broken), sum(broken)
        out.append({"case_id": case_id, "strategy": strategy, "n_tries": n, "n_broken": c,
                    "pass_at_k": {str(k): json_float(pass_at_k(n, c, k)) for k in range(1, min(n, tries) + 1)}})
    return out


def _strategy_pass_at_k(cases: Sequence[Mapping[str, Any]], tries: int) -> dict[str, Any]:
    """Mean pass@k over cases for each k every case allows, with its bootstrap interval."""
    if not cases:
        return {}
    n_min = min(c["n_tries"] for c in cases)
    out = {}
    rng = np.random.default_rng(0)
    for k in range(1, min(n_min, tries) + 1):
        values = np.array([c["pass_at_k"][str(k)] for c in cases], dtype=float)
        lo, hi = bootstrap_ci(values, rng=rng) if len(values) > 1 else (float(values[0]), float(values[0]))
        out[str(k)] = {"value": json_float(values.mean()), "ci": [json_float(lo), json_float(hi)],
                       "n_cases": len(values)}
    return out


def target_figures(run_id: str, seeds: Sequence[Mapping[str, Any]], answers: Sequence[Mapping[str, Any]],
                   strategies: Sequence[str], tries: int) -> dict[str, Any]:
    """ASR per strategy, per slice × strategy and overall; pass@k per case and per strategy.

    `seeds`: {case_id, metadata, correct} with `correct` this target's seed verdict."""
    rows = counted(answers, run_id)
    cases = per_case(rows, strategies, tries)
    by_strategy = []
    for strategy in strategies:
        mine = [a for a in rows if a["strategy"] == strategy]
        k = sum(not a["correct"] for a in mine)
        its_cases = [c for c in cases if c["strategy"] == strategy]
        n_cases, cases_broken = len(its_cases), sum(c["n_broken"] > 0 for c in its_cases)
        lo, hi = wilson(cases_broken, n_cases)
        by_strategy.append({"strategy": strategy, **_rate(k, len(mine)), "n_cases": n_cases,
                            "n_cases_broken": cases_broken,
                            "case_rate": json_float(cases_broken / n_cases) if n_cases else None,
                            "case_ci": [json_float(lo), json_float(hi)],
                            "pass_at_k": _strategy_pass_at_k(its_cases, tries),
                            "n_errors": sum(1 for a in answers if a["run_id"] == run_id and a["strategy"] == strategy
                                            and a.get("error") is not None)})
    levels = {s["case_id"]: slice_levels(s.get("metadata") or {}) for s in seeds}
    table: dict[tuple[str, str], list[bool]] = {}
    for a in rows:
        for level in levels.get(a["case_id"], []):
            table.setdefault((level, a["strategy"]), []).append(not a["correct"])
            table.setdefault((level, ALL), []).append(not a["correct"])
    slices = [{"slice": level, "strategy": strategy, **_rate(sum(v), len(v))}
              for (level, strategy), v in sorted(table.items())]
    broken_all = sum(not a["correct"] for a in rows)
    return {"overall": _rate(broken_all, len(rows)), "strategies": by_strategy, "slices": slices, "cases": cases,
            "n_seed_cases": len(seeds), "n_seed_correct": sum(bool(s.get("correct")) for s in seeds)}


def paired(answers: Sequence[Mapping[str, Any]], run_a: str, run_b: str,
           strategies: Sequence[str]) -> list[dict[str, Any]]:
    """Exact McNemar per strategy (and over all strategies) between two targets on the same attacks."""
    a = {(r["case_id"], r["strategy"], r["try_index"]): not r["correct"] for r in counted(answers, run_a)}
    b = {(r["case_id"], r["strategy"], r["try_index"]): not r["correct"] for r in counted(answers, run_b)}
    return mcnemar_table(a, b, strategies)


def paired_runs(answers_a: Sequence[Mapping[str, Any]], attacks_a: Mapping[tuple, Sequence[str] | None], run_a: str,
                answers_b: Sequence[Mapping[str, Any]], attacks_b: Mapping[tuple, Sequence[str] | None], run_b: str,
                strategies: Sequence[str]) -> tuple[list[dict[str, Any]], int]:
    """McNemar per strategy between the targets of two red-team runs: an attack pairs only when
    both runs sent the identical turns (same case, strategy and try); also returns how many
    attacks both counted but could not pair because their text differed."""
    a = {(r["case_id"], r["strategy"], r["try_index"]): not r["correct"] for r in counted(answers_a, run_a)}
    b = {(r["case_id"], r["strategy"], r["try_index"]): not r["correct"] for r in counted(answers_b, run_b)}
    both = set(a) & set(b)
    same = {k for k in both if list(attacks_a.get(k) or []) == list(attacks_b.get(k) or [])}
    return (mcnemar_table({k: a[k] for k in same}, {k: b[k] for k in same}, strategies), len(both) - len(same))


def mcnemar_table(a: Mapping[tuple, bool], b: Mapping[tuple, bool], strategies: Sequence[str]) -> list[dict[str, Any]]:
    """Exact McNemar per strategy (and `all`) over the keys (case, strategy, try) both maps hold."""
    shared = sorted(set(a) & set(b))
    out = []
    for strategy in [*strategies, ALL]:
        keys = [k for k in shared if strategy == ALL or k[1] == strategy]
        only_a = sum(a[k] and not b[k] for k in keys)
        only_b = sum(b[k] and not a[k] for k in keys)
        both = sum(a[k] and b[k] for k in keys)
        p, p_mid = mcnemar_exact(only_a, only_b)
        n = len(keys)
        out.append({"strategy": strategy, "n_pairs": n, "only_a_broken": only_a, "only_b_broken": only_b,
                    "both_broken": both, "neither_broken": n - only_a - only_b - both,
                    "asr_a": json_float((only_a + both) / n) if n else None,
                    "asr_a_ci": [json_float(x) for x in wilson(only_a + both, n)],
                    "asr_b": json_float((only_b + both) / n) if n else None,
                    "asr_b_ci": [json_float(x) for x in wilson(only_b + both, n)],
                    "p_value": json_float(p), "p_mid": json_float(p_mid)})
    tested = [r for r in out if r["strategy"] != ALL]
    if tested:
        for r, q in zip(tested, benjamini_hochberg([r["p_value"] for r in tested])):
            r["q_value"] = json_float(q)
    return out
