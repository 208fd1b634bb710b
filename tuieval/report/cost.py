"""The `cost` section of tuieval.report/1: what the run cost, per run, per case, per sample and
per slice, for its model, its judges and its clustering's embedding requests (prices: tuieval.cost.prices; totals: tuieval.cost.spend).

Cached with the report (a run's prices are stored with it, so its cost does not change);
`report --prices FILE` re-prices a run on purpose.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuieval.analysis.report import slice_membership, slice_value_key
from tuieval.analysis.stats import clt_se, json_float, z_value
from tuieval.cost.prices import PriceTable
from tuieval.cost.spend import run_prices, stored_cost


def _mean_ci(values: Sequence[float]) -> tuple[float | None, list[float] | None]:
    """Mean dollars per case with a normal interval (cases are the unit; costs are not bounded
    to [0, 1], so not Wilson)."""
    if not values:
        return None, None
    mean = sum(values) / len(values)
    se = clt_se(values)
    if se is None:
        return mean, None
    h = z_value() * se
    return mean, [max(0.0, mean - h), mean + h]


def _slice_values(cases, per_case: Mapping[str, float], masks, case_ids):
    """level → its priced cases' dollars in case id order (None for a level with none)."""
    if masks is not None and case_ids is not None and len(case_ids) == len(per_case) \
            and all(c in per_case for c in case_ids):
        import numpy as np

        # case_ids are sorted, so a mask picks its members' dollars in sorted order
        dollars = np.array([per_case[c] for c in case_ids], dtype=float)
        return lambda level: None if (m := masks.get(level)) is None else dollars[np.asarray(m, dtype=bool)].tolist()
    membership = slice_membership(cases, set(per_case))
    return lambda level: (None if (m := membership.get(level)) is None
                          else [per_case[c] for c in sorted(m) if c in per_case])


def cost_section(store, run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]],
                 report_slices: Sequence[Mapping[str, Any]], prices: PriceTable | None = None, *,
                 usage: Sequence[Mapping[str, Any]] | None = None,
                 masks: Mapping[tuple[str, Any], Any] | None = None,
                 case_ids: Sequence[str] | None = None) -> dict[str, Any]:
    """The section. `usage`: the run's token usage rows when the caller has them (else read);
    `masks` over the sorted `case_ids` of the run's samples: the slice membership the caller
    computed already (tuieval.report.slice_membership_store.masks_from_cases), used when those
    are exactly the priced cases (else the membership is computed here)."""
    table = run_prices(run, prices)
    spent = stored_cost(store, run, table, usage)
    per_case = spent["per_case"]
    model_price = table.get(run["model"])
    priced = model_price is not None
    values = [per_case.get(c["case_id"], 0.0) for c in cases if c["case_id"] in per_case] if priced else []
    mean, ci = _mean_ci(values)
    n_requests = spent["tokens"]["n_requests"]
    values_of = _slice_values(cases, per_case, masks, case_ids) if priced else (lambda level: None)
    slices = []
    for s in report_slices:
        vals = values_of((s["key"], slice_value_key(s["value"])))  # case id order: the same sum in every process
        if not vals:
            continue
        m, m_ci = _mean_ci(vals)
        slices.append({"key": s["key"], "value": s["value"], "n_cases": len(vals),
                       "dollars": json_float(sum(vals)), "per_case": json_float(m),
                       "per_case_ci": [json_float(x) for x in m_ci] if m_ci else None})
    judges = [{"model": spec, **{k: (json_float(v) if k == "dollars" else v) for k, v in j.items()},
               "price": table[spec].to_json() if table.get(spec) else None}
              for spec, j in sorted(spent["judges"].items())]
    embeddings = [{"model": spec, "n_requests": e["n_requests"], "n_cached": e["n_cached"], "n_texts": e["n_texts"],
                   "input_tokens": e["input_tokens"], "estimated_tokens": e["estimated_tokens"],
                   "dollars": json_float(e["dollars"]),
                   "price": table[spec].to_json() if table.get(spec) else None}
                  for spec, e in sorted(spent["embeddings"].items())]
    clustering_judges = [{"model": spec, **{k: e[k] for k in (
                              "n_requests", "n_cached", "input_tokens", "cached_input_tokens", "output_tokens",
                              "estimated_input_tokens", "estimated_output_tokens")},
                          "dollars": json_float(e["dollars"]),
                          "price": table[spec].to_json() if table.get(spec) else None}
                         for spec, e in sorted(spent["clustering_judges"].items())]
    return {
        "currency": "USD",
        "total": json_float(spent["total"]) if priced or judges or embeddings or clustering_judges else None,
        "n_cases": len(values),
        "per_case": json_float(mean),
        "per_case_ci": [json_float(x) for x in ci] if ci else None,
        "per_sample": json_float(spent["model"] / n_requests) if priced and n_requests else None,
        "model": {
            "model": run["model"], "dollars": json_float(spent["model"]),
            "n_requests": n_requests, "input_tokens": spent["tokens"]["input"],
            "output_tokens": spent["tokens"]["output"], "cached_input_tokens": spent["tokens"]["cached_input"],
            "cache_write_tokens": spent["tokens"]["cache_write"],
            "cache_write_1h_tokens": spent["tokens"]["cache_write_1h"], "n_estimated": spent["tokens"]["n_estimated"],
            "n_cached": spent["tokens"]["n_cached"],
            "price": model_price.to_json() if priced else None,
        },
        "judges": judges,
        "embeddings": embeddings,
        "clustering_judges": clustering_judges,
        "slices": slices,
        "unpriced": spent["unpriced"],
        "batch": spent["batch"],
        "simulated": bool(model_price and model_price.simulated),
    }
