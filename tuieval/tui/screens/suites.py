"""Suites: browse suites → templates and cases, filter cases, preview a rendered prompt, start a run."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, OptionList, Static
from textual.widgets.option_list import Option

from tuieval.tui import data
from tuieval.tui.fmt import theme_colour
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen

MAX_META_COLUMNS = 2


def case_matches(case: Any, terms: list[str]) -> bool:
    """AND of the filter terms: `key=value` / `key!=value` test metadata, anything else is a substring of the case."""
    haystack = None
    for term in terms:
        if "=" in term and not term.startswith("="):
            key, _, value = term.partition("=")
            negate = key.endswith("!")
            key = key.rstrip("!").strip().lower()
            meta = {str(k).lower(): str(v).lower() for k, v in (case.metadata or {}).items()}
            hit = meta.get(key) == value.strip().lower() if value else key in meta
            if hit == negate:
                return False
        else:
            if haystack is None:
                haystack = " ".join([case.id, case.input_text(), " ".join(map(str, case.targets)),
                                     " ".join(f"{k}={v}" for k, v in (case.metadata or {}).items())]).lower()
            if term.lower() not in haystack:
                return False
    return True


class SuitesScreen(AppScreen):
    CRUMB = "suites"

    BINDINGS = [
        Binding("n", "new_run", "New run", id="suites.run"),
        Binding("slash", "focus_filter", "Filter", id="suites.filter"),
        Binding("d", "app.demo", "Demo", id="suites.demo"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.entry: data.SuiteEntry | None = None
        self.template_index = 0
        self.shown_cases: list[Any] = []
        self._filter_timer = None
        self.meta_keys: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="suites-body"):
            with Vertical(id="suites-left"):
                yield OptionList(id="suite-list")
                yield OptionList(id="template-list")
            with Vertical(id="suites-right"):
                yield Input(placeholder="filter: words, or key=value (e.g. length=long)", id="case-filter",
                            compact=True)
                yield DataTable(id="case-table", cursor_type="row", zebra_stripes=True)
                with VerticalScroll(id="case-preview"):
                    yield Static(id="case-preview-body")

    def on_mount(self) -> None:
        self.query_one("#suite-list").border_title = "Suites"
        self.query_one("#template-list").border_title = "Templates"
        self.query_one("#case-table").border_title = "Cases"
        self.query_one("#case-preview").border_title = "Prompt"
        if self.tapp.snapshot:
            self.query_one("#case-filter", Input).cursor_blink = False
        self.tapp.suites_changed.subscribe(self, lambda _: self.fill_suites())
        if self.tapp.suites_loaded:
            self.fill_suites()

    def on_theme_change(self) -> None:
        if self.tapp.suites_loaded:
            ol = self.query_one("#suite-list", OptionList)
            keep = ol.highlighted
            entry, self.entry = self.entry, None
            self.fill_suites()
            if keep is not None and entry is not None:
                ol.highlighted = keep
                self.select_suite(keep)

    # -- filling ------------------------------------------------------------------------------------

    def fill_suites(self) -> None:
        ol = self.query_one("#suite-list", OptionList)
        ol.clear_options()
        for i, e in enumerate(self.tapp.suites):
            if e.suite is None:
                label = Text("✗ ", style="bold " + theme_colour(self.app, "text-error", "red"))
                label.append_text(inert(e.name, single_line=True))
            else:
                label = inert(e.name, single_line=True)
                label.append(f"  {len(e.suite.cases)}", style="dim")
            ol.add_option(Option(label, id=str(i)))
        if not self.tapp.suites:
            self.query_one("#case-preview-body", Static).update(
                Text("No suites. Start the app with suite files: tuieval app SUITE.yaml …", style="dim"))
            return
        ol.highlighted = 0
        self.select_suite(0)

    @on(OptionList.OptionHighlighted, "#suite-list")
    def _suite_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index is not None:
            self.select_suite(event.option_index)

    @on(OptionList.OptionSelected, "#suite-list")
    def _suite_selected(self, event: OptionList.OptionSelected) -> None:
        self.query_one("#case-table").focus()

    def select_suite(self, index: int) -> None:
        if not (0 <= index < len(self.tapp.suites)):
            return
        entry = self.tapp.suites[index]
        if entry is self.entry:
            return
        self.entry = entry
        self.template_index = 0
        tl = self.query_one("#template-list", OptionList)
        tl.clear_options()
        table = self.query_one("#case-table", DataTable)
        table.clear(columns=True)
        if entry.suite is None:
            self.query_one("#case-preview-body", Static).update(inert(entry.error or "does not load"))
            table.border_title = "Cases"
            return
        for t in entry.suite.templates:
            tl.add_option(Option(inert(t.id, single_line=True), id=t.id))
        if entry.suite.templates:
            tl.highlighted = 0
        keys: list[str] = []
        for c in entry.suite.cases:
            for k in (c.metadata or {}):
                if k not in keys:
                    keys.append(str(k))
        self.meta_keys = keys[:MAX_META_COLUMNS]
        cases = entry.suite.cases

        def width(values, header: str, cap: int) -> int:
            return max([len(header)] + [min(cap, len(str(v))) for v in values])

        # fixed widths: measured once from the data, never re-measured as rows change
        table.add_column("id", key="id", width=width((c.id for c in cases), "id", 16))
        for k in self.meta_keys:
            table.add_column(inert(k, single_line=True, limit=14), key=f"m:{k}",
                             width=width(((c.metadata or {}).get(k, "") for c in cases), k, 14))
        table.add_column("target", key="target", width=22)
        table.add_column("input", key="input", width=60)
        self.apply_filter()

    def apply_filter(self) -> None:
        if self.entry is None or self.entry.suite is None:
            return
        terms = self.query_one("#case-filter", Input).value.split()
        suite = self.entry.suite
        self.shown_cases = [c for c in suite.cases if case_matches(c, terms)] if terms else list(suite.cases)
        table = self.query_one("#case-table", DataTable)
        table.clear()
        for c in self.shown_cases:
            cells = [inert(c.id, single_line=True, limit=16)]
            cells += [inert((c.metadata or {}).get(k, ""), single_line=True, limit=14) for k in self.meta_keys]
            target = c.targets[0] if c.targets else ""
            cells.append(inert(target if isinstance(target, str) else _json(target), single_line=True, limit=22))
            cells.append(inert(c.input_text(), single_line=True, limit=60))
            table.add_row(*cells, key=c.id)
        shown = f"{len(self.shown_cases)} of {len(suite.cases)}" if terms else f"{len(suite.cases)}"
        table.border_title = f"Cases ({shown})"
        if self.shown_cases:
            self.show_case(self.shown_cases[0])
        else:
            self.query_one("#case-preview-body", Static).update(Text("no case matches the filter", style="dim"))

    @on(Input.Changed, "#case-filter")
    def _filter_changed(self) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(0.15, self.apply_filter)

    @on(Input.Submitted, "#case-filter")
    def _filter_submitted(self) -> None:
        self.apply_filter()
        self.query_one("#case-table").focus()

    @on(OptionList.OptionHighlighted, "#template-list")
    def _template_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if event.option_index is not None:
            self.template_index = event.option_index
            self._show_current()

    @on(DataTable.RowHighlighted, "#case-table")
    def _case_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if 0 <= event.cursor_row < len(self.shown_cases):
            self.show_case(self.shown_cases[event.cursor_row])

    @on(DataTable.RowSelected, "#case-table")
    def _case_selected(self, event: DataTable.RowSelected) -> None:
        self.query_one("#case-preview").focus()

    def _show_current(self) -> None:
        table = self.query_one("#case-table", DataTable)
        if 0 <= table.cursor_row < len(self.shown_cases):
            self.show_case(self.shown_cases[table.cursor_row])

    def show_case(self, case: Any) -> None:
        suite = self.entry.suite if self.entry else None
        if suite is None:
            return
        out = Text()
        out.append(sanitize(case.id, single_line=True), style="bold")
        for k, v in (case.metadata or {}).items():
            out.append("  ")
            out.append(sanitize(f"{k}={v}", single_line=True), style="dim")
        out.append("\n")
        if suite.templates:
            template = suite.templates[min(self.template_index, len(suite.templates) - 1)]
            try:
                messages = template.render(case)
            except KeyError as exc:
                messages = [{"role": "error", "content": f"template {template.id} needs variable {exc}"}]
            for m in messages:
                out.append(f"\n{m['role']}", style="bold " + theme_colour(self.app, "text-accent", "cyan"))
                out.append(f" · template {template.id}\n" if m["role"] == "user" else "\n", style="dim")
                out.append(sanitize(m["content"]))
                out.append("\n")
        targets = ", ".join(t if isinstance(t, str) else _json(t) for t in case.targets)
        out.append("\ntarget ", style="bold " + theme_colour(self.app, "text-success", "green"))
        out.append(sanitize(targets) or "(none)")
        self.query_one("#case-preview-body", Static).update(out)

    # -- actions ------------------------------------------------------------------------------------

    def action_new_run(self) -> None:
        if self.entry is not None:
            self.tapp.request_run(self.entry)

    def action_focus_filter(self) -> None:
        self.query_one("#case-filter").focus()

    def action_clear_filter(self) -> None:
        f = self.query_one("#case-filter", Input)
        if f.value:
            f.value = ""
            self.apply_filter()
        self.query_one("#case-table").focus()


def _json(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)
