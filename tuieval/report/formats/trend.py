"""A suite's trend (tuieval.trend/1) as Markdown (`tuieval trend --format md`)."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import TEST_NAMES, cell, ci, delta_ci, ms, p_cell, pct, pts


def _p99(m: dict[str, Any]) -> str:
    lo, hi = (m.get("ci") or [None, None])
    interval = f"[{ms(lo) if lo is not None else '−∞'}, {ms(hi) if hi is not None else '∞'}]"
    return f"{ms(m.get('value'))} {interval} n={m.get('n')}"


def _worst(w: dict[str, Any] | None) -> str:
    if not w:
        return "n/a"
    return f"{cell(w['key'])}={cell(w['value'])} {pct(w['accuracy'])} {ci(w.get('ci'))} n={w.get('n_cases')}"


def _step(step: dict[str, Any] | None) -> str:
    """What changed from the previous run: the accuracy's paired test, then the other marks."""
    if step is None:
        return "first run"
    acc = step["accuracy"]
    if not acc["tested"]:
        parts = [cell(acc.get("note") or "untested")]
    else:
        mark = {"down": "▼ ", "up": "▲ "}.get(acc.get("direction") or "", "")
        parts = [f"{mark}Δ {pts(acc['delta'])} pts {delta_ci(acc.get('delta_ci'))}, "
                 f"p {p_cell(acc.get('p_value'))}, q {p_cell(acc.get('q_value'))} "
                 f"({TEST_NAMES.get(acc.get('test'), cell(acc.get('test')))}, {acc.get('n_paired')} paired)"
                 + (" **significant**" if acc["significant"] else "")]
    ws = step.get("worst_slice")
    if ws and ws.get("significant"):
        parts.append(f"worst slice {cell(ws['key'])}={cell(ws['value'])} Δ {pts(ws.get('delta'))} pts "
                     f"q {p_cell(ws.get('q_value'))} **significant**")
    if step["consistency"]["significant"]:
        parts.append(f"consistency {pts(step['consistency']['delta'])} pts (intervals disjoint)")
    if step["p99_ms"]["significant"]:
        d = step["p99_ms"]["delta"]
        parts.append(f"p99 {'+' if (d or 0) >= 0 else ''}{ms(d)} ms (intervals disjoint)")
    return "; ".join(parts)


def trend_to_markdown(trend: dict[str, Any]) -> str:
    alpha = trend.get("alpha", 0.05)
    out = [f"# Trend · {cell(trend['suite'])}", "",
           f"{trend['n_runs']} finished run(s), oldest first, one table per model. A step is marked (▲/▼) when "
           f"the paired test on the cases both runs hold (exact McNemar with one sample per case, sign-flip "
           f"permutation otherwise) gives q < {alpha:g} after Benjamini–Hochberg across the model's steps and "
           f"its {1 - alpha:.0%} interval excludes 0. Consistency and p99 are marked only when the two runs' "
           "intervals are disjoint.", ""]
    for series in trend["series"]:
        name = cell(series["model"]) + (" (simulated)" if series.get("simulated") else "")
        out += [f"## {name}", "",
                "| run | started | tags | cases | accuracy (95% CI, n samples) | worst slice | consistency (95% CI) "
                "| p99 ms (95% CI, n) | change from the previous run |",
                "|---|---|---|---|---|---|---|---|---|"]
        steps = [None] + list(series["steps"])
        for point, step in zip(series["runs"], steps):
            acc, cons = point["accuracy"], point["consistency"]
            out.append(f"| `{cell(point['id'])}` | {cell(point['started_at'])} | {cell(', '.join(point['tags']))} | "
                       f"{point['n_cases']} | {pct(acc['value'])} {ci(acc.get('ci'))} n={acc.get('n')} | "
                       f"{_worst(point['worst_slice'])} | {pct(cons['value'])} {ci(cons.get('ci'))} | "
                       f"{_p99(point['p99_ms'])} | {_step(step)} |")
        out.append("")
    for s in trend.get("skipped_runs") or []:
        out.append(f"- left out: `{cell(s['id'])}` ({cell(s['model'])}) — {cell(s['reason'])}")
    if trend.get("skipped_runs"):
        out.append("")
    return "\n".join(out)
