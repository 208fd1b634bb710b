"""The `shadow` section of tuieval.report/1: a shadow candidate run beside its baseline.

Built from the stored rows only (the candidate's verdicts already say whether each prompt agreed,
see tuieval.traffic.shadow), so reopening the report makes no request. None for a run that is
not a shadow candidate.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuieval.store import Store
from tuieval.store.shadow import get_shadow

#: disagreeing prompts listed in the section (all are in `tuieval export`)
MAX_PROMPTS = 200
#: characters of a prompt kept in the section
PROMPT_CHARS = 2000


def _gate(name: str, value: float | None, threshold: float | None, n: int) -> dict[str, Any] | None:
    if threshold is None:
        return None
    passed = None if value is None else value <= threshold
    return {"gate": name, "threshold": threshold, "value": value, "n": n, "passed": passed}


def shadow_section(store: Store, run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]] | None,
                   samples: Sequence[Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """The section for `run` (its lean cases and samples), or None."""
    link = get_shadow(store, run["id"])
    if link is None:
        return None
    import numpy as np

    from tuieval.analysis.shadow import (disagreement_sequence, is_refusal, latency_shift, mean_shift, rate_shift,
                                         slice_disagreement)
    from tuieval.analysis.slices import derive_features
    from tuieval.analysis.stats import wilson
    from tuieval.analysis.variance.config import VarianceConfig
    from tuieval.sample_rules import answer_text, is_error

    cases = list(cases if cases is not None else store.analysis_cases(run["id"]))
    samples = list(samples if samples is not None else store.analysis_samples(run["id"]))
    base_samples = {s["case_id"]: s for s in store.analysis_samples(link["baseline_run_id"])}
    cand = {s["case_id"]: s for s in samples}
    cfg = link["config"]
    settings = cfg.get("settings") or {}
    alpha = float(settings.get("alpha") or 0.05)

    comparable, disagree = [], []
    prompts: list[dict[str, Any]] = []
    for c in cases:
        cid = c["case_id"]
        b, s = base_samples.get(cid), cand.get(cid)
        if s is None:
            continue
        if b is None or answer_text(b) is None:
            continue   # no baseline answer: not comparable
        agrees = bool(s.get("correct")) and not is_error(s)
        comparable.append(c)
        disagree.append(0.0 if agrees else 1.0)
        if not agrees:
            prompts.append({"case_id": cid, "prompt": (c.get("input_text") or "")[:PROMPT_CHARS],
                            "baseline": answer_text(b), "candidate": answer_text(s),
                            "candidate_error": s.get("error"), "metadata": c.get("metadata") or {}})
    n = len(comparable)
    k = int(sum(disagree))
    # cases are stored in replay order, so this is the sequence the stopping rule saw
    seq = disagreement_sequence(disagree, int(cfg.get("planned") or n), alpha)
    rate = k / n if n else None
    overall = {"n": n, "k": k, "rate": rate, "ci": list(wilson(k, n, alpha)) if n else None, "cs": seq["cs"]}

    columns: dict[str, list] = {}
    meta_keys: dict[str, None] = {}
    for c in comparable:
        for key in (c.get("metadata") or {}):
            meta_keys.setdefault(key, None)
    for key in meta_keys:
        columns[key] = [(c.get("metadata") or {}).get(key) for c in comparable]
    if comparable:
        feats = derive_features([c.get("input_text") or "" for c in comparable])
        for key in ("input_tokens", "script", "has_digits", "non_ascii_name"):
            columns.setdefault(key, feats[key])
    slices = slice_disagreement(columns, disagree, alpha=alpha) if n else {"slices": [], "discovered": [],
                                                                         "skipped_columns": {}}

    pairs = [(base_samples[c["case_id"]], cand[c["case_id"]]) for c in comparable]
    lat_b = [np.nan if b.get("latency_ms") is None else float(b["latency_ms"]) for b, _ in pairs]
    lat_c = [np.nan if s.get("latency_ms") is None or is_error(s) else float(s["latency_ms"]) for _, s in pairs]
    answered = [(b, s) for b, s in pairs if answer_text(s) is not None]
    len_b = [float(len(answer_text(b) or "")) for b, _ in answered]
    len_c = [float(len(answer_text(s) or "")) for _, s in answered]
    ref_b = [is_refusal(answer_text(b)) for b, _ in answered]
    ref_c = [is_refusal(answer_text(s)) for _, s in answered]
    latency = latency_shift(lat_b, lat_c, alpha=alpha)
    p99 = latency["p99"]["shift"]

    gates = [g for g in (_gate("max_disagreement", rate, settings.get("max_disagreement"), n),
                         _gate("max_p99_shift_ms", p99, settings.get("max_p99_shift_ms"), latency["p99"]["n"]))
             if g is not None]
    judge = _judge_summary(store, run, prompts)
    prompts.sort(key=lambda p: p["case_id"])
    return {
        "baseline": {"run_id": link["baseline_run_id"], "kind": link["baseline_kind"],
                     "model": store.get_run(link["baseline_run_id"])["model"]},
        "candidate": {"run_id": run["id"], "model": run["model"]},
        "log": {"path": link["log_path"], **(cfg.get("log") or {})},
        "sampling": {"budget": settings.get("budget"), "planned": cfg.get("planned"), "replayed": cfg.get("replayed"),
                     "stop": cfg.get("stop"), "precision": settings.get("precision"), "alpha": alpha,
                     # with --max-cost: the limit, what both runs cost, the next prompt's estimate
                     "cost": cfg.get("cost")},
        "agreement_method": VarianceConfig.from_run(run).effective_method,
        "n_not_comparable": len([c for c in cases if c["case_id"] in cand]) - n,
        "disagreement": overall,
        "slices": slices["slices"],
        "discovered": slices["discovered"],
        "latency_ms": latency,
        "length_chars": mean_shift(len_b, len_c, alpha=alpha),
        "refusal": rate_shift(ref_b, ref_c, alpha=alpha),
        "gates": gates,
        "judge": judge,
        "passed": all(g["passed"] is not False for g in gates),
        "disagreements": prompts[:MAX_PROMPTS],
        "n_disagreements": len(prompts),
    }


def _judge_summary(store: Store, run: Mapping[str, Any], prompts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The pairwise judge's verdict on each disagreement (set on the prompt rows as `judge`:
    win = the candidate's answer is better, loss = the baseline's, tie = equal or order-dependent),
    and the counts; None when no judge was asked."""
    import json

    from tuieval.analysis.stats import wilson
    from tuieval.analysis.shadow import JUDGE_NAME

    scorers = (run.get("config") or {}).get("scorers") or []
    spec = next((s for s in scorers if s.get("name") == JUDGE_NAME), None)
    if spec is None:
        return None
    scores = {s["case_id"]: json.loads(s["scores"] or "{}")
              for s in store.get_samples(run["id"], columns=("case_id", "scores"))}
    counts = {"win": 0, "tie": 0, "loss": 0, "unjudged": 0}
    for p in prompts:
        verdict = (scores.get(p["case_id"]) or {}).get(JUDGE_NAME) or {}
        outcome = verdict.get("extracted") if not verdict.get("pending") else None
        p["judge"] = outcome
        counts[outcome if outcome in counts else "unjudged"] += 1
    judged = counts["win"] + counts["tie"] + counts["loss"]
    return {"models": list(spec.get("models") or []), **counts, "n": judged,
            "win_rate": counts["win"] / judged if judged else None,
            "win_ci": list(wilson(counts["win"], judged)) if judged else None}
