"""The report's `contamination` section, from a probe run's stored cases and samples.

Pure: numpy, the standard library and tuieval.analysis; the store reads are the caller's
(tuieval.report.contamination). The unit is the original case (docs/statistics.md, the
contamination section).

- verbatim: per case, the most any of its samples reproduced of the real continuation — the
  longest common token run (`lcs_tokens`) and the share of the continuation's n-grams found
  (`overlap`). The controls' q-quantiles of both are the thresholds; a case is flagged when it
  is above both.
- rewrite, options: the perturbation analysis (tuieval.analysis.perturbations) restricted to
  the originals and that probe's copies: per slice accuracy on each, the paired difference,
  exact McNemar with one sample per case (sign-flip otherwise), Benjamini–Hochberg across the
  slices of the probe. A case counts as flagged by the probe when it is right on the original,
  wrong on the copy, and the probe's whole-run test is significant with the drop.
- ngram: the corpus scan stored when the run started (tuieval.contamination.corpus).

A case is *likely contaminated* when any probe flags it; the share is given overall and per
slice with Wilson intervals and n.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Mapping, Sequence

import numpy as np

from tuieval.analysis.perturbations import perturbation_analysis, slice_members
from tuieval.analysis.stats import wilson
from tuieval.contamination.probes import PROBE_KEY, PROBE_OF_KEY, original_of
from tuieval.contamination.text import reproduction
from tuieval.sample_rules import is_correct

LIKELY = "likely"
UNFLAGGED = "unflagged"
#: the metadata key of the scoreboard's slice (contamination=likely)
SLICE_KEY = "contamination"
_PROBE_KEYS = {PROBE_KEY, PROBE_OF_KEY, SLICE_KEY}


def _rate(k: int, n: int, alpha: float) -> dict[str, Any]:
    lo, hi = wilson(k, n, alpha)
    return {"n": n, "k": k, "rate": (k / n) if n else None, "rate_ci": [lo, hi]}


def _plain(meta: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in meta.items() if k not in _PROBE_KEYS}


def _by_slice(originals: Sequence[Mapping[str, Any]], flagged: set, alpha: float) -> list[dict[str, Any]]:
    """The flagged share overall and per metadata slice of the original cases."""
    rows = []
    for key, value, members in slice_members([{"case_id": c["case_id"], "metadata": _plain(c["metadata"])}
                                              for c in originals]):
        row = {"slice": "all" if key == "all" else f"{key}={value}"}
        row.update(_rate(len(members & flagged), len(members), alpha))
        rows.append(row)
    return rows


def _verbatim(cases, samples_by_case, settings, alpha) -> tuple[dict[str, Any], dict[str, dict]]:
    n = int(settings.get("overlap_n") or 3)
    q = float(settings.get("quantile") or 0.99)
    measured: dict[str, dict[str, dict]] = {"verbatim": {}, "control": {}}
    for c in cases:
        probe = c["metadata"].get(PROBE_KEY)
        if probe not in measured:
            continue
        reference = str((c.get("targets") or [""])[0])
        seen = [(reproduction(reference, s["response"], n), s["response"])
                for s in samples_by_case.get(c["case_id"], ())
                if s.get("error") is None and s.get("response") is not None]
        if not seen:
            continue  # no answer yet (a partial run) or only failed requests
        # the longest run any sample reproduced (and where), and the largest overlap of any
        r, response = max(seen, key=lambda x: (x[0].lcs_tokens, x[0].overlap or 0.0))
        overlaps = [x[0].overlap for x in seen if x[0].overlap is not None]
        overlap = max(overlaps) if overlaps else None
        measured[probe][c["metadata"][PROBE_OF_KEY]] = {
            "case_id": c["case_id"], "continuation": reference, "response": response,
            "lcs_tokens": r.lcs_tokens, "overlap": overlap,
            "span": list(r.span) if r.span else None, "span_text": r.span_text,
        }
    controls = list(measured["control"].values())
    threshold = None
    if controls:
        threshold = {
            "lcs_tokens": float(np.quantile([m["lcs_tokens"] for m in controls], q)),
            "overlap": float(np.quantile([m["overlap"] or 0.0 for m in controls], q)),
        }
    flagged: dict[str, dict] = {}
    for orig, m in measured["verbatim"].items():
        above = (threshold is not None and m["overlap"] is not None and m["lcs_tokens"] > threshold["lcs_tokens"]
                 and m["overlap"] > threshold["overlap"])
        m["flagged"] = bool(above)
        if above:
            flagged[orig] = m
    section = {
        "overlap_n": n, "quantile": q, "n_cases": len(measured["verbatim"]), "n_controls": len(controls),
        "threshold": threshold,
        "control": None if not controls else {
            "lcs_tokens_max": max(m["lcs_tokens"] for m in controls),
            "overlap_max": max(m["overlap"] or 0.0 for m in controls)},
        "n_flagged": len(flagged),
        **({} if threshold is not None else {"note": "no control answers: no threshold, nothing flagged"}),
    }
    section.update({k: v for k, v in _rate(len(flagged), len(measured["verbatim"]), alpha).items()
                    if k in ("rate", "rate_ci")})
    return section, flagged


def _paired(probe: str, cases, samples, means, alpha) -> tuple[dict[str, Any] | None, dict[str, dict]]:
    """The rewrite or options probe: the perturbation analysis of the originals and this probe's copies."""
    originals = [c for c in cases if c["metadata"].get(PROBE_KEY) == "original"]
    copies = [c for c in cases if c["metadata"].get(PROBE_KEY) == probe]
    if not copies:
        return None, {}
    chosen = originals + copies
    ids = {c["case_id"] for c in chosen}
    analysis = perturbation_analysis([{"case_id": c["case_id"], "metadata": {
        **_plain(c["metadata"]), **({} if c["metadata"].get(PROBE_KEY) == "original" else {"perturbation": probe})}}
        for c in chosen], [s for s in samples if s["case_id"] in ids], alpha=alpha)
    if analysis is None:
        return None, {}
    keep = ("slice", "n_pairs", "accuracy_original", "accuracy_original_ci", "accuracy_perturbed",
            "accuracy_perturbed_ci", "delta", "delta_ci", "flips_correct_to_wrong", "flips_wrong_to_correct",
            "test", "p_value", "q_value", "significant")
    rows = [{k: r[k] for k in keep} for r in analysis["rows"]]
    overall = next((r for r in rows if r["slice"] == "all"), None)
    evidence = bool(overall and overall["significant"] and (overall["delta"] or 0) < 0)
    broke: dict[str, dict] = {}
    for c in copies:
        orig = c["metadata"].get("original_case")
        if orig in means and c["case_id"] in means and means[orig] > 0.5 and means[c["case_id"]] <= 0.5:
            broke[orig] = {"case_id": c["case_id"], "accuracy_original": means[orig],
                           "accuracy_copy": means[c["case_id"]]}
    section = {"n_pairs": overall["n_pairs"] if overall else 0, "n_unpaired": analysis["n_unpaired"],
               "test": analysis["method"]["test"], "rows": rows, "significant_drop": evidence,
               "n_broken": len(broke)}
    return section, (broke if evidence else {})


def contamination_section(settings: Mapping[str, Any], cases: Sequence[Mapping[str, Any]],
                          samples: Sequence[Mapping[str, Any]], ngram: Mapping[str, Any] | None = None, *,
                          alpha: float = 0.05) -> dict[str, Any]:
    """The `contamination` section of a probe run's report.

    `cases`: case_id, metadata and targets of every case of the run; `samples`: case_id,
    response, error, correct (and error_kind) of every stored sample; `ngram`: the stored corpus
    scan (hits: case id → shared n-gram), None when the probe did not run.
    """
    probes = list(settings.get("probes") or [])
    by_case: dict[str, list] = defaultdict(list)
    k: dict[str, int] = defaultdict(int)
    for s in samples:
        by_case[s["case_id"]].append(s)
        k[s["case_id"]] += is_correct(s)
    means = {c: k[c] / len(v) for c, v in by_case.items()}
    originals = [c for c in cases if c["metadata"].get(PROBE_KEY) == "original"]
    evidence: dict[str, dict[str, Any]] = defaultdict(dict)
    section: dict[str, Any] = {"probes": probes, "settings": dict(settings), "n_cases": len(originals),
                               "verbatim": None, "rewrite": None, "options": None, "ngram": None}
    if "verbatim" in probes:
        section["verbatim"], flagged = _verbatim(cases, by_case, settings, alpha)
        section["verbatim"]["by_slice"] = _by_slice(originals, set(flagged), alpha)
        for orig, m in flagged.items():
            evidence[orig]["verbatim"] = m
    for probe in ("rewrite", "options"):
        if probe in probes:
            section[probe], broke = _paired(probe, cases, samples, means, alpha)
            for orig, m in broke.items():
                evidence[orig][probe] = m
    if "ngram" in probes and ngram is not None:
        hits = {c["case_id"]: ngram["hits"][c["case_id"]] for c in originals if c["case_id"] in ngram.get("hits", {})}
        section["ngram"] = {"n": ngram.get("n"), "corpus": ngram.get("corpus"),
                            "n_corpus_tokens": ngram.get("n_corpus_tokens"),
                            "n_too_short": len(ngram.get("too_short") or []), "n_cases": len(originals),
                            "n_flagged": len(hits), **{key: v for key, v in _rate(len(hits), len(originals), alpha).items()
                                                        if key in ("rate", "rate_ci")},
                            "by_slice": _by_slice(originals, set(hits), alpha)}
        for orig, gram in hits.items():
            evidence[orig]["ngram"] = {"ngram": gram}
    likely = {o for o, ev in evidence.items() if ev}
    section["likely"] = {"slice": f"{SLICE_KEY}={LIKELY}", "n_cases": len(originals), "n_flagged": len(likely),
                         **{key: v for key, v in _rate(len(likely), len(originals), alpha).items()
                            if key in ("rate", "rate_ci")},
                         "by_slice": _by_slice(originals, likely, alpha)}
    order = {c["case_id"]: i for i, c in enumerate(originals)}
    meta = {c["case_id"]: _plain(c["metadata"]) for c in originals}
    section["cases"] = [{"case_id": o, "metadata": meta.get(o, {}), "probes": sorted(evidence[o]), **evidence[o]}
                        for o in sorted(likely, key=lambda o: order.get(o, len(order)))]
    return section


def likely_ids(section: Mapping[str, Any]) -> set[str]:
    """The original cases the section calls likely contaminated."""
    return {c["case_id"] for c in section.get("cases") or []}


def with_slice(cases: Sequence[dict[str, Any]], likely: set[str]) -> None:
    """Label every case of the run (originals and their probe copies) `contamination=likely` or
    `unflagged` in its metadata, in place: the scoreboard's slice."""
    for c in cases:
        meta = c["metadata"]
        meta[SLICE_KEY] = LIKELY if original_of(c["case_id"], meta) in likely else UNFLAGGED
