"""A run's report as Markdown (`tuieval report --format md`) and the summary `tuieval run` prints."""

from __future__ import annotations

from typing import Any

from tuieval.report.formats.cost import cost_line, cost_markdown
from tuieval.report.formats.cells import cell, ci, latency, mde_points, ms, pct, slice_name
from tuieval.report.formats.judge import judge_markdown
from tuieval.report.formats.shadow import shadow_markdown
from tuieval.report.formats.robustness import extraction_lines, perturbations_markdown, templates_markdown


def gate_lines(report: dict[str, Any]) -> list[str]:
    """One line per gate bound: ✓/✗, what it checks, the value and n it was checked on."""
    out = []
    for g in report.get("gates") or []:
        mark = "✓ passed" if g["passed"] else "✗ FAILED"
        value = f"{g['value']:.3f}" if isinstance(g.get("value"), (int, float)) else "no value"
        n = f"n={g['n']}" if g.get("n") is not None else "n/a"
        out.append(f"- {mark} — `{cell(g['gate'])}`: {value} ({n})")
    return out


def summary_lines(report: dict[str, Any]) -> list[str]:
    """A few lines for stderr at the end of `tuieval run`."""
    o = report["overall"]
    lines = [
        f"accuracy {pct(o['accuracy'])} {ci(o.get('accuracy_ci'))} over {o['n_cases']} cases, "
        f"{o['n_samples']} samples; errors {pct(o['error_rate'])}; latency p50/p99 {latency(o)} ms",
    ]
    cost = cost_line(report.get("cost"))
    if cost:
        lines.append(cost)
    flagged = [s for s in report.get("slices", []) if s.get("flagged")]
    for s in flagged[:5]:
        lines.append(f"  flagged slice {cell(s['key'])}={cell(s['value'])}: accuracy {pct(s['accuracy'])} "
                     f"(n={s['n_cases']}, q={s['q_value']:.3g})")
    return lines


def to_markdown(report: dict[str, Any]) -> str:
    run = report["run"]
    o = report["overall"]
    sim = " (simulated)" if run.get("simulated") else ""
    out = [
        f"# {cell(run['suite'])} · {cell(run['model'])}{sim}",
        "",
        f"Run `{run['id']}` — {run['status']}, {run['samples_per_case']} sample(s) per case at temperature "
        f"{run['temperature']}, started {run['started_at']}" + (f", SLO {run['slo_ms']:g} ms" if run.get("slo_ms") else ""),
        "",
    ]
    gates = report.get("gates") or []
    if gates:
        failed = sum(1 for g in gates if not g["passed"])
        out += [f"## Gates: {failed} of {len(gates)} failed" if failed else f"## Gates: all {len(gates)} passed", "",
                *gate_lines(report), ""]
    out += [
        "| metric | value |",
        "|---|---|",
        f"| cases / samples / errors | {o['n_cases']} / {o['n_samples']} / {o['n_errors']} |",
        f"| accuracy (95% CI) | {pct(o['accuracy'])} {ci(o.get('accuracy_ci'))} |",
        f"| majority-vote accuracy | {pct(o.get('majority_accuracy'))} |",
        f"| consistency | {pct(o.get('consistency'))} |",
        f"| semantic entropy | {o['semantic_entropy']:.3f} |" if isinstance(o.get("semantic_entropy"), (int, float))
        else "| semantic entropy | n/a |",
        f"| error rate | {pct(o['error_rate'])} |",
        f"| latency p50 / p95 / p99 / max (ms) | {ms(o['latency_ms'].get('p50'))} / {ms(o['latency_ms'].get('p95'))} / "
        f"{ms(o['latency_ms'].get('p99'))} / {ms(o['latency_ms'].get('max'))} |",
        f"| TTFT p50 / p95 / p99 (ms) | {ms(o['ttft_ms'].get('p50'))} / {ms(o['ttft_ms'].get('p95'))} / "
        f"{ms(o['ttft_ms'].get('p99'))} |",
        f"| accuracy within SLO | {pct(o.get('accuracy_within_slo'))} |",
    ]
    pk = o.get("pass_at_k") or {}
    if pk:
        out.append("| pass@k | " + ", ".join(f"k={k}: {pct(v)}" for k, v in pk.items()) + " |")
        out.append("| pass^k | " + ", ".join(f"k={k}: {pct(v)}" for k, v in (o.get("pass_hat_k") or {}).items()) + " |")
    slices = sorted(report.get("slices", []), key=lambda s: (s.get("accuracy") if s.get("accuracy") is not None else 2))
    if slices:
        out += ["", "## Slices (worst first)", "",
                "| slice | n | accuracy (95% CI) | consistency | errors | p50 / p99 ms | flagged |", "|---|---|---|---|---|---|---|"]
        for s in slices:
            flag = f"⚑ q={s['q_value']:.3g}" if s.get("flagged") else ""
            if not s.get("flagged") and s.get("q_value") is not None:
                # tested, not flagged: say how large a difference the test could have seen
                flag = f"no (MDE {mde_points(s.get('mde'))})"
            name = slice_name(s)
            out.append(f"| {name} | {s['n_cases']} | {pct(s['accuracy'])} "
                       f"{ci(s.get('accuracy_ci'))} | {pct(s.get('consistency'))} | {pct(s['error_rate'])} | "
                       f"{latency(s)} | {flag} |")
        disc = (report.get("analysis") or {}).get("discovery") or {}
        if disc.get("mde_alpha") is not None:
            out += ["", f"MDE: the smallest rise of a slice's failure rate over the rest's that its test detects "
                        f"with {disc.get('power', 0.8):.0%} power at the per-test level {disc['mde_alpha']:.3g} "
                        f"(α / {disc.get('m')} tests); a slice not flagged could not have shown a smaller one."]
    robustness = report.get("robustness") or {}
    out += templates_markdown(robustness.get("templates"))
    out += perturbations_markdown(robustness.get("perturbations"))
    extraction = extraction_lines(robustness.get("extractors"))
    if extraction:
        out += ["", "## Extraction sensitivity (the suite's scorers on the same responses)", "", *extraction]
    out += judge_markdown(report.get("judge"))
    out += cost_markdown(report.get("cost"))
    if report.get("shadow"):
        out += ["", *shadow_markdown(report["shadow"]).rstrip("\n").split("\n")]
    worst = sorted(report.get("cases", []), key=lambda c: (c.get("accuracy") if c.get("accuracy") is not None else 2))[:10]
    if worst:
        out += ["", "## Worst cases", "", "| case | accuracy | consistency | clusters | top answer |", "|---|---|---|---|---|"]
        for c in worst:
            top = (c.get("clusters") or [{}])[0].get("representative") or ""
            # model output: no escape sequences to the terminal, no table-breaking pipes
            out.append(f"| {cell(c['id'])} | {pct(c['accuracy'])} | {pct(c.get('consistency'))} | "
                       f"{c.get('n_clusters')} | {cell(top, limit=60)} |")
    return "\n".join(out) + "\n"
