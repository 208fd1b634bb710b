"""The cases of one slice, worst first: accuracy, consistency, clusters, the top answer and the target.

The frame is painted first; the case list (the slice's members, the sort, the targets) is built
in a thread and fills it, a page of rows at a time as the cursor goes down.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData, SliceCases, load_slice_cases
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.slices import slice_key
from tuieval.tui.widgets.keyed_table import KeyedTable


def _target_text(metadata_case: dict[str, Any] | None, targets: Any) -> str:
    if not targets:
        return ""
    first = targets[0] if isinstance(targets, list) else targets
    return first if isinstance(first, str) else json.dumps(first, ensure_ascii=False)


#: rows put in the table at once; more are added as the cursor nears the end (a 10,000-case
#: slice would otherwise cost a second of add_row calls on the event loop before the first paint)
PAGE = 300


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
        self.cases: list[dict[str, Any]] = []
        self.by_id: dict[str, dict[str, Any]] = {}
        self.targets: dict[str, Any] = {}
        self.inputs: dict[str, str] = {}
        self.loaded = False
        self.shown = 0  # rows in the table: the first `shown` of `cases`

    def crumb(self) -> str:
        name = slice_key(self.slice) if self.slice else "overall"
        return f"run {self.data.run['id']} › {name}"

    def compose_body(self) -> ComposeResult:
        yield Static(id="cases-title")
        yield KeyedTable(id="cases-table", zebra_stripes=True, enter_label="Inspect")
        with VerticalScroll(id="cases-preview") as preview:
            preview.border_title = "Input"
            yield Static(id="cases-preview-body")

    def on_mount(self) -> None:
        # the frame first; the slice's case list is built in a thread and fills it
        name = slice_key(self.slice) if self.slice else "overall"
        self.query_one("#cases-title", Static).update(Text.assemble(
            (sanitize(name, single_line=True), "bold"), ("  loading the cases…", "dim"),
            no_wrap=True, overflow="ellipsis"))
        self._columns()
        self.query_one("#cases-table", KeyedTable).focus()
        self.query_one("#cases-preview-body", Static).update(Text("loading…", style="dim"))
        self._load()

    @work(thread=True, exclusive=True, group="slice-cases")
    def _load(self) -> None:
        try:
            result = load_slice_cases(self.tapp.db_path, self.data, self.slice)
        except Exception as exc:  # e.g. the database went away: say so instead of crashing the app
            self.app.call_from_thread(self._failed, f"{type(exc).__name__}: {exc}")
            return
        self.app.call_from_thread(self._loaded, result)

    def _failed(self, reason: str) -> None:
        self.query_one("#cases-title", Static).update(
            Text(f"cannot list the cases: {sanitize(reason, single_line=True, limit=200)}", style="bold"))

    def _loaded(self, result: SliceCases) -> None:
        self.cases = result.cases
        self.by_id = {str(c["id"]): c for c in self.cases}
        self.targets, self.inputs = result.targets, result.inputs
        self.loaded = True
        self.shown = min(PAGE, len(self.cases))
        self.fill()
        self._preview()

    def on_theme_change(self) -> None:
        if self.loaded:
            self.fill()

    def _columns(self) -> None:
        table = self.query_one("#cases-table", KeyedTable)
        table.set_columns([("case", "case", 12), ("acc", "acc", 4), ("cons", "cons", 4), ("clu", "k", 3),
                           ("maj", "maj", 3), ("top answer", "top", 24), ("target", "target", 18)],
                          flex=("top", "target"), drop=("maj", "k"))
        table.border_title = "Cases — Enter opens the answers"

    def fill(self) -> None:
        pal = fmt.Palette.of(self.app)
        name = slice_key(self.slice) if self.slice else "overall"
        n_wrong = sum(1 for c in self.cases if (fmt.num(c.get("accuracy")) or 0) < 1)
        more = (f"  · showing {self.shown} (more as you scroll)" if self.shown < len(self.cases) else "")
        self.query_one("#cases-title", Static).update(Text.assemble(
            (sanitize(name, single_line=True), "bold"), f"  {len(self.cases)} cases, ",
            (f"{n_wrong} with at least one wrong answer", pal.bad if n_wrong else ""), ("  · worst first", "dim"),
            (more, "dim"), no_wrap=True, overflow="ellipsis"))
        rows = []
        for c in self.cases[:self.shown]:
            clusters = c.get("clusters") or []
            modal = max(clusters, key=lambda cl: cl.get("size") or 0) if clusters else {}
            top = modal.get("representative") or ""
            maj = c.get("majority_correct")
            rows.append((str(c["id"]), [
                inert(c["id"], single_line=True, limit=12),
                fmt.acc_text(c.get("accuracy"), pal),
                fmt.right(fmt.pct(c.get("consistency"))),
                fmt.right(str(c.get("n_clusters", len(clusters)))),
                Text("✓", style=pal.good) if maj else Text("✗", style=pal.bad) if maj is not None else Text("—"),
                inert(top, single_line=True, limit=80),
                inert(_target_text(None, self.targets.get(str(c["id"]))), single_line=True, limit=60),
            ]))
        self.query_one("#cases-table", KeyedTable).sync(rows)

    def _more(self) -> None:
        """Add the next page of rows when the cursor is within a screenful of the last one."""
        table = self.query_one("#cases-table", KeyedTable)
        if self.shown < len(self.cases) and table.cursor_row >= self.shown - max(20, table.size.height):
            self.shown = min(self.shown + PAGE, len(self.cases))
            self.fill()

    def _preview(self) -> None:
        key = self.query_one("#cases-table", KeyedTable).cursor_key()
        body = self.query_one("#cases-preview-body", Static)
        if key is None:
            body.update(Text("no cases in this slice" if self.loaded else "loading…", style="dim"))
            return
        c = self.by_id.get(key, {})
        t = Text()
        meta = c.get("metadata") or {}
        t.append(sanitize(key, single_line=True), style="bold")
        for k, v in meta.items():
            t.append("  ")
            t.append(sanitize(f"{k}={v}", single_line=True), style="dim")
        t.append("\n")
        t.append(sanitize(self.inputs.get(key, ""), limit=600))
        body.update(t)

    @on(DataTable.RowHighlighted, "#cases-table")
    def _highlighted(self) -> None:
        self._preview()
        self._more()

    @on(DataTable.RowSelected, "#cases-table")
    def _selected(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#cases-table", KeyedTable).cursor_key()
        if key is not None:
            self.app.push_screen(InspectorScreen(self.data.run["id"], key))

    def action_search(self) -> None:
        from tuieval.tui.screens.search import open_search

        open_search(self.app, self.data.run["id"])
