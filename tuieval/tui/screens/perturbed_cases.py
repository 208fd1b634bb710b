"""The pairs of one perturbation row: each perturbed case beside its original.

The list holds the row's pairs (its perturbation at its severity, its slice of the originals),
the ones the perturbation broke first, then those it fixed: each with both cases' accuracy (the
share of their samples that are correct; a case counts as correct above one half, as in the
report). Below, the highlighted pair side by side: both prompts as the model read them with what
the perturbation changed highlighted (tuieval.tui.textdiff), both answers and both verdicts, one
template at a time (`t` shows the next). A large run's list is shown a page at a time (`]` `[`).
All case and model text is inert.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.robustness_data import CaseSide, PairDetail, load_pair
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.screens.extractors import PAGE
from tuieval.tui.textdiff import changed_spans
from tuieval.tui.widgets.keyed_table import KeyedTable

#: the metadata a perturbed copy carries (tuieval.perturb.apply)
LINK, NAME, SEVERITY = "original_case", "perturbation", "severity"
BROKE, FIXED = "broke", "fixed"


def _same_severity(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) < 1e-12


def pairs_of_row(data: RunData, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The (original, perturbed) pairs behind a row of the perturbation table, broken ones first.

    A row's slice is a metadata value of the original case (or `all`), as the report's
    perturbation analysis slices them."""
    meta = {str(c["case_id"]): c.get("metadata") or {} for c in data.ensure_cases()}
    acc = {str(c["id"]): fmt.num(c.get("accuracy")) for c in data.report_cases()}
    out = []
    for case_id, m in meta.items():
        if LINK not in m or m.get(NAME) != row.get("perturbation") or not _same_severity(m.get(SEVERITY), row.get("severity")):
            continue
        orig = str(m[LINK])
        if orig not in meta or acc.get(orig) is None or acc.get(case_id) is None:
            continue  # unpaired (a partial run): the report leaves it out too
        if row.get("slice_key") != "all" and meta[orig].get(row.get("slice_key")) != row.get("slice_value"):
            continue
        a, b = acc[orig], acc[case_id]
        ok_a, ok_b = a > 0.5, b > 0.5
        change = BROKE if ok_a and not ok_b else FIXED if ok_b and not ok_a else "same"
        out.append({"original": orig, "perturbed": case_id, "accuracy_original": a, "accuracy_perturbed": b,
                    "change": change})
    rank = {BROKE: 0, FIXED: 1}
    out.sort(key=lambda p: (rank.get(p["change"], 2), p["accuracy_perturbed"] - p["accuracy_original"], p["original"]))
    return out


def highlighted_text(text: str, spans: list[tuple[int, int]], style: str) -> Text:
    """`text` made inert, with `spans` (character offsets into the sanitized text) in `style`."""
    t = inert(text)
    for a, b in spans:
        t.stylize(style, a, b)
    return t


class PerturbedCasesScreen(AppScreen):
    BINDINGS = [
        Binding("t", "next_template", "Template", id="pairs.template"),
        Binding("right_square_bracket", "page(1)", "Next page", id="pairs.next"),
        Binding("left_square_bracket", "page(-1)", "Previous page", id="pairs.previous"),
        Binding("escape", "app.pop_screen", "Back", id="pairs.back"),
    ]

    def __init__(self, data: RunData, row: dict[str, Any]) -> None:
        super().__init__()
        self.data = data
        self.row = row
        self.pairs = pairs_of_row(data, row)
        self.by_key = {p["perturbed"]: p for p in self.pairs}
        self.details: dict[str, PairDetail] = {}
        self.template_index = 0
        self.page = 0

    def crumb(self) -> str:
        return f"run {self.data.run['id']} › robustness › {self.row.get('label')}"

    def compose_body(self) -> ComposeResult:
        yield Static(id="pairs-title")
        yield KeyedTable(id="pairs-table", zebra_stripes=True)
        with Horizontal(id="pairs-sides"):
            with VerticalScroll(id="pair-original", classes="pane"):
                yield Static(id="pair-original-body")
            with VerticalScroll(id="pair-perturbed", classes="pane"):
                yield Static(id="pair-perturbed-body")

    def on_mount(self) -> None:
        table = self.query_one("#pairs-table", KeyedTable)
        table.set_columns([("case", "case", 14), ("original", "orig", 8), ("perturbed", "pert", 9),
                           ("change", "change", 7), ("perturbed id", "copy", 24)], flex=("copy",), drop=("copy",))
        self.query_one("#pair-original").border_title = "Original"
        self.query_one("#pair-perturbed").border_title = "Perturbed"
        self.fill()
        table.focus()
        self.show_current()

    def on_theme_change(self) -> None:
        self.fill()
        self.show_current()

    def fill(self) -> None:
        pal = fmt.Palette.of(self.app)
        r = self.row
        broke = sum(p["change"] == BROKE for p in self.pairs)
        fixed = sum(p["change"] == FIXED for p in self.pairs)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(sanitize(f"{r.get('label')} · {r.get('slice')}", single_line=True, limit=60), style="bold")
        t.append(f"  {len(self.pairs)} pairs · ")
        t.append(f"{broke} broke", style=pal.bad if broke else "")
        t.append(f" · {fixed} fixed", style=pal.good if fixed else "")
        t.append(f" · accuracy {fmt.pct(r.get('accuracy_original'))} → {fmt.pct(r.get('accuracy_perturbed'))}",
                 style="dim")
        self.query_one("#pairs-title", Static).update(t)
        rows = []
        shown = self.pairs[self.page * PAGE:(self.page + 1) * PAGE]
        title = "Pairs — broken first"
        if len(self.pairs) > PAGE:
            first = self.page * PAGE + 1
            title += f" · {first}–{first + len(shown) - 1} of {len(self.pairs)} ([ ] pages)"
        self.query_one("#pairs-table", KeyedTable).border_title = title
        for p in shown:
            style = pal.bad if p["change"] == BROKE else pal.good if p["change"] == FIXED else ""
            rows.append((p["perturbed"], [
                inert(p["original"], single_line=True, limit=40),
                fmt.acc_text(p["accuracy_original"], pal),
                fmt.acc_text(p["accuracy_perturbed"], pal),
                Text(p["change"], style=f"bold {style}" if style else "dim"),
                inert(p["perturbed"], single_line=True, limit=80),
            ]))
        self.query_one("#pairs-table", KeyedTable).sync(rows)

    def current(self) -> dict[str, Any] | None:
        key = self.query_one("#pairs-table", KeyedTable).cursor_key()
        return self.by_key.get(key) if key else None

    def show_current(self) -> None:
        p = self.current()
        a, b = self.query_one("#pair-original-body", Static), self.query_one("#pair-perturbed-body", Static)
        if p is None:
            a.update(Text("no pairs in this row", style="dim"))
            b.update(Text(""))
            return
        detail = self.details.get(p["perturbed"])
        if detail is None:
            a.update(Text("loading…", style="dim"))
            b.update(Text(""))
            self.load(p["original"], p["perturbed"])
            return
        self.paint(detail)

    @work(thread=True, exclusive=True, group="pair")
    def load(self, original: str, perturbed: str) -> None:
        detail = load_pair(self.tapp.db_path, self.data.run["id"], original, perturbed)
        self.app.call_from_thread(self._loaded, perturbed, detail)

    def _loaded(self, perturbed: str, detail: PairDetail) -> None:
        self.details[perturbed] = detail
        p = self.current()
        if p is not None and p["perturbed"] == perturbed:
            self.paint(detail)

    def paint(self, detail: PairDetail) -> None:
        pal = fmt.Palette.of(self.app)
        templates = detail.templates
        template = templates[self.template_index % len(templates)] if templates else None
        first = lambda side: (side.samples.get(template) or [{}])[0]  # noqa: E731
        prompt_a = sanitize(first(detail.original).get("prompt") or "")
        prompt_b = sanitize(first(detail.perturbed).get("prompt") or "")
        spans_a, spans_b = changed_spans(prompt_a, prompt_b)
        mark = f"reverse {pal.warn}"
        for which, side, prompt, spans in (("original", detail.original, prompt_a, spans_a),
                                           ("perturbed", detail.perturbed, prompt_b, spans_b)):
            body = self.query_one(f"#pair-{which}-body", Static)
            body.update(self._side_text(side, template, len(templates), highlighted_text(prompt, spans, mark),
                                        max(len(spans_a), len(spans_b)), pal))

    def _side_text(self, side: CaseSide, template: str | None, n_templates: int, prompt: Text, n_changes: int,
                   pal: fmt.Palette) -> Text:
        acc = side.accuracy()
        t = Text()
        t.append(sanitize(side.case_id, single_line=True, limit=60), style="bold")
        if acc is not None:
            ok = acc > 0.5
            t.append("  correct" if ok else "  wrong", style=f"bold {pal.good if ok else pal.bad}")
            t.append(f" ({fmt.pct(acc)} of its samples)", style="dim")
        targets = ", ".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in side.targets)
        t.append("\ntarget ", style="dim")
        t.append_text(inert(targets or "(none)", single_line=True, limit=120))
        if template is None:
            t.append("\nno samples", style="dim")
            return t
        t.append(f"\n\nprompt · template {sanitize(template, single_line=True, limit=30)}", style="dim")
        if n_templates > 1:
            t.append(f" ({self.template_index % n_templates + 1} of {n_templates}, t: next)", style="dim")
        t.append(f" · differs in {n_changes} place{'s' if n_changes != 1 else ''} (marked)\n" if n_changes
                 else " · identical\n", style="dim")
        t.append_text(prompt)
        t.append("\n\nanswers\n", style="dim")
        for s in side.samples.get(template) or []:
            ok = s["correct"]
            t.append("✓ " if ok else "✗ ", style=f"bold {pal.good if ok else pal.bad}")
            t.append(f"#{s['sample_index']} ", style="dim")
            if s.get("error"):
                t.append("error ", style=pal.bad)
                t.append_text(inert(s["error"], single_line=True, limit=200))
            else:
                t.append_text(inert(s.get("response") or "", limit=400))
                if s.get("extracted") not in (None, s.get("response")):
                    t.append("  → ", style="dim")
                    t.append_text(inert(s["extracted"], single_line=True, limit=80))
            t.append("\n")
        return t

    @on(DataTable.RowHighlighted, "#pairs-table")
    def _highlighted(self) -> None:
        self.show_current()

    def action_page(self, step: int) -> None:
        last = max(0, (len(self.pairs) - 1) // PAGE)
        page = min(last, max(0, self.page + step))
        if page != self.page:
            self.page = page
            self.fill()
            self.query_one("#pairs-table", KeyedTable).move_cursor(row=0)
            self.show_current()

    def action_next_template(self) -> None:
        self.template_index += 1
        self.show_current()
