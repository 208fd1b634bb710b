"""Contamination: the cases a probe run (`tuieval contamination`) flags, and for the
highlighted one what the model reproduced — its continuation with the span it shares with the
real text highlighted, the shared corpus n-gram, and the copies it got wrong.

Everything shown comes from the report's `contamination` section; model text is inert (each
piece sanitised on its own, so the highlight lands on the characters the analysis measured).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable

PROBE_NAMES = {"verbatim": "verbatim", "rewrite": "rewrite", "options": "options", "ngram": "13-gram"}


def highlighted(response: str, span: list[int] | None, style: str) -> Text:
    """The answer with `span` (character offsets into it) in `style`; each part made inert."""
    if not span:
        return inert(response)
    start, end = span
    t = Text(overflow="fold")
    t.append(sanitize(response[:start]))
    t.append(sanitize(response[start:end]), style=style)
    t.append(sanitize(response[end:]))
    return t


def summary_line(section: dict[str, Any]) -> Text:
    likely = section["likely"]
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("likely contaminated ", style="bold")
    t.append(f"{likely['n_flagged']}/{likely['n_cases']} cases  {fmt.pct(likely.get('rate'), 1)} "
             f"[{fmt.ci(likely.get('rate_ci'))}]")
    v = section.get("verbatim")
    if v and v.get("threshold"):
        t.append(f"  · verbatim above the controls' {v['quantile']:g}-quantile (n={v['n_controls']}): run > "
                 f"{v['threshold']['lcs_tokens']:g} tokens, overlap > {fmt.pct(v['threshold']['overlap'], 1)}",
                 style="dim")
    return t


class ContaminationScreen(AppScreen):
    DEFAULT_CSS = """
    #ct-title { height: 1; padding: 0 1; }
    #ct-slices { height: auto; max-height: 6; padding: 0 1; }
    #ct-table { height: 1fr; min-height: 5; }
    #ct-detail { height: 45%; min-height: 5; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="contamination.back")]

    def __init__(self, data: RunData) -> None:
        super().__init__()
        self.data = data
        self.section: dict[str, Any] = data.report.get("contamination") or {}
        self.by_id = {str(c["case_id"]): c for c in self.section.get("cases") or []}

    def crumb(self) -> str:
        return f"run {self.data.run['id']} › contamination"

    def compose_body(self) -> ComposeResult:
        yield Static(id="ct-title")
        yield Static(id="ct-slices")
        yield KeyedTable(id="ct-table", zebra_stripes=True)
        with VerticalScroll(id="ct-detail", classes="pane") as detail:
            detail.border_title = "Reproduced"
            yield Static(id="ct-detail-body")

    def on_mount(self) -> None:
        self.fill()
        self.query_one("#ct-table", KeyedTable).focus()
        self._detail()

    def on_theme_change(self) -> None:
        self.fill()
        self._detail()

    def fill(self) -> None:
        pal = fmt.Palette.of(self.app)
        if not self.section:
            self.query_one("#ct-title", Static).update(Text("not a contamination probe run", style="dim"))
            return
        self.query_one("#ct-title", Static).update(summary_line(self.section))
        worst = sorted((r for r in self.section["likely"]["by_slice"] if r["slice"] != "all"),
                       key=lambda r: -(r.get("rate") or 0))[:4]
        lines = Text(no_wrap=True, overflow="ellipsis")
        for i, r in enumerate(worst):
            if i:
                lines.append("\n")
            lines.append(sanitize(r["slice"], single_line=True, limit=40), style="bold")
            lines.append(f"  {r['k']}/{r['n']} flagged  {fmt.pct(r.get('rate'), 0)} [{fmt.ci(r.get('rate_ci'))}]",
                         style=pal.bad if (r.get("rate_ci") or [0])[0] > 0 else "")
        self.query_one("#ct-slices", Static).update(lines)
        table = self.query_one("#ct-table", KeyedTable)
        if not table.columns:
            table.set_columns([("case", "case", 12), ("probes", "probes", 26), ("run", "run", 4),
                               ("overlap", "ov", 7), ("reproduced", "span", 30)], flex=("span",))
        table.border_title = f"Flagged cases ({len(self.by_id)})"
        rows = []
        for cid, c in self.by_id.items():
            v = c.get("verbatim") or {}
            shown = v.get("span_text") or (c.get("ngram") or {}).get("ngram") or ""
            rows.append((cid, [
                inert(cid, single_line=True, limit=12),
                Text(", ".join(PROBE_NAMES.get(p, p) for p in c.get("probes") or [])),
                fmt.right(str(v["lcs_tokens"])) if v else Text("—"),
                fmt.right(fmt.pct(v.get("overlap"))) if v else Text("—"),
                inert(shown, single_line=True, limit=80),
            ]))
        table.sync(rows)

    def _detail(self) -> None:
        body = self.query_one("#ct-detail-body", Static)
        key = self.query_one("#ct-table", KeyedTable).cursor_key() if self.by_id else None
        if key is None:
            body.update(Text("no case is flagged", style="dim"))
            return
        pal = fmt.Palette.of(self.app)
        c = self.by_id[key]
        t = Text()
        t.append(sanitize(key, single_line=True), style="bold")
        for k, val in (c.get("metadata") or {}).items():
            t.append("  ")
            t.append(sanitize(f"{k}={val}", single_line=True), style="dim")
        v = c.get("verbatim")
        if v:
            t.append(f"\n\nthe model's continuation — longest shared run {v['lcs_tokens']} tokens, "
                     f"overlap {fmt.pct(v.get('overlap'))}:\n", style="dim")
            t.append_text(highlighted(v.get("response") or "", v.get("span"), f"bold reverse {pal.bad}"))
            t.append("\n\nthe real continuation:\n", style="dim")
            t.append(sanitize(v.get("continuation") or ""))
        g = c.get("ngram")
        if g:
            t.append("\n\nshares with the corpus: ", style="dim")
            t.append(sanitize(g.get("ngram") or "", single_line=True), style="bold")
        for probe in ("rewrite", "options"):
            p = c.get(probe)
            if p:
                t.append(f"\n\n{probe}: right on the original ({fmt.pct(p.get('accuracy_original'))}), wrong on ",
                         style="dim")
                t.append(sanitize(p.get("case_id") or "", single_line=True))
                t.append(f" ({fmt.pct(p.get('accuracy_copy'))})", style="dim")
        body.update(t)

    @on(DataTable.RowHighlighted, "#ct-table")
    def _highlighted(self) -> None:
        self._detail()
