"""A paired comparison of two runs (tuieval.compare/1) as Markdown (`tuieval compare --format md`)."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cells import TEST_NAMES, cell, delta_ci, mde_points, p_cell, p_value, pts, slice_name


def comparison_to_markdown(cmp: dict[str, Any]) -> str:
    """A readable report of a tuieval.compare/1 object: both runs, the overall line,
    regressions first, then every slice."""
    base, cand, o = cmp["baseline"], cmp["candidate"], cmp["overall"]
    alpha = cmp.get("alpha", 0.05)
    conf = f"{(1 - alpha):.0%}"
    test = cmp.get("test")
    test_name = TEST_NAMES.get(test, cell(test))

    def run_row(label: str, r: dict[str, Any]) -> str:
        model = cell(r.get("model")) + (" (simulated)" if r.get("simulated") else "")
        return (f"| {label} | `{cell(r.get('id'))}` | {model} | {cell(r.get('samples_per_case'))} | "
                f"{cell(r.get('status'))} |")

    out = [
        f"# Comparison · {cell(base.get('suite'))}",
        "",
        "| | run | model | samples/case | status |",
        "|---|---|---|---|---|",
        run_row("baseline", base),
        run_row("candidate", cand),
        "",
    ]
    n = cmp.get("n_cases", o.get("n_cases"))
    unpaired = cmp.get("unpaired_cases") or 0
    line = (f"**Overall** ({n} paired cases{f', {unpaired} unpaired left out' if unpaired else ''}): "
            f"{pts(o['baseline_accuracy'], False)}% → {pts(o['candidate_accuracy'], False)}%, "
            f"Δ {pts(o['delta'])} pts, {conf} CI {delta_ci(o.get('delta_ci'))}, {p_value(o.get('p_value'))} "
            f"({test_name}")
    if o.get("p_mid") is not None:
        line += f"; mid-{p_value(o['p_mid'])}"
    if "b" in o and "c" in o:
        line += f"; baseline better on {o['b']}, candidate better on {o['c']}"
    line += ")"
    if o.get("significant"):
        line += (" — **significant " + ("regression" if o["delta"] < 0 else "improvement")
                 + f"** (p < {alpha:g}, CI excludes 0)")
    elif "mde" in o:
        # not significant: "no change" and "could not have seen one" are different answers
        line += (f" — not significant; smallest change this comparison detects with 80% power: "
                 f"{mde_points(o.get('mde'))}" if o.get("mde") is not None
                 else " — not significant, and too few cases to detect any change")
    out += [line, ""]

    header = ["| slice | n | baseline | candidate | Δ pts (" + conf + " CI) | p | q |", "|---|---|---|---|---|---|---|"]

    def row(s: dict[str, Any], mark: str | None = None) -> str:
        cells = (f"| {slice_name(s)} | {s['n_cases']} | "
                 f"{pts(s['baseline_accuracy'], False)}% | {pts(s['candidate_accuracy'], False)}% | "
                 f"{pts(s['delta'])} {delta_ci(s.get('delta_ci'))} | {p_cell(s.get('p_value'))} | "
                 f"{p_cell(s.get('q_value'))} |")
        return cells if mark is None else cells + f" {mark} |"

    regs = cmp.get("regressions") or []
    m = cmp.get("m", len(cmp.get("slices") or []))
    rule = f"BH q < {alpha:g} over {m} slice tests and the CI excluding 0"
    if regs:
        out += [f"## Regressions ({len(regs)}, worst first)", "", f"Significant: {rule}.", "", *header]
        out += [row(s) for s in regs]
    else:
        out += ["## Regressions", "", f"No slice regressed significantly ({rule})."]
    imps = cmp.get("improvements") or []
    if imps:
        out += ["", f"## Improvements ({len(imps)})", "", *header]
        out += [row(s) for s in imps]
    slices = cmp.get("slices") or []
    if slices:
        out += ["", "## All slices", "", header[0] + " |", header[1] + "---|"]
        for s in slices:
            mark = ""
            if s.get("significant"):
                mark = "▼ regression" if s["delta"] < 0 else "▲ improvement"
            elif "mde" in s:
                mark = f"MDE {mde_points(s.get('mde'))}"
            out.append(row(s, mark))
        if any("mde" in s for s in slices):
            lvl = (cmp.get("mde_alpha") or {}).get("slices")
            out += ["", "MDE: the smallest change in a slice's accuracy its paired test detects with 80% power"
                    + (f" at the per-slice level {lvl:.3g} (α / {m})" if isinstance(lvl, (int, float)) else "")
                    + "; a slice not marked could not have shown a smaller one."]
    untested = cmp.get("untested_slices") or []
    if untested:
        out += ["", f"Not tested (fewer than {cmp.get('n_min')} paired cases; p = 1 in the BH family): "
                + ", ".join(f"{slice_name(s)} (n={s['n_cases']}, "
                            f"Δ {pts(s['delta'])} pts)" for s in untested)]
    warnings = cmp.get("warnings") or []
    if warnings:
        out += ["", "## Warnings", ""] + [f"- {cell(w)}" for w in warnings]
    return "\n".join(out) + "\n"
