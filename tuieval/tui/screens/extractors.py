"""The run's extractors and every sample they disagree on (the report's `robustness.extractors`).

Above, each extractor with its accuracy, interval and n, and the headline: how many points of
the score depend on the extractor and the share of samples on which they disagree (with its
interval). Below, every disagreeing sample with what each extractor read from it and whether
that scored correct, a page of PAGE at a time (`]` and `[` turn the pages: a table of every
sample of a large run would take seconds to lay out); Enter opens the case in the inspector.
From the stored report: no query.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable


def applicable_names(section: dict[str, Any]) -> list[str]:
    """The extractors that read something from at least one response (the others do not apply)."""
    return [e["name"] for e in section.get("extractors") or [] if e.get("applicable", True)]


def reading_cell(extracted: Any, correct: bool, pal: fmt.Palette, limit: int = 24) -> Text:
    """`✓ 4,440` / `✗ —` : the verdict, then what was read (a dash when nothing was)."""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("✓ " if correct else "✗ ", style=f"bold {pal.good if correct else pal.bad}")
    if extracted is None:
        t.append(fmt.DASH, style="dim")
    else:
        t.append_text(inert(extracted, single_line=True, limit=limit))
    return t


def headline(section: dict[str, Any], pal: fmt.Palette) -> Text:
    dep, dis = section.get("points_depending") or {}, section.get("disagreement_rate") or {}
    spread = fmt.num(dep.get("spread_points"))
    t = Text()
    if spread is None:
        t.append("fewer than two extractors apply: nothing to compare", style="dim")
    else:
        t.append(f"{spread:.1f} points of the score depend on the extractor", style=f"bold {pal.warn}" if spread else "bold")
        t.append(f" ({sanitize(dep.get('best'), single_line=True, limit=30)} vs "
                 f"{sanitize(dep.get('worst'), single_line=True, limit=30)}); the verdict of "
                 f"{dep.get('n_cases_depending')} of {section.get('n_cases')} cases changes with it")
    t.append(f"\ndisagree on {dis.get('n_disagree')} of {dis.get('n_samples')} samples: {fmt.pct(dis.get('value'), 1)} "
             f"[{fmt.ci(dis.get('ci'))}]", style="dim")
    return t


PAGE = 100


class ExtractorsScreen(AppScreen):
    BINDINGS = [
        Binding("right_square_bracket", "page(1)", "Next page", id="extractors.next"),
        Binding("left_square_bracket", "page(-1)", "Previous page", id="extractors.previous"),
        Binding("escape", "app.pop_screen", "Back", id="extractors.back"),
    ]

    def __init__(self, data: RunData) -> None:
        super().__init__()
        self.data = data
        self.section: dict[str, Any] = (data.report.get("robustness") or {}).get("extractors") or {}
        self.names = applicable_names(self.section)
        self.listed = {f"{d['case_id']}|{d.get('template')}|{d.get('sample_index')}": d
                       for d in self.section.get("disagreements") or []}
        self.page = 0

    def crumb(self) -> str:
        return f"run {self.data.run['id']} › extractors"

    def compose_body(self) -> ComposeResult:
        yield Static(id="ex-title")
        yield KeyedTable(id="ex-table")
        yield KeyedTable(id="ex-samples", zebra_stripes=True, enter_label="Inspect")

    def on_mount(self) -> None:
        table = self.query_one("#ex-table", KeyedTable)
        table.set_columns([("extractor", "name", 16), ("n", "n", 4), ("acc", "acc", 5), ("95% CI", "ci", 7),
                           ("read", "read", 5), ("", "note", 16)], flex=("name",), drop=("note",))
        table.border_title = "Extractors — accuracy over cases"
        samples = self.query_one("#ex-samples", KeyedTable)
        # the sample (case, template, index) in one column, so none has to give way at 80 wide
        keys = [f"x{i}" for i in range(len(self.names))]
        samples.set_columns([("sample", "sample", 14)] + [(sanitize(n, single_line=True, limit=24), k, 9)
                                                         for k, n in zip(keys, self.names)],
                            flex=("sample", *keys))
        self.fill()
        samples.focus()

    def on_theme_change(self) -> None:
        self.fill()

    def fill(self) -> None:
        pal = fmt.Palette.of(self.app)
        self.query_one("#ex-title", Static).update(headline(self.section, pal))
        rows = []
        for e in self.section.get("extractors") or []:
            applies = e.get("applicable", True)
            rows.append((str(e["name"]), [
                inert(e["name"], single_line=True, limit=40),
                fmt.right(str(e.get("n_cases", fmt.DASH))),
                fmt.acc_text(e.get("accuracy"), pal) if applies else fmt.right(fmt.DASH, "dim"),
                fmt.right(fmt.ci(e.get("accuracy_ci")) if applies else fmt.DASH, "dim"),
                fmt.right(str(e.get("n_extracted", 0))),
                Text("" if applies else "read nothing: n/a", style="dim"),
            ]))
        self.query_one("#ex-table", KeyedTable).sync(rows)
        self.fill_samples(pal)

    def n_pages(self) -> int:
        return max(1, -(-len(self.listed) // PAGE))

    def fill_samples(self, pal: fmt.Palette) -> None:
        table = self.query_one("#ex-samples", KeyedTable)
        shown = list(self.listed.items())[self.page * PAGE:(self.page + 1) * PAGE]
        table.sync([
            (key, [inert(f"{d['case_id']} {d.get('template')}#{d.get('sample_index')}", single_line=True, limit=60)]
             + [reading_cell((d.get("extracted") or {}).get(n), bool((d.get("correct") or {}).get(n)), pal)
                for n in self.names])
            for key, d in shown])
        title = f"Samples where they disagree ({len(self.listed)})"
        if self.n_pages() > 1:
            first = self.page * PAGE + 1
            title += f" · {first}–{first + len(shown) - 1}, page {self.page + 1} of {self.n_pages()} ([ ])"
        table.border_title = title + " — Enter opens the case"

    def action_page(self, step: int) -> None:
        page = min(self.n_pages() - 1, max(0, self.page + step))
        if page != self.page:
            self.page = page
            self.fill_samples(fmt.Palette.of(self.app))
            self.query_one("#ex-samples", KeyedTable).move_cursor(row=0)

    @on(DataTable.RowSelected, "#ex-samples")
    def _selected(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#ex-samples", KeyedTable).cursor_key()
        d = self.listed.get(key) if key else None
        if d is not None:
            self.app.push_screen(InspectorScreen(self.data.run["id"], str(d["case_id"])))
