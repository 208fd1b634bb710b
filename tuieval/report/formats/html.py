"""A run's report, or a comparison, as one self-contained HTML file (`--format html`).

No network: the CSS is inline, the charts are inline SVG drawn here, there is no script. Every
text that came from a model or a dataset (answers, inputs, targets, slice values, names) is made
inert (tuieval.textsafe) and HTML-escaped, so a response holding `<script>` is shown, not run.
Input is what `tuieval.report.page` gathers; nothing here reads the store or computes a figure
beyond placing it on an axis.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable

from tuieval.report.formats.cells import TEST_NAMES, ms, p_cell, p_value, pct, pts
from tuieval.report.formats.cost_html import cost_html
from tuieval.report.formats.sections_html import sections_html
from tuieval.textsafe import sanitize

CSS = """
:root{--bg:#fff;--fg:#1d232a;--muted:#5c6670;--line:#d5dae0;--card:#f5f7f9;--accent:#2f6fdb;--bad:#c8372d;
--good:#23855a;--warn:#b7791f;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#14181d;--fg:#e4e8ec;--muted:#98a2ad;--line:#333c46;--card:#1d232a;
--accent:#6fa3ff;--bad:#ff6b5e;--good:#4cc38a;--warn:#e0a84a}}
body{background:var(--bg);color:var(--fg);margin:0 auto;max-width:1180px;padding:24px 28px;line-height:1.45}
h1{font-size:1.6rem;margin:0 0 4px}h2{font-size:1.15rem;margin:28px 0 10px;border-bottom:1px solid var(--line);
padding-bottom:4px}h3{font-size:1rem;margin:18px 0 8px}.muted{color:var(--muted)}.badge{display:inline-block;padding:1px 8px;border-radius:10px;
font-size:.8rem;background:var(--card);border:1px solid var(--line);margin-left:6px;vertical-align:middle}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:10px}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:10px 12px}
.card .v{font-size:1.35rem;font-weight:600}.card .k{color:var(--muted);font-size:.82rem}
table{border-collapse:collapse;width:100%;font-size:.88rem}th,td{text-align:left;padding:4px 8px;
border-bottom:1px solid var(--line);vertical-align:top}th{color:var(--muted);font-weight:600}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.pass{color:var(--good)}.fail{color:var(--bad);
font-weight:600}.flag{color:var(--bad)}svg{display:block;max-width:100%;height:auto}
svg text{fill:var(--fg);font-size:11px;font-family:inherit}svg .axis{stroke:var(--line)}svg .muted{fill:var(--muted)}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:18px}@media (max-width:900px){.charts{grid-template-columns:1fr}}
details{background:var(--card);border:1px solid var(--line);border-radius:8px;margin:8px 0;padding:6px 12px}
summary{cursor:pointer;font-weight:600}pre{white-space:pre-wrap;word-break:break-word;margin:4px 0;
font-size:.85rem;background:var(--bg);border:1px solid var(--line);border-radius:6px;padding:6px 8px;
max-height:16em;overflow:auto}.ok{color:var(--good)}.no{color:var(--bad)}footer{margin-top:36px;font-size:.8rem}
"""

INPUT_LIMIT = 1500
#: the worst cases shown expanded (the rest one click away)
OPEN_CASES = 3
#: the paired tests' names as a reader knows them
ANSWER_LIMIT = 400


def esc(value: Any, limit: int | None = None) -> str:
    """Text from the data, inert and escaped for HTML (and for SVG text)."""
    return html.escape(sanitize(value, limit=limit), quote=True)


def _page(title: str, body: list[str]) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>\n"
            + "\n".join(body)
            + "\n<footer class=\"muted\">Written by tuieval. Self-contained: no scripts, no network.</footer>"
            "</body></html>\n")


# --- axes ---------------------------------------------------------------------------------------

def _nice_log_ticks(lo: float, hi: float) -> list[float]:
    ticks = []
    for exp in range(int(math.floor(math.log10(lo))), int(math.ceil(math.log10(hi))) + 1):
        for m in (1, 2, 5):
            t = m * 10 ** exp
            if lo <= t <= hi:
                ticks.append(float(t))
    return ticks


def _ms_label(v: float) -> str:
    return f"{v / 1000:g} s" if v >= 1000 else f"{v:g} ms"


class _LogAxis:
    def __init__(self, lo: float, hi: float, x0: float, x1: float) -> None:
        self.lo, self.hi, self.x0, self.x1 = lo, max(hi, lo * 1.01), x0, x1

    def __call__(self, v: float) -> float:
        v = min(max(v, self.lo), self.hi)
        return self.x0 + (math.log(v / self.lo) / math.log(self.hi / self.lo)) * (self.x1 - self.x0)


# --- charts -------------------------------------------------------------------------------------

def forest_plot(rows: list[dict[str, Any]], reference: float | None, *, delta: bool = False) -> str:
    """One row per slice: the interval as a line, the estimate as a dot; flagged / significant in red.

    Accuracy on a 0–100% axis with the overall accuracy as a dashed line; for a comparison the
    paired delta on a symmetric axis around 0.
    """
    if not rows:
        return "<p class=\"muted\">No slices.</p>"
    label_w, right_w, width, row_h, top = 290, 150, 1100, 22, 24
    x0, x1 = label_w, width - right_w
    if delta:
        bound = max([0.05] + [abs(v) for r in rows for v in (r.get("delta_ci") or []) if v is not None]
                    + [abs(r.get("delta") or 0) for r in rows])
        bound = min(1.0, math.ceil(bound * 20) / 20)
        lo, hi = -bound, bound
    else:
        lo, hi = 0.0, 1.0

    def x(v: float) -> float:
        return x0 + (min(max(v, lo), hi) - lo) / (hi - lo) * (x1 - x0)

    height = top + row_h * len(rows) + 28
    out = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" "
           f"aria-label=\"{'paired deltas' if delta else 'slice accuracy'} with intervals\">"]
    ticks = [lo + (hi - lo) * i / 4 for i in range(5)]
    for t in ticks:
        out.append(f"<line class=\"axis\" x1=\"{x(t):.1f}\" y1=\"{top - 6}\" x2=\"{x(t):.1f}\" y2=\"{height - 22}\"/>")
        label = f"{pts(t)} pts" if delta else f"{t:.0%}"
        out.append(f"<text class=\"muted\" x=\"{x(t):.1f}\" y=\"{height - 8}\" text-anchor=\"middle\">{label}</text>")
    ref = 0.0 if delta else reference
    if ref is not None:
        out.append(f"<line x1=\"{x(ref):.1f}\" y1=\"{top - 8}\" x2=\"{x(ref):.1f}\" y2=\"{height - 22}\" "
                   "stroke=\"var(--accent)\" stroke-dasharray=\"4 3\"/>")
        out.append(f"<text x=\"{x(ref):.1f}\" y=\"{top - 12}\" text-anchor=\"middle\" class=\"muted\">"
                   f"{'no change' if delta else 'overall ' + pct(ref)}</text>")
    for i, r in enumerate(rows):
        y = top + i * row_h + row_h / 2
        value = r.get("delta") if delta else r.get("accuracy")
        ci = r.get("delta_ci") if delta else r.get("accuracy_ci")
        hot = bool(r.get("significant") if delta else r.get("flagged"))
        color = "var(--bad)" if hot and (not delta or (value or 0) < 0) else (
            "var(--good)" if hot else "var(--fg)")
        name = f"{'⚑ ' if hot and not delta else ''}{sanitize(r['key'], single_line=True, limit=28)}=" \
               f"{sanitize(r['value'], single_line=True, limit=28)}"
        out.append(f"<text x=\"{label_w - 10}\" y=\"{y + 4:.1f}\" text-anchor=\"end\" fill=\"{color}\">"
                   f"{html.escape(name)} <tspan class=\"muted\">n={r.get('n_cases')}</tspan></text>")
        if ci and ci[0] is not None and ci[1] is not None:
            out.append(f"<line x1=\"{x(ci[0]):.1f}\" y1=\"{y:.1f}\" x2=\"{x(ci[1]):.1f}\" y2=\"{y:.1f}\" "
                       f"stroke=\"{color}\" stroke-width=\"2\"/>")
        if isinstance(value, (int, float)):
            out.append(f"<circle cx=\"{x(value):.1f}\" cy=\"{y:.1f}\" r=\"4.5\" fill=\"{color}\"/>")
            text = f"{pts(value)} pts" if delta else pct(value)
            out.append(f"<text x=\"{x1 + 12}\" y=\"{y + 4:.1f}\">{text}</text>")
    out.append("</svg>")
    return "".join(out)


def histogram_svg(hist: dict[str, Any], *, p50: float | None, p99: float | None, slo_ms: float | None) -> str:
    """Latency counts over log-spaced bins, with p50, p99 and the SLO marked."""
    edges, counts = hist.get("edges") or [], hist.get("counts") or []
    if not counts:
        return "<p class=\"muted\">No latencies.</p>"
    width, height, left, bottom, top = 540, 250, 46, 36, 24
    axis = _LogAxis(edges[0], edges[-1], left, width - 12)
    peak = max(counts) or 1
    plot_h = height - bottom - top
    out = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" "
           "aria-label=\"latency histogram\">"]
    for i, c in enumerate(counts):
        xa, xb = axis(edges[i]), axis(edges[i + 1])
        h = c / peak * plot_h
        out.append(f"<rect x=\"{xa:.1f}\" y=\"{height - bottom - h:.1f}\" width=\"{max(0.5, xb - xa - 1):.1f}\" "
                   f"height=\"{h:.1f}\" fill=\"var(--accent)\" opacity=\"0.8\"><title>{_ms_label(round(edges[i], 1))}"
                   f"–{_ms_label(round(edges[i + 1], 1))}: {c}</title></rect>")
    out += _log_axis_marks(axis, edges[0], edges[-1], height, bottom, top)
    out.append(f"<text class=\"muted\" x=\"{left - 6}\" y=\"{top + 8}\" text-anchor=\"end\">{peak}</text>")
    for label, v, color in (("p50", p50, "var(--fg)"), ("p99", p99, "var(--bad)"), ("SLO", slo_ms, "var(--warn)")):
        if isinstance(v, (int, float)) and edges[0] <= v <= edges[-1] * 1.0001:
            out.append(f"<line x1=\"{axis(v):.1f}\" y1=\"{top - 4}\" x2=\"{axis(v):.1f}\" y2=\"{height - bottom}\" "
                       f"stroke=\"{color}\" stroke-dasharray=\"3 3\"/><text x=\"{axis(v):.1f}\" y=\"{top - 8}\" "
                       f"text-anchor=\"middle\" fill=\"{color}\">{label} {_ms_label(round(v))}</text>")
    out.append("</svg>")
    return "".join(out)


def deadline_svg(points: list[dict[str, Any]], *, accuracy: float | None, slo_ms: float | None) -> str:
    """Accuracy within a deadline, as a function of the deadline (log axis); tops out at accuracy."""
    pts_ = [(p["slo_ms"], p["accuracy"]) for p in points if p.get("accuracy") is not None and p["slo_ms"] > 0]
    if not pts_:
        return "<p class=\"muted\">No correct answers with a latency.</p>"
    width, height, left, bottom, top = 540, 250, 46, 36, 24
    lo, hi = pts_[0][0], pts_[-1][0]
    axis = _LogAxis(lo, hi, left, width - 12)
    plot_h = height - bottom - top

    def y(v: float) -> float:
        return height - bottom - v * plot_h

    out = [f"<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" "
           "aria-label=\"accuracy within deadline\">"]
    for t in (0.0, 0.25, 0.5, 0.75, 1.0):
        out.append(f"<line class=\"axis\" x1=\"{left}\" y1=\"{y(t):.1f}\" x2=\"{width - 12}\" y2=\"{y(t):.1f}\"/>"
                   f"<text class=\"muted\" x=\"{left - 6}\" y=\"{y(t) + 4:.1f}\" text-anchor=\"end\">{t:.0%}</text>")
    path = " ".join(f"{axis(s):.1f},{y(a):.1f}" for s, a in pts_)
    out.append(f"<polyline points=\"{path}\" fill=\"none\" stroke=\"var(--good)\" stroke-width=\"2.2\"/>")
    out += _log_axis_marks(axis, lo, hi, height, bottom, top, grid=False)
    if isinstance(accuracy, (int, float)):
        out.append(f"<line x1=\"{left}\" y1=\"{y(accuracy):.1f}\" x2=\"{width - 12}\" y2=\"{y(accuracy):.1f}\" "
                   f"stroke=\"var(--accent)\" stroke-dasharray=\"4 3\"/><text x=\"{width - 14}\" "
                   f"y=\"{y(accuracy) - 5:.1f}\" text-anchor=\"end\" class=\"muted\">accuracy {pct(accuracy)}</text>")
    if isinstance(slo_ms, (int, float)) and lo <= slo_ms <= hi:
        at = max((a for s, a in pts_ if s <= slo_ms), default=0.0)
        out.append(f"<line x1=\"{axis(slo_ms):.1f}\" y1=\"{top - 4}\" x2=\"{axis(slo_ms):.1f}\" "
                   f"y2=\"{height - bottom}\" stroke=\"var(--warn)\" stroke-dasharray=\"3 3\"/>"
                   f"<text x=\"{axis(slo_ms):.1f}\" y=\"{top - 8}\" text-anchor=\"middle\" fill=\"var(--warn)\">"
                   f"SLO {_ms_label(round(slo_ms))}: {pct(at)}</text>")
    out.append("</svg>")
    return "".join(out)


def _log_axis_marks(axis: _LogAxis, lo: float, hi: float, height: int, bottom: int, top: int,
                    grid: bool = True) -> list[str]:
    out = [f"<line class=\"axis\" x1=\"{axis.x0}\" y1=\"{height - bottom}\" x2=\"{axis.x1}\" y2=\"{height - bottom}\"/>"]
    ticks = _nice_log_ticks(lo, hi) or [lo, hi]
    step = max(1, len(ticks) // 8)
    for t in ticks[::step]:
        if grid:
            out.append(f"<line class=\"axis\" x1=\"{axis(t):.1f}\" y1=\"{top}\" x2=\"{axis(t):.1f}\" "
                       f"y2=\"{height - bottom}\" opacity=\"0.5\"/>")
        out.append(f"<text class=\"muted\" x=\"{axis(t):.1f}\" y=\"{height - bottom + 16}\" "
                   f"text-anchor=\"middle\">{_ms_label(t)}</text>")
    out.append(f"<text class=\"muted\" x=\"{axis.x1}\" y=\"{height - 4}\" text-anchor=\"end\">latency (log)</text>")
    return out


# --- the run page -------------------------------------------------------------------------------

def _card(label: str, value: str, sub: str = "") -> str:
    sub_html = f"<div class=\"k\">{sub}</div>" if sub else ""
    return f"<div class=\"card\"><div class=\"k\">{label}</div><div class=\"v\">{value}</div>{sub_html}</div>"


def _ci(interval: Any) -> str:
    return (f"[{interval[0]:.1%}, {interval[1]:.1%}]" if interval and interval[0] is not None
            and interval[1] is not None else "")


def _p99(m: dict[str, Any]) -> str:
    lat = m.get("latency_ms") or {}
    text = ms(lat.get("p99"))
    if isinstance(lat.get("n"), int) and lat["n"] < 100:
        text += f" (= max, n={lat['n']})"
    return text


def html_table(header: Iterable[str], rows: Iterable[Iterable[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th{' class=n' if i in numeric else ''}>{h}</th>" for i, h in enumerate(header))
    body = "".join("<tr>" + "".join(f"<td{' class=n' if i in numeric else ''}>{c}</td>" for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def report_to_html(page: dict[str, Any]) -> str:
    """The page of one run: header, gates, overall, slice forest plot, latency, templates, the robustness,
    judge, contamination, shadow and red-team sections, cost, worst cases."""
    report = page["report"]
    run, o = report["run"], report["overall"]
    sim = "<span class=\"badge\">simulated</span>" if run.get("simulated") else ""
    slo = f", SLO {run['slo_ms']:g} ms" if run.get("slo_ms") else ""
    body = [
        f"<h1>{esc(run['suite'])} · {esc(run['model'])}{sim}</h1>",
        f"<p class=\"muted\">Run <code>{esc(run['id'])}</code> — {esc(run['status'])}, "
        f"{esc(run['samples_per_case'])} sample(s) per case at temperature {esc(run['temperature'])}, started "
        f"{esc(run['started_at'])}{esc(slo)}</p>",
    ]
    gates = report.get("gates") or []
    if gates:
        failed = sum(1 for g in gates if not g["passed"])
        body.append(f"<h2>Gates: {f'{failed} of {len(gates)} failed' if failed else f'all {len(gates)} passed'}</h2>")
        body.append(html_table(["", "gate", "value", "n"], (
            [("<span class=pass>✓ passed</span>" if g["passed"] else "<span class=fail>✗ FAILED</span>"),
             esc(g["gate"]), f"{g['value']:.3f}" if isinstance(g.get("value"), (int, float)) else "no value",
             esc(g.get("n") if g.get("n") is not None else "n/a")] for g in gates), {2, 3}))
    lat, ttft = o.get("latency_ms") or {}, o.get("ttft_ms") or {}
    se = o.get("semantic_entropy")
    body += [
        "<h2>Overall</h2><div class=\"cards\">",
        _card("accuracy (95% CI)", pct(o.get("accuracy")), _ci(o.get("accuracy_ci"))),
        _card("cases / samples / errors", f"{o['n_cases']} / {o['n_samples']} / {o['n_errors']}"),
        _card("majority-vote accuracy", pct(o.get("majority_accuracy"))),
        _card("consistency", pct(o.get("consistency"))),
        _card("semantic entropy", f"{se:.3f}" if isinstance(se, (int, float)) else "n/a"),
        _card("error rate", pct(o.get("error_rate"))),
        _card("latency p50 / p99 (ms)", f"{ms(lat.get('p50'))} / {_p99(o)}",
              f"p95 {ms(lat.get('p95'))} · max {ms(lat.get('max'))}"),
        _card("TTFT p50 / p99 (ms)", f"{ms(ttft.get('p50'))} / {ms(ttft.get('p99'))}"),
        _card("accuracy within SLO", pct(o.get("accuracy_within_slo")), _ci(o.get("accuracy_within_slo_ci"))),
    ]
    pk = o.get("pass_at_k") or {}
    if pk:
        k_max = list(pk)[-1]
        hat = o.get("pass_hat_k") or {}
        body.append(_card(f"pass@{esc(k_max)} / pass^{esc(k_max)}", f"{pct(pk[k_max])} / {pct(hat.get(k_max))}",
                          "pass@k " + " · ".join(f"{esc(k)}: {pct(v)}" for k, v in pk.items())))
    body.append("</div>")

    slices = page.get("slices") or []
    n_flagged = sum(1 for s in slices if s.get("flagged"))
    body.append(f"<h2>Slices ({len(slices)}; {n_flagged} flagged, flagged first)</h2>")
    body.append(forest_plot(slices, o.get("accuracy")))
    if slices:
        body.append(html_table(["slice", "n", "accuracy", "95% CI", "consistency", "errors", "p50 / p99 ms", "q", ""], (
            [esc(f"{s['key']}={s['value']}"), str(s["n_cases"]), pct(s.get("accuracy")), _ci(s.get("accuracy_ci")),
             pct(s.get("consistency")), pct(s.get("error_rate")),
             f"{ms((s.get('latency_ms') or {}).get('p50'))} / {_p99(s)}", p_cell(s.get("q_value")),
             "<span class=flag>⚑ flagged</span>" if s.get("flagged") else ""] for s in slices), {1, 2, 4, 5, 6, 7}))

    body.append("<h2>Latency</h2><div class=\"charts\"><div><h3>Histogram</h3>")
    body.append(histogram_svg(page.get("histogram") or {}, p50=lat.get("p50"), p99=lat.get("p99"),
                              slo_ms=run.get("slo_ms")))
    body.append(f"<p class=\"muted\">n={(page.get('histogram') or {}).get('n', 0)} samples with a latency; "
                "log-spaced bins.</p></div><div><h3>Accuracy within deadline</h3>")
    body.append(deadline_svg(page.get("deadline") or [], accuracy=o.get("accuracy"), slo_ms=run.get("slo_ms")))
    body.append("<p class=\"muted\">Share of all samples that are correct and answered within the deadline.</p>"
                "</div></div>")

    templates = ((report.get("robustness") or {}).get("templates") or {}).get("templates") or []
    if templates:
        body.append("<h2>Templates</h2>")
        body.append(html_table(["template", "cases", "accuracy", "95% CI"], (
            [esc(t["template"]), str(t["n_cases"]), pct(t.get("accuracy")), _ci(t.get("accuracy_ci"))]
            for t in templates), {1, 2}))

    body += sections_html(report)
    body += cost_html(report.get("cost"))

    worst = page.get("worst") or []
    if worst:
        body.append(f"<h2>Worst cases ({len(worst)})</h2>")
        body += [_case_html(c, open_=i < OPEN_CASES) for i, c in enumerate(worst)]
    return _page(f"{run['suite']} · {run['model']} — tuieval report", body)


def _case_html(c: dict[str, Any], open_: bool = False) -> str:
    targets = ", ".join(esc(t, 200) for t in c.get("targets") or []) or "—"
    out = [f"<details{' open' if open_ else ''}><summary>{esc(c['id'])} — accuracy {pct(c.get('accuracy'))}, consistency "
           f"{pct(c.get('consistency'))}, {esc(c.get('n_clusters'))} cluster(s)</summary>",
           f"<p><b>target</b> {targets}"]
    if c.get("metadata"):
        out.append(" · " + ", ".join(f"{esc(k)}={esc(v, 60)}" for k, v in c["metadata"].items()))
    out.append(f"</p><pre>{esc(c.get('input_text'), INPUT_LIMIT)}</pre>")
    clusters = c.get("clusters") or []
    if clusters:
        out.append(html_table(["cluster", "size", "", "representative answer"], (
            [str(i + 1), str(cl.get("size")), "<span class=ok>✓</span>" if cl.get("correct") else "<span class=no>✗</span>",
             f"<pre>{esc(cl.get('representative'), ANSWER_LIMIT)}</pre>"] for i, cl in enumerate(clusters)), {1}))
    answers = c.get("answers") or []
    if answers:
        shown = len(answers)
        more = f" (first {shown} of {c['n_answers']})" if c.get("n_answers", shown) > shown else ""
        out.append(f"<p class=\"muted\">Answers{more}</p>")
        out.append(html_table(["template", "#", "", "latency ms", "answer"], (
            [esc(a.get("template")), esc(a.get("sample_index")),
             "<span class=ok>✓</span>" if a.get("correct") else "<span class=no>✗</span>", ms(a.get("latency_ms")),
             f"<pre>{esc(a.get('answer') if a.get('answer') is not None else ('error: ' + str(a.get('error') or '')), ANSWER_LIMIT)}</pre>"]
            for a in answers), {1, 3}))
    out.append("</details>")
    return "".join(out)


# --- the comparison page ------------------------------------------------------------------------

def comparison_to_html(cmp: dict[str, Any]) -> str:
    """The paired comparison: both runs, the overall delta, the slice deltas as a forest plot."""
    base, cand, o = cmp["baseline"], cmp["candidate"], cmp["overall"]
    alpha = cmp.get("alpha", 0.05)
    conf = f"{1 - alpha:.0%}"

    def run_row(label: str, r: dict[str, Any]) -> list[str]:
        sim = " <span class=badge>simulated</span>" if r.get("simulated") else ""
        return [label, f"<code>{esc(r.get('id'))}</code>", esc(r.get("model")) + sim, esc(r.get("samples_per_case")),
                esc(r.get("status"))]

    verdict = ""
    if o.get("significant"):
        verdict = (" <span class=fail>significant regression</span>" if o["delta"] < 0
                   else " <span class=pass>significant improvement</span>")
    unpaired = cmp.get("unpaired_cases") or 0
    body = [
        f"<h1>Comparison · {esc(base.get('suite'))}</h1>",
        html_table(["", "run", "model", "samples/case", "status"], [run_row("baseline", base), run_row("candidate", cand)]),
        "<h2>Overall</h2><div class=\"cards\">",
        _card("baseline → candidate", f"{pct(o.get('baseline_accuracy'))} → {pct(o.get('candidate_accuracy'))}",
              f"{cmp.get('n_cases', o.get('n_cases'))} paired cases" + (f", {unpaired} unpaired" if unpaired else "")),
        _card(f"Δ ({conf} CI)", f"{pts(o.get('delta'))} pts", _delta_ci(o.get("delta_ci"))),
        _card("paired test", esc(p_value(o.get("p_value"))), esc(TEST_NAMES.get(cmp.get("test"), cmp.get("test")))),
        "</div>",
        f"<p>{verdict.strip() or 'No significant change overall.'}</p>",
    ]
    slices = cmp.get("slices") or []
    regs = cmp.get("regressions") or []
    body.append(f"<h2>Slices: paired deltas ({len(regs)} regression(s); BH q &lt; {alpha:g} and the CI "
                "excluding 0)</h2>")
    ordered = sorted(slices, key=lambda s: (not s.get("significant"), s.get("delta") or 0))
    body.append(forest_plot(ordered, None, delta=True))
    if ordered:
        body.append(html_table(["slice", "n", "baseline", "candidate", f"Δ pts ({conf} CI)", "p", "q", ""], (
            [esc(f"{s['key']}={s['value']}"), str(s["n_cases"]), pct(s.get("baseline_accuracy")),
             pct(s.get("candidate_accuracy")), f"{pts(s.get('delta'))} {_delta_ci(s.get('delta_ci'))}",
             p_cell(s.get("p_value")), p_cell(s.get("q_value")),
             ("<span class=fail>▼ regression</span>" if (s.get("delta") or 0) < 0 else
              "<span class=pass>▲ improvement</span>") if s.get("significant") else ""] for s in ordered),
            {1, 2, 3, 5, 6}))
    untested = cmp.get("untested_slices") or []
    if untested:
        body.append(f"<p class=\"muted\">Not tested (fewer than {esc(cmp.get('n_min'))} paired cases): "
                    + ", ".join(f"{esc(s['key'])}={esc(s['value'])} (n={s['n_cases']})" for s in untested) + "</p>")
    warnings = cmp.get("warnings") or []
    if warnings:
        body.append("<h2>Warnings</h2><ul>" + "".join(f"<li>{esc(w)}</li>" for w in warnings) + "</ul>")
    return _page(f"Comparison · {base.get('suite')} — tuieval", body)


def _delta_ci(interval: Any) -> str:
    if interval and interval[0] is not None and interval[1] is not None:
        return f"[{pts(interval[0])}, {pts(interval[1])}]"
    return ""
