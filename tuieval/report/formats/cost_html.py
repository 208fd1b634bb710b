"""The `cost` section of a run's HTML page: what the run cost in total, per case (with its
interval and n) and per sample, its tokens, what its judges, embeddings and clustering judge
cost, and the slices by cost per case. Reads only the report's `cost` object; every name that
came from a suite or a price file is escaped."""

from __future__ import annotations

from typing import Any


def _interval(pair: list[float] | None) -> str:
    from tuieval.cost.estimate import dollars

    return f"[{dollars(pair[0])}, {dollars(pair[1])}]" if pair else "no interval (n &lt; 2)"


def cost_html(cost: dict[str, Any] | None) -> list[str]:
    """The section's HTML blocks (none when the report has no cost)."""
    from tuieval.cost.estimate import dollars
    from tuieval.report.formats.html import _card, esc, html_table

    if not cost:
        return []
    model = cost.get("model") or {}
    sim = " (a made-up price for a simulated model)" if cost.get("simulated") else ""
    out = [f"<h2>Cost{esc(sim)}</h2>"]
    if cost.get("total") is None:
        unpriced = ", ".join(cost.get("unpriced") or [model.get("model") or ""])
        out.append(f"<p class=\"muted\">No price for {esc(unpriced)}: give one with <code>--prices FILE</code>.</p>")
        return out
    est = f", {model['n_estimated']} estimated from text" if model.get("n_estimated") else ""
    out += [
        "<div class=\"cards\">",
        _card("total", esc(dollars(cost["total"])), f"n={esc(model.get('n_requests'))} requests{esc(est)}"),
        _card("per case (95% CI)", esc(dollars(cost.get("per_case"))),
              f"{_interval(cost.get('per_case_ci'))} · n={esc(cost.get('n_cases'))} cases"),
        _card("per sample", esc(dollars(cost.get("per_sample")))),
        _card("tokens in / out", f"{model.get('input_tokens') or 0:,} / {model.get('output_tokens') or 0:,}",
              f"{model.get('cached_input_tokens') or 0:,} from the prompt cache"),
        "</div>",
    ]
    price = model.get("price")
    if price:
        batch = ", batch discount applied" if cost.get("batch") else ""
        out.append(f"<p class=\"muted\">Priced at {esc(price['model'])}: ${price['input']:g} input / "
                   f"${price['output']:g} output per million tokens (read {esc(price.get('read_on') or 'n/a')})"
                   f"{esc(batch)}.</p>")
    others = [("judge", j, f"{j['n_requests']} requests") for j in cost.get("judges") or []]
    others += [("embeddings", e, f"{e['n_requests']} requests, {e['n_cached']} from the response cache, "
                f"{e['input_tokens'] + e.get('estimated_tokens', 0):,} tokens")
               for e in cost.get("embeddings") or []]
    others += [("clustering judge", e, f"{e['n_requests']} requests, {e['n_cached']} from the response cache, "
                f"{e['input_tokens'] + e['estimated_input_tokens']:,} in / "
                f"{e['output_tokens'] + e['estimated_output_tokens']:,} out tokens")
               for e in cost.get("clustering_judges") or []]
    if others:
        out.append(html_table(["role", "model", "dollars", "what"], (
            [esc(role), esc(x["model"]), esc(dollars(x.get("dollars"))), esc(what)] for role, x, what in others),
            {2}))
    slices = sorted((s for s in cost.get("slices") or [] if s.get("per_case") is not None),
                    key=lambda s: -s["per_case"])
    if slices:
        out.append("<h3>Slices by cost per case</h3>")
        out.append(html_table(["slice", "n", "dollars", "per case", "95% CI"], (
            [esc(f"{s['key']}={s['value']}"), str(s["n_cases"]), esc(dollars(s["dollars"])),
             esc(dollars(s["per_case"])), _interval(s.get("per_case_ci"))] for s in slices), {1, 2, 3}))
    return out
