"""The robustness sections as Markdown: template sensitivity and extraction sensitivity."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import TEST_NAMES, cell, ci, delta_ci, p_cell, p_value, pct, pts


def templates_markdown(section: dict[str, Any] | None) -> list[str]:
    if not section or not section.get("templates"):
        return []
    out = ["", f"## Template sensitivity ({section['n_templates']} templates, {section['n_cases']} paired cases)", "",
           "| template | n | accuracy (95% CI) |", "|---|---|---|"]
    for t in section["templates"]:
        out.append(f"| {cell(t['template'])} | {t['n_cases']} | {pct(t['accuracy'])} {ci(t.get('accuracy_ci'))} |")
    sp, test, flip = section.get("spread") or {}, section.get("test") or {}, section.get("flip_rate") or {}
    name = {"cochran_q": "Cochran's Q", "permutation": "within-case permutation test"}.get(test.get("name"), "test")
    out += ["",
            f"Spread best − worst: {pts(sp.get('value'), False)} pts ({cell(sp.get('best'))} vs {cell(sp.get('worst'))}), "
            f"95% CI {delta_ci(sp.get('ci'))}; templates differ: {p_value(test.get('p_value'))} ({name}).",
            f"Verdict depends on the template for {flip.get('n_flipped')} of {flip.get('n_cases')} cases "
            f"({pct(flip.get('value'))} {ci(flip.get('ci'))})."]
    listed = section.get("dependent_cases") or []
    if listed:
        out.append("Cases: " + ", ".join(cell(c["id"]) for c in listed[:20]) + (" …" if len(listed) > 20 else ""))
    return out


def extraction_markdown(section: dict[str, Any]) -> str:
    """`tuieval rescore`'s Markdown."""
    run = section.get("run") or {}
    out = [f"# Extraction sensitivity · {cell(run.get('suite'))} · {cell(run.get('model'))}", "",
           f"Run `{cell(run.get('id'))}`: {section['n_samples']} samples over {section['n_cases']} cases, re-read by "
           f"{len(section['extractors'])} extractors (no new requests).", ""]
    return "\n".join(out + extraction_lines(section, level="##")) + "\n"


def extraction_lines(section: dict[str, Any] | None, *, level: str = "###") -> list[str]:
    """The extractor table, the headline, the pairs, the slices and the disagreeing samples."""
    if not section or not section.get("extractors"):
        return []
    out = ["| extractor | accuracy (95% CI) | n cases | samples read |", "|---|---|---|---|"]
    for e in section["extractors"]:
        if e.get("applicable", True):
            out.append(f"| {cell(e['name'])} | {pct(e['accuracy'])} {ci(e.get('accuracy_ci'))} | {e['n_cases']} | "
                       f"{e['n_extracted']} |")
        else:
            out.append(f"| {cell(e['name'])} | not applicable: read nothing from any response | {e['n_cases']} | 0 |")
    dep, dis = section.get("points_depending") or {}, section.get("disagreement_rate") or {}
    spread = dep.get("spread_points")
    if spread is None:
        headline = "Fewer than two extractors apply: nothing to compare."
    elif spread == 0 and not dep.get("n_cases_depending"):
        headline = "**No point of the score depends on the extractor**: every applicable one agrees on every case."
    else:
        headline = (f"**{spread:.1f} points of the score depend on the extractor** ({cell(dep.get('best'))} vs "
                    f"{cell(dep.get('worst'))}); the verdict of {dep.get('n_cases_depending')} of {section['n_cases']} "
                    "cases changes with it.")
    out += ["", f"{headline} "
                f"Extractors disagree on {dis.get('n_disagree')} of {dis.get('n_samples')} samples "
                f"({pct(dis.get('value'))} {ci(dis.get('ci'))})."]
    test = TEST_NAMES.get(section.get("test"), "paired test")
    if section.get("pairs"):
        out += ["", f"{level} Pairs ({test}, BH across pairs)", "",
                "| a | b | Δ pts b − a (95% CI) | only a right | only b right | p | q |", "|---|---|---|---|---|---|---|"]
        for p in section["pairs"]:
            out.append(f"| {cell(p['a'])} | {cell(p['b'])} | {pts(p['delta'])} {delta_ci(p.get('delta_ci'))} | "
                       f"{p['a_only']} | {p['b_only']} | {p_cell(p['p_value'])} | {p_cell(p.get('q_value'))} |")
    if section.get("by_slice"):
        out += ["", f"{level} Disagreement by slice (highest first)", "", "| slice | samples | disagreement (95% CI) |",
                "|---|---|---|"]
        for s in section["by_slice"]:
            name = cell(f"{s['key']}={s['value']}")
            out.append(f"| {name} | {s['n_samples']} | {pct(s['disagreement_rate'])} {ci(s.get('ci'))} |")
    listed = section.get("disagreements") or []
    if listed:
        names = [e["name"] for e in section["extractors"] if e.get("applicable", True)]
        out += ["", f"{level} Samples where the extractors disagree ({len(listed)})", "",
                "| case | template | sample | " + " | ".join(cell(n) for n in names) + " |",
                "|---|---|---|" + "---|" * len(names)]
        for d in listed:
            cells = [f"{'✓' if d['correct'][n] else '✗'} {cell(d['extracted'][n], limit=30)}" for n in names]
            out.append(f"| {cell(d['case_id'])} | {cell(d['template'])} | {d['sample_index']} | " + " | ".join(cells) + " |")
    return out


def _change(r: dict[str, Any], kind: str) -> str:
    """`k/n rate (CI)` of the answer- or string-change rate; — when no pair had answers to compare."""
    rate, n = r.get(f"{kind}_change_rate"), r.get("n_answer_compared")
    if rate is None or not n:
        return "—"
    k = r.get("answer_changes" if kind == "answer" else "string_changes")
    return f"{k}/{n} {pct(rate)} {ci(r.get(f'{kind}_change_rate_ci'))}"


def perturbations_markdown(section: dict[str, Any] | None) -> list[str]:
    """Per perturbation on all cases, the worst case, and the slices whose drop is significant."""
    if not section or not section.get("rows"):
        return []
    method = section.get("method") or {}
    out = ["", f"## Perturbations ({section['n_perturbed']} perturbed copies of {section['n_originals']} cases, "
               f"{cell(method.get('test'))}, BH across the table)", "",
           "| perturbation | pairs | original | perturbed | Δ pts (95% CI) | correct → wrong (95% CI) | p | q "
           "| answer changed (95% CI) | string changed |",
           "|---|---|---|---|---|---|---|---|---|---|"]

    def row(r: dict[str, Any], name: str) -> str:
        mark = " ▼" if r.get("significant") and (r.get("delta") or 0) < 0 else ""
        return (f"| {name} | {r['n_pairs']} | {pct(r['accuracy_original'])} | {pct(r['accuracy_perturbed'])} | "
                f"{pts(r['delta'])} {delta_ci(r.get('delta_ci'))}{mark} | {pct(r.get('flip_rate'))} "
                f"{ci(r.get('flip_rate_ci'))} | {p_cell(r.get('p_value'))} | {p_cell(r.get('q_value'))} | "
                f"{_change(r, 'answer')} | {_change(r, 'string')} |")

    for r in section["rows"]:
        if r.get("slice") == "all":
            out.append(row(r, cell(r["label"])))
    change = method.get("answer_change") or {}
    if change:
        out += ["", f"Answer changed: the share of pairs where more than half of the perturbed copy's answers fall "
                    f"outside the original's majority answer, judged by the run's {cell(change.get('clustering'))} "
                    "clustering (a change of meaning); string changed: the same on the exact strings. "
                    "n = pairs with answers on both sides."]
    worst = section.get("worst_case") or {}
    if worst.get("accuracy") is not None:
        out += ["", f"Worst case over every perturbation of a case: {pct(worst['accuracy'])} "
                    f"{ci(worst.get('accuracy_ci'))} of {worst.get('n_cases')} cases."]
    flagged = [r for r in section["rows"] if r.get("slice") != "all" and r.get("significant")]
    if flagged:
        out += ["", "Slices whose accuracy moved significantly:", "",
                "| perturbation · slice | pairs | original | perturbed | Δ pts (95% CI) | correct → wrong (95% CI) | p | q "
                "| answer changed (95% CI) | string changed |",
                "|---|---|---|---|---|---|---|---|---|---|"]
        out += [row(r, cell(f"{r['label']} · {r['slice']}")) for r in flagged]
    return out
