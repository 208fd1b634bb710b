"""What a stored run cost: its model's samples, its judges' calls and the embedding requests of
its report's clustering, priced per request.

A run keeps the prices it ran at (`runs.config.prices`, written when the run starts), so a later
change of the table does not rewrite what it cost; `tuieval report --prices FILE` re-prices it
on purpose. Tokens are the server's counts; an answered sample the server gave no counts for is
costed from its text (about four characters a token) and counted in `n_estimated`.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from tuieval.cost.budget import CHARS_PER_TOKEN
from tuieval.cost.prices import Price, PriceTable, default_table, price_from_json


def judge_models(scorer_specs: Sequence[Any] | None) -> list[str]:
    """The judge model specs a suite's scorers call."""
    from tuieval.scoring import build_scorers

    return sorted({m for s in build_scorers(scorer_specs) if getattr(s, "type", "") == "judge"
                   for m in getattr(s, "models", ())})


def clustering_models(config: Mapping[str, Any] | None) -> list[str]:
    """The models a run's clustering calls: its embeddings model (`variance.model`) and its
    entailment judge (`variance.judge`), those it names."""
    variance = (config or {}).get("variance") or {}
    if not isinstance(variance, Mapping):
        return []
    return [str(variance[k]) for k in ("model", "judge") if variance.get(k)]


def stored_prices(table: PriceTable, model: str, scorer_specs: Sequence[Any] | None,
                  config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """spec → the price a run starts with (None where the table has no price)."""
    out: dict[str, Any] = {}
    for spec in [model, *judge_models(scorer_specs), *clustering_models(config)]:
        price = table.lookup(spec)
        out[spec] = price.to_json() if price is not None else None
    return out


def run_prices(run: Mapping[str, Any], override: PriceTable | None = None,
               fallback: PriceTable | None = None) -> dict[str, Price | None]:
    """spec → Price for the run's model and judges: `override` first, else the prices stored with
    the run, else `fallback` (the table a resumed run is given), else the shipped table (a run from
    before prices were stored)."""
    config = run.get("config") or {}
    stored = config.get("prices") or {}
    specs = [run["model"], *judge_models(config.get("scorers")), *clustering_models(config)]
    table = override if override is not None else (fallback if fallback is not None else default_table())
    out: dict[str, Price | None] = {}
    for spec in specs:
        if override is None and spec in stored:
            out[spec] = price_from_json(stored[spec])
        else:
            out[spec] = table.lookup(spec)
    return out


def _dollars(price: Price | None, input_tokens: float, output_tokens: float, batch: bool,
             row: Mapping[str, Any] | None = None) -> float | None:
    row = row or {}
    return None if price is None else price.cost(input_tokens, output_tokens, batch=batch,
                                                 cached_tokens=row.get("cached_tokens"),
                                                 cache_write_tokens=row.get("cache_write_tokens"),
                                                 cache_write_1h_tokens=row.get("cache_write_1h_tokens"))


def _model_cost_arrays(price: Price | None, batch: bool, usage, tokens: dict[str, int]) -> tuple[dict[str, float], float]:
    """The loop of `stored_cost` over the model's usage rows, over a UsageTable's integer columns
    (tuieval.store.usage_columns) instead: the token totals added into `tokens`, and (per-case
    dollars, the model's total) — each case's dollars `Price.cost_arrays`, the same float as the
    loop's `Price.cost`, and the total added in the same order."""
    a = usage.arrays
    for key, col in (("input", "input_tokens"), ("output", "output_tokens"), ("n_requests", "n"),
                     ("n_estimated", "n_uncounted"), ("n_cached", "n_cached"), ("cached_input", "cached_tokens"),
                     ("cache_write", "cache_write_tokens"), ("cache_write_1h", "cache_write_1h_tokens")):
        tokens[key] += int(a[col].sum())
    if price is None:
        return {}, 0.0
    dollars = price.cost_arrays(a["input_tokens"] + a["uncounted_prompt_chars"] / CHARS_PER_TOKEN,
                                a["output_tokens"] + a["uncounted_response_chars"] / CHARS_PER_TOKEN,
                                a["cached_tokens"], a["cache_write_tokens"], a["cache_write_1h_tokens"], batch=batch)
    values = dollars.tolist()
    total = 0.0
    for d in values:  # one by one, as the loop adds them (a numpy sum adds pairwise: another float)
        total += d
    # (one row per case: the loop's `per_case.get(case, 0.0) + d`)
    return dict(zip(usage.case_ids, (0.0 + dollars).tolist())), total


def stored_cost(store, run: Mapping[str, Any], prices: Mapping[str, Price | None],
                usage: Sequence[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """Dollars per case (model + judges), the run's total and the token totals behind them.

    A model or judge without a price contributes nothing and is listed in `unpriced`. `usage`:
    the run's `Store.token_usage` rows when the caller has them already (from the columns the
    analysis read: tuieval.store.usage_columns), else they are read."""
    batch = bool((run.get("config") or {}).get("batch"))
    price = prices.get(run["model"])
    per_case: dict[str, float] = {}
    tokens = {"input": 0, "output": 0, "cached_input": 0, "cache_write": 0, "cache_write_1h": 0, "n_requests": 0,
              "n_estimated": 0, "n_cached": 0}
    model_total = 0.0
    rows = store.token_usage(run["id"]) if usage is None else usage
    if getattr(rows, "integral", False):  # a UsageTable of integer sums: priced as arrays, the same floats
        per_case, model_total = _model_cost_arrays(price, batch, rows, tokens)
        rows = ()
    for row in rows:
        est_in = row["uncounted_prompt_chars"] / CHARS_PER_TOKEN
        est_out = row["uncounted_response_chars"] / CHARS_PER_TOKEN
        tokens["input"] += row["input_tokens"]
        tokens["output"] += row["output_tokens"]
        tokens["n_requests"] += row["n"]
        tokens["n_estimated"] += row["n_uncounted"] or 0
        tokens["n_cached"] += row["n_cached"] or 0
        tokens["cached_input"] += row["cached_tokens"]
        tokens["cache_write"] += row["cache_write_tokens"]
        tokens["cache_write_1h"] += row["cache_write_1h_tokens"]
        d = _dollars(price, row["input_tokens"] + est_in, row["output_tokens"] + est_out, batch, row)
        if d is not None:
            per_case[row["case_id"]] = per_case.get(row["case_id"], 0.0) + d
            model_total += d
    judges: dict[str, dict[str, Any]] = {}
    judge_per_case: dict[str, float] = {}
    for row in store.judge_token_usage(run["id"]):
        j = judges.setdefault(row["judge"], {"n_requests": 0, "input_tokens": 0, "output_tokens": 0,
                                             "cached_input_tokens": 0, "cache_write_tokens": 0,
                                             "cache_write_1h_tokens": 0, "n_uncounted": 0, "dollars": 0.0})
        j["n_requests"] += row["n"]
        j["input_tokens"] += row["input_tokens"]
        j["output_tokens"] += row["output_tokens"]
        j["cached_input_tokens"] += row["cached_tokens"]
        j["cache_write_tokens"] += row["cache_write_tokens"]
        j["cache_write_1h_tokens"] += row["cache_write_1h_tokens"]
        j["n_uncounted"] += row["n_uncounted"] or 0
        # a judge request answered in a provider batch (tuieval.batch) is priced with its discount
        d = _dollars(prices.get(row["judge"]), row["input_tokens"], row["output_tokens"], bool(row.get("batched")), row)
        if d is not None:
            j["dollars"] += d
            per_case[row["case_id"]] = per_case.get(row["case_id"], 0.0) + d
            judge_per_case[row["case_id"]] = judge_per_case.get(row["case_id"], 0.0) + d
    for spec, j in judges.items():
        if prices.get(spec) is None:
            j["dollars"] = None
    # The report's embedding requests (clustering) belong to the run, not to a case.
    embeddings: dict[str, dict[str, Any]] = {}
    for row in store.embedding_usage(run["id"]):
        e = dict(row)
        e_price = prices.get(row["model"])
        e["dollars"] = None if e_price is None else e_price.cost(row["input_tokens"] + row["estimated_tokens"], 0)
        embeddings[row["model"]] = e
    # The entailment judge of the entailment / hybrid tiers: like embeddings, the run's, no case's.
    clustering_judges: dict[str, dict[str, Any]] = {}
    for row in store.clustering_judge_usage(run["id"]):
        e = dict(row)
        e_price = prices.get(row["model"])
        e["dollars"] = None if e_price is None else e_price.cost(
            row["input_tokens"] + row["estimated_input_tokens"], row["output_tokens"] + row["estimated_output_tokens"],
            cached_tokens=row["cached_input_tokens"])
        clustering_judges[row["model"]] = e
    unpriced = sorted({spec for spec in [run["model"], *judges, *embeddings, *clustering_judges]
                       if prices.get(spec) is None})
    total = (model_total + sum(j["dollars"] or 0.0 for j in judges.values())
             + sum(e["dollars"] or 0.0 for e in embeddings.values())
             + sum(e["dollars"] or 0.0 for e in clustering_judges.values()))
    return {"total": total, "model": model_total if price is not None else None, "tokens": tokens,
            "judges": judges, "embeddings": embeddings, "clustering_judges": clustering_judges, "per_case": per_case,
            # the judges' share of per_case (a shadow replay calibrates its judge estimates on it)
            "judge_per_case": judge_per_case, "unpriced": unpriced, "batch": batch}
