"""The `shadow` section as Markdown (`tuieval shadow`, and `tuieval report` of a shadow run)."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import cell, ci, delta_ci, ms, pct, pts, slice_name

#: disagreeing prompts shown in Markdown (all are in the JSON section and in `tuieval export`)
SHOWN = 10


def _ms_ci(interval: Any) -> str:
    if not interval:
        return "n/a"
    return f"[{interval[0]:+.0f}, {interval[1]:+.0f}]"


def _signed_ms(x: Any) -> str:
    return f"{x:+.0f}" if isinstance(x, (int, float)) else "n/a"


def _num(x: Any, spec: str = ".1f") -> str:
    return format(x, spec) if isinstance(x, (int, float)) else "n/a"


def _num_ci(interval: Any) -> str:
    return f"[{interval[0]:+.1f}, {interval[1]:+.1f}]" if interval else "n/a"


def shadow_markdown(sec: dict[str, Any]) -> str:
    d = sec["disagreement"]
    s = sec["sampling"]
    log = sec["log"]
    lines = [
        f"## Shadow: {cell(sec['candidate']['model'])} vs {cell(sec['baseline']['model'])} "
        f"({'logged answers' if sec['baseline']['kind'] == 'logged' else 'baseline model'})",
        "",
        f"Log `{cell(log.get('path'))}`: {log.get('records', 0)} records, {log.get('problems', 0)} unreadable lines; "
        f"{s.get('replayed')} of {s.get('planned')} sampled prompts replayed (budget {s.get('budget')}; "
        f"stopped: {s.get('stop')}"
        + (f", precision {s['precision']:g}" if isinstance(s.get("precision"), (int, float)) else "") + ").",
        "",
    ]
    cost = s.get("cost")
    if cost:
        from tuieval.cost.estimate import dollars

        if cost.get("stopped_in") == "judge":
            stop = f"; stopped at the limit (the next judgement ≈ {dollars(cost.get('next_judgement_estimate'))})"
        elif cost.get("stopped"):
            stop = f"; stopped at the limit (the next prompt ≈ {dollars(cost.get('next_prompt_estimate'))})"
        else:
            stop = ""
        roles = cost.get("by_role") or {}
        parts = ", ".join(f"{role} {dollars(roles[role])}" for role in ("candidate", "baseline", "judge")
                          if roles.get(role) is not None)
        lines += [f"Cost: {dollars(cost.get('spent'))} spent of --max-cost {dollars(cost.get('limit'))}"
                  + (f" ({parts})" if parts else "") + stop + ".", ""]
    for g in sec.get("gates") or []:
        mark = "✓ passed" if g["passed"] else ("✗ FAILED" if g["passed"] is False else "? no value")
        value = f"{g['value']:.3f}" if isinstance(g.get("value"), (int, float)) else "no value"
        lines.append(f"- {mark} — `{g['gate']}` ≤ {g['threshold']:g}: {value} (n={g['n']})")
    if sec.get("gates"):
        lines.append("")
    lines += [
        f"**Disagreement** ({cell(sec.get('agreement_method'))} tier): {pct(d['rate'])} {ci(d.get('ci'))} "
        f"(n={d['n']}; anytime-valid {ci(d.get('cs'))})"
        + (f"; {sec['n_not_comparable']} prompts had no baseline answer" if sec.get("n_not_comparable") else ""),
        "",
        "| slice | n | disagreement | 95% CI |",
        "|---|---:|---:|---|",
    ]
    for r in sec.get("slices") or []:
        lines.append(f"| {slice_name(r)} | {r['n']} | {pct(r['rate'])} | {ci(r['ci'])} |")
    found = sec.get("discovered") or []
    lines.append("")
    if found:
        lines.append("Slices that disagree significantly more than the rest:")
        for r in found:
            lines.append(f"- {cell(r['key'])}={cell(r['value'])}: {pct(r['failure_rate'])} vs "
                         f"{pct(r['rest_failure_rate'])} (n={r['n']}, q={r['q_value']:.3g})")
    else:
        lines.append("No slice disagrees significantly more than the rest.")
    lat = sec["latency_ms"]
    lines += ["", "| latency | baseline ms | candidate ms | shift ms | 95% CI | n |", "|---|---:|---:|---:|---|---:|"]
    for q in ("p50", "p95", "p99"):
        x = lat[q]
        lines.append(f"| {q} | {ms(x['baseline'])} | {ms(x['candidate'])} | {_signed_ms(x['shift'])} | "
                     f"{_ms_ci(x['ci'])} | {x['n']} |")
    ln, rf = sec["length_chars"], sec["refusal"]
    lines += ["",
              f"Answer length (chars): {_num(ln['baseline'])} → {_num(ln['candidate'])}, shift "
              f"{_num(ln['shift'], '+.1f')} {_num_ci(ln['ci'])} (n={ln['n']}).",
              f"Refusal rate: {pct((rf['baseline'] or {}).get('rate'))} → {pct((rf['candidate'] or {}).get('rate'))}, "
              f"shift {pts(rf['shift'])} pts {delta_ci(rf['ci'])} (n={rf['n']}).", ""]
    j = sec.get("judge")
    if j:
        lines += [f"Pairwise judge ({', '.join(cell(m) for m in j['models'])}, both orders) on the disagreements: "
                  f"candidate better {j['win']}, tie {j['tie']}, baseline better {j['loss']}"
                  + (f", not judged {j['unjudged']}" if j.get("unjudged") else "")
                  + f"; candidate win rate {pct(j['win_rate'])} {ci(j.get('win_ci'))} (n={j['n']}).", ""]
    verdicts = {"win": "candidate better", "loss": "baseline better", "tie": "tie"}
    shown = sec.get("disagreements") or []
    if shown:
        lines.append(f"Disagreeing prompts ({sec['n_disagreements']}; first {min(SHOWN, len(shown))}):")
        lines.append("")
        for p in shown[:SHOWN]:
            cand = p["candidate"] if p["candidate"] is not None else f"(error: {p.get('candidate_error')})"
            lines.append(f"- `{cell(p['case_id'])}` {cell(p['prompt'], limit=80)}")
            lines.append(f"  - baseline: {cell(p['baseline'], limit=120)}")
            lines.append(f"  - candidate: {cell(cand, limit=120)}")
            if p.get("judge"):
                lines.append(f"  - judge: {verdicts.get(p['judge'], cell(p['judge']))}")
    return "\n".join(lines) + "\n"
