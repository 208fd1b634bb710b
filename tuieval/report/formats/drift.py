"""`tuieval drift` as Markdown: what to do first, then coverage, the features and the responses.

Every level name and answer comes from the traffic (a user's prompt metadata, a model's
answer) and goes through `cells.cell`, inert and table-safe.  PSI has no interval here: each
PSI is printed beside its n and the PSI two samples of those sizes show when nothing moved.
"""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import cell, ci, pct, pts


def _p(x: Any) -> str:
    if not isinstance(x, (int, float)):
        return "n/a"
    return "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def _psi(x: Any) -> str:
    if x is None:
        return "n/a"
    return "∞" if x == float("inf") else f"{x:.3f}"


def _chi2(c: dict[str, Any]) -> str:
    if c.get("statistic") is None:
        return f"n/a ({c.get('reason')})"
    note = " (sparse)" if c.get("sparse") else ""
    return f"{c['statistic']:.2f}, df {c['df']}, p {_p(c['p_value'])}{note}"


def _span(s: dict[str, Any]) -> str:
    if not s["n"]:
        return "n = 0"
    rng = s.get("lines") or s.get("timestamps")
    what = "lines" if "lines" in s else ""
    return f"n = {s['n']}, {what} {cell(rng[0])} … {cell(rng[1])}".replace("  ", " ")


def to_markdown(r: dict[str, Any]) -> str:
    out: list[str] = []
    log, win, cov = r["log"], r["window"], r["coverage"]
    out.append(f"# Drift: traffic against the suite {cell(r['suite']['name'])} ({r['suite']['n_cases']} cases)")
    out.append("")
    out.append(f"Log {cell(log['path'])}: {log['lines']} lines, {log['records']} records, "
               f"{log['malformed']} malformed.")
    for p in log["problems"][:10]:
        out.append(f"- line {p['line']}: {cell(p['message'], limit=160)}")
    if log["malformed"] > 10:
        out.append(f"- … {log['malformed'] - 10} more (`--format json` lists the first {len(log['problems'])})")
    kind = {"halves": "no --window: the suite against the whole log; windows = the log's second half against its first",
            "lines": f"--window {cell(win['spec'])}: the last lines against the same number before them",
            "time": f"--window {cell(win['spec'])}: the newest window of time against the one before it"}[win["kind"]]
    out.append(f"Windows ({kind}): suite compared with {_span(win['suite_compared_with'])}; "
               f"current {_span(win['current'])}; previous {_span(win['previous'])}.")
    if log["no_timestamp"]:
        out.append(f"{log['no_timestamp']} record(s) have no timestamp and are in no time window.")
    if log["suite_only_metadata"]:
        out.append("Metadata only the suite has (not compared): "
                   + ", ".join(cell(k) for k in log["suite_only_metadata"]) + ".")
    if log["traffic_only_metadata"]:
        out.append("Metadata only the traffic has (not compared): "
                   + ", ".join(cell(k) for k in log["traffic_only_metadata"]) + ".")
    out.append("")

    out.append("## What to do")
    out.append("")
    recs = r["recommendations"] or ["nothing stands out: the suite covers this traffic's slices and no feature moved"]
    out.extend(f"- {cell(x)}" for x in recs)
    out.append("")

    out.append(f"## Coverage: slices with fewer than {cov['min_cases']} suite cases")
    out.append("")
    if cov["n"]:
        out.append(f"{pct(cov['share'])} {ci(cov['share_ci'])} of {cov['n']} prompts fall in at least one "
                   f"({cov['traffic_in_under_covered']}).")
    if cov["under_covered"]:
        out.append("")
        out.append("| slice | suite cases | traffic | share of traffic [95% CI] |")
        out.append("|---|---:|---:|---|")
        for s in cov["under_covered"]:
            out.append(f"| {cell(s['key'])}={_level(s['value'])} | {s['suite_cases']} | {s['traffic']} | "
                       f"{pct(s['traffic_share'])} {ci(s['traffic_share_ci'])} |")
    out.append("")

    out.append("## Features: the suite against traffic, and between windows")
    out.append("")
    out.append("PSI bands are conventions: < 0.1 stable, 0.1–0.25 moderate, > 0.25 shifted; "
               "\"if same\" is the PSI samples of these sizes show when nothing moved.")
    out.append("")
    out.append("| feature | suite → traffic PSI | band | if same | χ² | previous → current PSI | band | χ² |")
    out.append("|---|---:|---|---:|---|---:|---|---|")
    for f in r["features"]:
        a, b = f["suite_vs_traffic"], f["between_windows"]
        out.append(f"| {cell(f['key'])} | {_psi(a['psi'])} | {a['psi_band'] or 'n/a'} | {_psi(a['psi_if_same'])} | "
                   f"{_chi2(a['chi2'])} | {_psi(b['psi'])} | {b['psi_band'] or 'n/a'} | {_chi2(b['chi2'])} |")
    for f in r["features"]:
        a, b = f["suite_vs_traffic"], f["between_windows"]
        cur = {lv["value"]: lv for lv in b["levels"]}
        out.append("")
        out.append(f"### {cell(f['key'])}")
        out.append("")
        out.append(f"| level | suite (n={a['n_reference']}) | traffic (n={a['n_current']}) | "
                   f"previous (n={b['n_reference']}) | current (n={b['n_current']}) |")
        out.append("|---|---:|---:|---:|---:|")
        for lv in a["levels"]:
            w = cur.get(lv["value"], {})
            out.append(f"| {_level(lv['value'])} | {lv['reference']} ({pct(lv['reference_share'])}) | "
                       f"{lv['current']} ({pct(lv['current_share'])}) | "
                       f"{w.get('reference', 0)} ({pct(w.get('reference_share'))}) | "
                       f"{w.get('current', 0)} ({pct(w.get('current_share'))}) |")
    out.append("")

    resp = r["responses"]
    out.append("## Logged responses, between windows")
    out.append("")
    ref = resp.get("refusal")
    if not ref:
        out.append("The log holds no responses.")
    else:
        c, p = ref["current"], ref["previous"]
        out.append(f"Refusal rate: current {pct(c['rate'])} {ci(c['ci'])} (n={c['n']}), "
                   f"previous {pct(p['rate'])} {ci(p['ci'])} (n={p['n']}); "
                   f"change {pts(ref['delta'])} pts {_pts_ci(ref['delta_ci'])}, p {_p(ref['p_value'])}.")
        mix = resp.get("answer_mix")
        if mix:
            out.append(f"Answer-cluster mix (the most common answers by name, the rest pooled): "
                       f"PSI {_psi(mix['psi'])} ({mix['psi_band']}), χ² {_chi2(mix['chi2'])}.")
            out.append("")
            out.append(f"| answer | previous (n={mix['n_reference']}) | current (n={mix['n_current']}) |")
            out.append("|---|---:|---:|")
            for lv in mix["levels"]:
                shown = lv.get("example") if lv.get("example") is not None else _level(lv["value"])
                out.append(f"| {cell(shown, limit=60)} | {lv['reference']} ({pct(lv['reference_share'])}) | "
                           f"{lv['current']} ({pct(lv['current_share'])}) |")
    out.append("")
    return "\n".join(out)


def _level(v: Any) -> str:
    return "(missing)" if v is None else cell(v)


def _pts_ci(interval: Any) -> str:
    if not interval:
        return ""
    return f"[{pts(interval[0])}, {pts(interval[1])}]"
