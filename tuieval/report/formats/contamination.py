"""The `contamination` section of a probe run's report as Markdown."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import TEST_NAMES, cell, ci, pct, pts


def _rates(rows: list[dict[str, Any]]) -> list[str]:
    out = ["| slice | n | flagged | rate (95% CI) |", "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {cell(r['slice'])} | {r['n']} | {r['k']} | {pct(r['rate'])} {ci(r['rate_ci'])} |")
    return out


def _p(x: Any) -> str:
    return "n/a" if not isinstance(x, (int, float)) else ("< 0.0001" if x < 1e-4 else f"{x:.3g}")


def contamination_markdown(section: dict[str, Any] | None) -> list[str]:
    if not section:
        return []
    likely = section["likely"]
    out = ["", "## Contamination probes", "",
           f"Probes: {', '.join(section['probes'])}. **Likely contaminated: {likely['n_flagged']} of "
           f"{likely['n_cases']} cases, {pct(likely['rate'])} {ci(likely['rate_ci'])}** — the scoreboard's "
           f"`{likely['slice']}` slice.", "", *_rates(likely["by_slice"])]
    v = section.get("verbatim")
    if v:
        t = v.get("threshold")
        rule = ("no threshold (no control answers)" if t is None else
                f"flagged above the controls' {v['quantile']:g}-quantile: longest shared run > {t['lcs_tokens']:g} "
                f"tokens and {v['overlap_n']}-gram overlap > {pct(t['overlap'])}")
        out += ["", "### Verbatim completion", "",
                f"{v['n_flagged']} of {v['n_cases']} cases reproduced, {pct(v['rate'])} {ci(v['rate_ci'])}; "
                f"{v['n_controls']} shuffled controls; {rule}.", "", *_rates(v["by_slice"])]
    for probe, title in (("rewrite", "Rewrite gap"), ("options", "Option order")):
        p = section.get(probe)
        if not p:
            continue
        verdict = "a significant drop" if p["significant_drop"] else "no significant drop"
        out += ["", f"### {title}", "",
                f"{p['n_pairs']} paired cases, {TEST_NAMES.get(p['test'], p['test'])}, Benjamini–Hochberg across "
                f"slices: {verdict} overall.", "",
                "| slice | n | original (95% CI) | copy (95% CI) | Δ pts (95% CI) | broke / fixed | p | q |",
                "|---|---|---|---|---|---|---|---|"]
        for r in p["rows"]:
            d = r.get("delta_ci") or [None, None]
            out.append(f"| {cell(r['slice'])} | {r['n_pairs']} | {pct(r['accuracy_original'])} "
                       f"{ci(r['accuracy_original_ci'])} | {pct(r['accuracy_perturbed'])} {ci(r['accuracy_perturbed_ci'])}"
                       f" | {pts(r['delta'])} [{pts(d[0])}, {pts(d[1])}] | {r['flips_correct_to_wrong']} / "
                       f"{r['flips_wrong_to_correct']} | {_p(r['p_value'])} | {_p(r.get('q_value'))}"
                       f"{' ⚑' if r.get('significant') else ''} |")
    g = section.get("ngram")
    if g:
        out += ["", f"### {g['n']}-gram overlap with the corpus", "",
                f"{g['n_flagged']} of {g['n_cases']} cases share a {g['n']}-gram with `{cell(g['corpus'])}` "
                f"({g['n_corpus_tokens']} tokens), {pct(g['rate'])} {ci(g['rate_ci'])}; "
                f"{g['n_too_short']} case(s) shorter than {g['n']} tokens cannot match.", "", *_rates(g["by_slice"])]
    if section.get("cases"):
        out += ["", "### Flagged cases", "", "| case | probes | reproduced span / shared n-gram |", "|---|---|---|"]
        for c in section["cases"]:
            shown = (c.get("verbatim") or {}).get("span_text") or (c.get("ngram") or {}).get("ngram") or ""
            out.append(f"| {cell(c['case_id'])} | {', '.join(c['probes'])} | «{cell(shown, limit=80)}» |")
    return out
