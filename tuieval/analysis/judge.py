"""The report's `judge` section: how reliable each judge scorer of a run was.

Pure: given the run (its stored scorer specs and human labels), its lean sample rows and its
judgements, it computes for every judge scorer

* the requests: how many, unparsed (counted and listed — an unparsed reply is never a vote
  for correct), failed, tokens and latency;
* accuracy as judged once (the first judge's first sample) and as the sample's verdict
  (the majority of every vote: all judges × N samples), each with a Wilson interval over
  samples — judge noise shows as the gap between the two;
* per judge: its own accuracy once and by the majority of its N samples, and its
  self-consistency over the N samples with the run's own machinery
  (tuieval.analysis.variance.per_group: consistency and discrete semantic entropy of the grades);
* with several judges, agreement of their per-response verdicts (Fleiss' κ and
  Krippendorff's α, tuieval.analysis.agreement), and the responses where judges (or one
  judge's samples) disagree, flagged;
* with human labels, Cohen's κ and the confusion matrix of the verdict against them;
* in pairwise mode, wins / losses / ties and the order-dependent verdicts (counted as ties).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.agreement import cohen_kappa, confusion_matrix, fleiss_kappa, krippendorff_alpha
from tuieval.analysis.stats import json_float, wilson
from tuieval.analysis.variance.per_group import consistency, semantic_entropy
from tuieval.scoring.judge import JudgeScorer, vote_units

#: at most this many listed examples per list (counts are always complete)
MAX_LISTED = 50


def _rate(k: int, n: int) -> dict[str, Any]:
    lo, hi = wilson(k, n) if n else (None, None)
    return {"value": json_float(k / n) if n else None, "k": int(k), "n": int(n),
            "ci": [json_float(lo), json_float(hi)] if n else None}


def _pct(values: list[float], q: float) -> float | None:
    return json_float(float(np.percentile(values, q))) if values else None


def _verdict_word(v: bool | None) -> str:
    return "unparsed" if v is None else ("correct" if v else "incorrect")


def _scorer_section(scorer: JudgeScorer, samples: Sequence[Mapping[str, Any]],
                    judgements: Sequence[Mapping[str, Any]], human: Mapping[str, bool]) -> dict[str, Any]:
    by_sample: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for j in judgements:
        by_sample[(j["case_id"], j["template"], j["sample_index"])].append(j)
    n_units = len(scorer.units())
    first_judge = scorer.models[0]
    once_k = majority_k = n = n_pending = 0
    per_judge: dict[str, dict[str, Any]] = {m: {"once": 0, "majority": 0, "consistency": [], "entropy": [],
                                                "n_unstable": 0, "n_unparsed": 0} for m in scorer.models}
    panel_rows: list[list[bool | None]] = []
    disagreements: list[dict[str, Any]] = []
    n_disagree = 0
    human_pairs: list[tuple[bool, bool]] = []
    pairwise = {"win": 0, "loss": 0, "tie": 0, "order_dependent": 0, "unparsed": 0}
    order_dependent: list[dict[str, Any]] = []
    grade_index = {g.upper(): i for i, g in enumerate(scorer.grade_names())}
    for s in samples:
        key = (s["case_id"], s["template"], s["sample_index"])
        n += 1
        if s.get("error") is not None:
            continue  # an error sample is judged incorrect by every measure (tuieval.sample_rules)
        rows = by_sample.get(key, [])
        if len(rows) < n_units:
            n_pending += 1
            continue
        votes = vote_units(scorer, rows)
        all_votes = list(votes.values())
        verdict = 2 * sum(v["correct"] for v in all_votes) > len(all_votes)
        majority_k += verdict
        once_k += bool(votes.get((first_judge, 0), {}).get("correct"))
        judge_verdicts: list[bool | None] = []
        unstable = False
        for m in scorer.models:
            mine = [votes[(m, k)] for k in range(scorer.samples) if (m, k) in votes]
            stats = per_judge[m]
            stats["once"] += bool(mine and mine[0]["correct"])
            k_correct = sum(v["correct"] for v in mine)
            stats["majority"] += 2 * k_correct > len(mine)
            stats["n_unparsed"] += sum(not v["parsed"] for v in mine)
            if scorer.mode == "pairwise":
                ids = [None if v["outcome"] is None else ("win", "tie", "loss").index(v["outcome"]) for v in mine]
            else:
                ids = []
                for k in range(scorer.samples):
                    j = next((r for r in rows if r["judge"] == m and int(r["judge_sample"]) == k), None)
                    ids.append(grade_index.get(str(j["grade"]).upper()) if j and j.get("parsed") else None)
            if scorer.samples > 1:
                c = consistency(ids)
                if c is not None:
                    stats["consistency"].append(c)
                    stats["entropy"].append(semantic_entropy(ids).semantic_entropy)
                if len({v["correct"] for v in mine}) > 1:
                    stats["n_unstable"] += 1
                    unstable = True
            parsed = [v for v in mine if v["parsed"]]
            judge_verdicts.append(None if not parsed else 2 * k_correct > len(mine))
        panel_rows.append(judge_verdicts)
        split_judges = len({v for v in judge_verdicts}) > 1
        if split_judges or unstable:
            n_disagree += 1
            if len(disagreements) < MAX_LISTED:
                disagreements.append({"case_id": key[0], "template": key[1], "sample_index": key[2],
                                      "verdicts": {m: _verdict_word(v) for m, v in zip(scorer.models, judge_verdicts)},
                                      "reason": "judges" if split_judges else "samples"})
        if scorer.mode == "pairwise":
            for (m, k), v in votes.items():
                pairwise[v["outcome"] or "unparsed"] += 1
                if v["order_dependent"]:
                    pairwise["order_dependent"] += 1
                    if len(order_dependent) < MAX_LISTED:
                        order_dependent.append({"case_id": key[0], "template": key[1], "sample_index": key[2],
                                                "judge": m, "judge_sample": k})
        if key[0] in human:
            human_pairs.append((human[key[0]], verdict))

    requests = list(judgements)
    unparsed = [j for j in requests if not j.get("parsed") and j.get("error") is None]
    errors = [j for j in requests if j.get("error") is not None]
    latencies = [float(j["latency_ms"]) for j in requests if j.get("latency_ms") is not None]
    section: dict[str, Any] = {
        "name": scorer.name, "mode": scorer.mode, "models": list(scorer.models),
        "samples_per_response": scorer.samples,
        "rubric": {k: v for k, v in scorer.options().items() if k in ("criteria", "choices", "range", "pass")},
        "n_samples": n, "n_pending": n_pending,
        "requests": {
            "n": len(requests), "n_unparsed": len(unparsed), "n_errors": len(errors),
            "unparsed_rate": json_float(len(unparsed) / len(requests)) if requests else None,
            "input_tokens": sum(int(j.get("input_tokens") or 0) for j in requests),
            "output_tokens": sum(int(j.get("output_tokens") or 0) for j in requests),
            "latency_ms": {"p50": _pct(latencies, 50), "p99": _pct(latencies, 99), "n": len(latencies)},
        },
        "unparsed": [{"case_id": j["case_id"], "template": j["template"], "sample_index": j["sample_index"],
                      "judge": j["judge"], "judge_sample": j["judge_sample"], "orientation": j.get("orientation") or "",
                      "problem": j.get("problem"), "reply": (j.get("reply") or "")[:200]}
                     for j in unparsed[:MAX_LISTED]],
        "accuracy": {"once": _rate(once_k, n), "majority": _rate(majority_k, n)},
        "per_judge": [
            {"judge": m, "accuracy_once": _rate(st["once"], n), "accuracy_majority": _rate(st["majority"], n),
             "n_unparsed": st["n_unparsed"],
             "consistency": json_float(float(np.mean(st["consistency"]))) if st["consistency"] else None,
             "semantic_entropy": json_float(float(np.mean(st["entropy"]))) if st["entropy"] else None,
             "n_unstable": st["n_unstable"]}
            for m, st in per_judge.items()
        ],
        "agreement": _agreement(panel_rows) if len(scorer.models) > 1 else None,
        "n_disagreeing": n_disagree,
        "disagreements": disagreements,
        "human": _human(human_pairs) if human else None,
    }
    if scorer.mode == "pairwise":
        section["pairwise"] = {**{k: pairwise[k] for k in ("win", "loss", "tie", "unparsed")},
                               "n_order_dependent": pairwise["order_dependent"],
                               "order_dependent": order_dependent}
    return section


def _agreement(rows: list[list[bool | None]]) -> dict[str, Any]:
    complete = [r for r in rows if all(v is not None for v in r)]
    fleiss = fleiss_kappa(complete) if complete else None
    return {"n_items": len(rows), "n_complete": len(complete), "fleiss_kappa": json_float(fleiss),
            "krippendorff_alpha": json_float(krippendorff_alpha(rows)),
            "share_agreeing": json_float(sum(len(set(r)) == 1 for r in complete) / len(complete)) if complete else None}


def _human(pairs: list[tuple[bool, bool]]) -> dict[str, Any]:
    truth = [_verdict_word(h) for h, _ in pairs]
    judged = [_verdict_word(v) for _, v in pairs]
    return {"n": len(pairs), "cohen_kappa": json_float(cohen_kappa(truth, judged)),
            "agreement_rate": json_float(sum(a == b for a, b in zip(truth, judged)) / len(pairs)) if pairs else None,
            "confusion": {**confusion_matrix(truth, judged, ["correct", "incorrect"]),
                          "rows": "human label", "columns": "judge verdict"}}


def judge_section(scorers: Sequence[Any], samples: Sequence[Mapping[str, Any]],
                  judgements: Sequence[Mapping[str, Any]], human_labels: Mapping[str, bool] | None = None
                  ) -> dict[str, Any] | None:
    """`judge` of tuieval.report/1, or None when the run has no judge scorer."""
    judges = [s for s in scorers if isinstance(s, JudgeScorer)]
    if not judges:
        return None
    human = dict(human_labels or {})
    return {"scorers": [_scorer_section(s, samples, [j for j in judgements if j["scorer"] == s.name], human)
                        for s in judges],
            "n_human_labels": len(human)}
