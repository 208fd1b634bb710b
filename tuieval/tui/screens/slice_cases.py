"""The cases of one slice (or of the whole run), worst first: accuracy, consistency, clusters,
the top answer and the target.

The frame is painted first; the case list is prepared in a thread (tuieval.tui.case_rows) and
drawn by a Line API table (tuieval.tui.widgets.line_table) that reads only the rows on screen, a
page at a time, so a million-sample run's 100,000 cases scroll without being loaded.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuieval.tui import fmt
from tuieval.tui.case_rows import CaseRow, ListCaseRows, StoredCaseRows, load_case_rows
from tuieval.tui.data import RunData
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.slices import slice_key
from tuieval.tui.widgets.line_table import LineTable


def _target_text(targets: Any) -> str:
    if not targets:
        return ""
    first = targets[0] if isinstance(targets, list) else targets
    return first if isinstance(first, str) else json.dumps(first, ensure_ascii=False)


COLUMNS = [("case", "case", 12), ("acc", "acc", 4), ("cons", "cons", 4), ("clu", "k", 3), ("maj", "maj", 3),
           ("top answer", "top", 24), ("target", "target", 18)]


class SliceCasesScreen(AppScreen):
    BINDINGS = [
        Binding("slash", "search", "Search", id="cases.search"),
        Binding("escape", "app.pop_screen", "Back", id="cases.back"),
    ]

    def __init__(self, data: RunData, sl: dict[str, Any] | None) -> None:
        super().__init__()
        self.data = data
        self.slice = sl
        #: filled by the loading worker (`loaded` is True from then on)
        self.rows: ListCaseRows | StoredCaseRows | None = None
        self.loaded = False

    def crumb(self) -> str:
        name = slice_key(self.slice) if self.slice else "overall"
        return f"run {self.data.run['id']} › {name}"

    def compose_body(self) -> ComposeResult:
        yield Static(id="cases-title")
        yield LineTable(self._cells, id="cases-table", zebra_stripes=True, enter_label="Inspect")
        with VerticalScroll(id="cases-preview") as preview:
            preview.border_title = "Input"
            yield Static(id="cases-preview-body")

    def on_mount(self) -> None:
        # the frame first; the slice's case list is prepared in a thread and fills it
        name = slice_key(self.slice) if self.slice else "overall"
        self.query_one("#cases-title", Static).update(Text.assemble(
            (sanitize(name, single_line=True), "bold"), ("  loading the cases…", "dim"),
            no_wrap=True, overflow="ellipsis"))
        table = self.query_one("#cases-table", LineTable)
        table.set_columns(COLUMNS, flex=("top", "target"), drop=("maj", "k"))
        table.border_title = "Cases — Enter opens the answers"
        table.focus()
        self.query_one("#cases-preview-body", Static).update(Text("loading…", style="dim"))
        self._load()

    def on_unmount(self) -> None:
        if self.rows is not None:
            self.rows.close()

    @work(thread=True, exclusive=True, group="slice-cases")
    def _load(self) -> None:
        try:
            result = load_case_rows(self.tapp.db_path, self.data, self.slice)
        except Exception as exc:  # e.g. the database went away: say so instead of crashing the app
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, result)

    def _failed(self, reason: str) -> None:
        self.query_one("#cases-title", Static).update(
            Text(f"cannot list the cases: {sanitize(reason, single_line=True, limit=200)}", style="bold"))

    def _loaded(self, result: ListCaseRows | StoredCaseRows) -> None:
        self.rows = result
        self.loaded = True
        self._title()
        self.query_one("#cases-table", LineTable).set_source(result)
        self._position()
        self._preview()

    def case_at(self, index: int) -> dict[str, Any] | None:
        """The report entry of the case listed at `index` (read from the source as the table reads it)."""
        got = self.query_one("#cases-table", LineTable).row(index)
        return got[1].case if got else None

    def on_theme_change(self) -> None:
        if self.loaded:
            self._title()
            self.query_one("#cases-table", LineTable).invalidate()

    def _title(self) -> None:
        pal = fmt.Palette.of(self.app)
        name = slice_key(self.slice) if self.slice else "overall"
        n, n_wrong = (self.rows.n, self.rows.n_wrong) if self.rows is not None else (0, 0)
        self.query_one("#cases-title", Static).update(Text.assemble(
            (sanitize(name, single_line=True), "bold"), f"  {n:,} cases, ",
            (f"{n_wrong:,} with at least one wrong answer", pal.bad if n_wrong else ""), ("  · worst first", "dim"),
            no_wrap=True, overflow="ellipsis"))

    def _cells(self, row: CaseRow) -> list[Any]:
        pal = fmt.Palette.of(self.app)
        c = row.case
        clusters = c.get("clusters") or []
        modal = max(clusters, key=lambda cl: cl.get("size") or 0) if clusters else {}
        maj = c.get("majority_correct")
        return [
            inert(c["id"], single_line=True, limit=12),
            fmt.acc_text(c.get("accuracy"), pal),
            fmt.right(fmt.pct(c.get("consistency"))),
            fmt.right(str(c.get("n_clusters", len(clusters)))),
            Text("✓", style=pal.good) if maj else Text("✗", style=pal.bad) if maj is not None else Text("—"),
            inert(modal.get("representative") or "", single_line=True, limit=80),
            inert(_target_text(row.targets), single_line=True, limit=60),
        ]

    def _position(self) -> None:
        """The cursor's place in the list, on the table's bottom border: row i of n."""
        table = self.query_one("#cases-table", LineTable)
        n = table.row_count
        table.border_subtitle = f"{table.cursor_row + 1:,} of {n:,}" if n else "no cases"

    def _preview(self) -> None:
        table = self.query_one("#cases-table", LineTable)
        row: CaseRow | None = table.cursor_payload()
        body = self.query_one("#cases-preview-body", Static)
        if row is None:
            body.update(Text("no cases in this slice" if self.loaded else "loading…", style="dim"))
            return
        key = str(row.case["id"])
        t = Text()
        t.append(sanitize(key, single_line=True), style="bold")
        for k, v in (row.case.get("metadata") or {}).items():
            t.append("  ")
            t.append(sanitize(f"{k}={v}", single_line=True), style="dim")
        t.append("\n")
        t.append(sanitize(row.input_text, limit=600))
        body.update(t)

    @on(LineTable.Highlighted, "#cases-table")
    def _highlighted(self) -> None:
        self._position()
        self._preview()

    @on(LineTable.Selected, "#cases-table")
    def _selected(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#cases-table", LineTable).cursor_key()
        if key is not None:
            self.app.push_screen(InspectorScreen(self.data.run["id"], key))

    def action_search(self) -> None:
        from tuieval.tui.screens.search import open_search

        open_search(self.app, self.data.run["id"])
