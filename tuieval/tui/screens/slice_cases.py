"""The cases of one slice, worst first: accuracy, consistency, clusters, the top answer and the target."""

from __future__ import annotations

import json
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
from tuieval.tui.slices import slice_key
from tuieval.tui.widgets.keyed_table import KeyedTable


def _target_text(metadata_case: dict[str, Any] | None, targets: Any) -> str:
    if not targets:
        return ""
    first = targets[0] if isinstance(targets, list) else targets
    return first if isinstance(first, str) else json.dumps(first, ensure_ascii=False)


def worst_first(cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(c: dict[str, Any]) -> tuple:
        acc = fmt.num(c.get("accuracy"))
        cons = fmt.num(c.get("consistency"))
        return (2.0 if acc is None else acc, 2.0 if cons is None else cons, str(c.get("id")))

    return sorted(cases, key=key)


class SliceCasesScreen(AppScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="cases.back"),
    ]

    def __init__(self, data: RunData, sl: dict[str, Any] | None) -> None:
        super().__init__()
        self.data = data
        self.slice = sl
        self.cases = worst_first(data.cases_of_slice(sl))
        self.by_id = {str(c["id"]): c for c in self.cases}
        self.targets: dict[str, Any] = {}

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
        self.targets = self._load_targets()
        self.fill()
        self.query_one("#cases-table", KeyedTable).focus()
        self._preview()

    def on_theme_change(self) -> None:
        self.fill()

    def fill(self) -> None:
        pal = fmt.Palette.of(self.app)
        name = slice_key(self.slice) if self.slice else "overall"
        n_wrong = sum(1 for c in self.cases if (fmt.num(c.get("accuracy")) or 0) < 1)
        self.query_one("#cases-title", Static).update(Text.assemble(
            (sanitize(name, single_line=True), "bold"), f"  {len(self.cases)} cases, ",
            (f"{n_wrong} with at least one wrong answer", pal.bad if n_wrong else ""), ("  · worst first", "dim"),
            no_wrap=True, overflow="ellipsis"))
        table = self.query_one("#cases-table", KeyedTable)
        if not table.columns:
            table.set_columns([("case", "case", 12), ("acc", "acc", 4), ("cons", "cons", 4), ("clu", "k", 3),
                               ("maj", "maj", 3), ("top answer", "top", 24), ("target", "target", 18)],
                              flex=("top", "target"), drop=("maj", "k"))
        table.border_title = "Cases — Enter opens the answers"
        rows = []
        for c in self.cases:
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
        table.sync(rows)

    def _load_targets(self) -> dict[str, Any]:
        rows = self.tapp.store.case_targets(self.data.run["id"])
        self.inputs = {case_id: text for case_id, (_, text) in rows.items()}
        return {case_id: targets for case_id, (targets, _) in rows.items()}

    def _preview(self) -> None:
        key = self.query_one("#cases-table", KeyedTable).cursor_key()
        body = self.query_one("#cases-preview-body", Static)
        if key is None:
            body.update(Text("no cases in this slice", style="dim"))
            return
        c = self.by_id.get(key, {})
        t = Text()
        meta = c.get("metadata") or {}
        t.append(sanitize(key, single_line=True), style="bold")
        for k, v in meta.items():
            t.append("  ")
            t.append(sanitize(f"{k}={v}", single_line=True), style="dim")
        t.append("\n")
        t.append(sanitize(getattr(self, "inputs", {}).get(key, ""), limit=600))
        body.update(t)

    @on(DataTable.RowHighlighted, "#cases-table")
    def _highlighted(self) -> None:
        self._preview()

    @on(DataTable.RowSelected, "#cases-table")
    def _selected(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#cases-table", KeyedTable).cursor_key()
        if key is not None:
            self.app.push_screen(InspectorScreen(self.data.run["id"], key))
