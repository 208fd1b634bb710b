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


def cost_section(store, run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]],
                 report_slices: Sequence[Mapping[str, Any]], prices: PriceTable | None = None) -> dict[str, Any]:
    table = run_prices(run, prices)
    spent = stored_cost(store, run, table)
    per_case = spent["per_case"]
    model_price = table.get(run["model"])
    priced = model_price is not None
    values = [per_case.get(c["case_id"], 0.0) for c in cases if c["case_id"] in per_case] if priced else []
    mean, ci = _mean_ci(values)
    n_requests = spent["tokens"]["n_requests"]
    membership = slice_membership(cases, set(per_case)) if priced else {}
    slices = []
    for s in report_slices:
        members = membership.get((s["key"], slice_value_key(s["value"])))
        if not members:
            continue
        vals = [per_case[c] for c in sorted(members) if c in per_case]  # sorted: the same sum in every process
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
