"""The `cost` section as Markdown, and the one-line cost summary `tuieval run` prints."""

from __future__ import annotations

from typing import Any

from tuieval.cost.estimate import dollars
from tuieval.report.formats.cells import cell, slice_name


def _interval(pair: list[float] | None) -> str:
    return f"[{dollars(pair[0])}, {dollars(pair[1])}]" if pair else "(no interval: n < 2)"


def cost_line(cost: dict[str, Any] | None) -> str | None:
    """`cost $0.0038 (n=80 requests; $9.6e-05 per case [..], n=40 cases)`, or why there is none."""
    if not cost:
        return None
    model = cost["model"]
    if cost.get("total") is None:
        return f"cost: no price for {', '.join(cost.get('unpriced') or [model['model']])} (give one with --prices FILE)"
    sim = ", a made-up price for a simulated model" if cost.get("simulated") else ""
    est = f", {model['n_estimated']} estimated from text" if model.get("n_estimated") else ""
    return (f"cost {dollars(cost['total'])} (n={model['n_requests']} requests{est}; {dollars(cost.get('per_case'))} "
            f"per case {_interval(cost.get('per_case_ci'))}, n={cost['n_cases']} cases{sim})")


def cost_markdown(cost: dict[str, Any] | None) -> list[str]:
    if not cost:
        return []
    out = ["", "## Cost", "", cost_line(cost) or ""]
    price = (cost.get("model") or {}).get("price")
    if price:
        out += ["", f"Priced at {price['model']}: ${price['input']:g} input / ${price['output']:g} output per million "
                    f"tokens (read {price.get('read_on') or 'n/a'})"
                + (", batch discount applied" if cost.get("batch") else "") + "."]
    model = cost.get("model") or {}
    if model.get("cached_input_tokens") or model.get("cache_write_tokens"):
        rate = f"${price['cached_input']:g}" if price and price.get("cached_input") is not None else "the input rate"
        line = (f"Of {model['input_tokens']:,} input tokens, {model.get('cached_input_tokens') or 0:,} came from the "
                f"provider's prompt cache (priced at {rate} per million)")
        if model.get("cache_write_tokens"):
            line += f" and {model['cache_write_tokens']:,} were written to it"
            if model.get("cache_write_1h_tokens"):
                line += f" ({model['cache_write_1h_tokens']:,} of them to the one-hour cache)"
        out += ["", line + "."]
    for j in cost.get("judges") or []:
        out.append(f"- judge `{cell(j['model'])}`: {dollars(j.get('dollars'))} over {j['n_requests']} requests")
    for e in cost.get("embeddings") or []:
        cached = f", {e['n_cached']} answered from the response cache" if e.get("n_cached") else ""
        est = f", {e['estimated_tokens']:,} estimated from text" if e.get("estimated_tokens") else ""
        out.append(f"- embeddings `{cell(e['model'])}`: {dollars(e.get('dollars'))} over {e['n_requests']} requests "
                   f"({e['input_tokens']:,} tokens{est}{cached})")
    for e in cost.get("clustering_judges") or []:
        cached = f", {e['n_cached']} answered from the response cache" if e.get("n_cached") else ""
        est = e.get("estimated_input_tokens", 0) + e.get("estimated_output_tokens", 0)
        est_text = f", {est:,} estimated from text" if est else ""
        out.append(f"- clustering judge `{cell(e['model'])}`: {dollars(e.get('dollars'))} over {e['n_requests']} "
                   f"requests ({e['input_tokens']:,} input / {e['output_tokens']:,} output tokens{est_text}{cached})")
    slices = sorted((s for s in cost.get("slices") or [] if s.get("per_case") is not None),
                    key=lambda s: -s["per_case"])
    if slices:
        out += ["", "| slice | n | dollars | per case (95% CI) |", "|---|---|---|---|"]
        for s in slices:
            out.append(f"| {slice_name(s)} | {s['n_cases']} | {dollars(s['dollars'])} | {dollars(s['per_case'])} "
                       f"{_interval(s.get('per_case_ci'))} |")
    return out
