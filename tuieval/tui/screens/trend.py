"""Trend: a suite's finished runs of one model over time (tuieval.report.trend, as `tuieval trend`).

One row per run, oldest first: accuracy, worst slice, consistency and p99, each with its interval
and n, and the change from the run before with its paired test (▲/▼ when significant after
Benjamini–Hochberg across the steps). Opened from Runs with `t` on any run of the suite.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from tuieval.tui import fmt
from tuieval.tui.judge_data import load_trend
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable

TEST_NAMES = {"mcnemar": "McNemar", "sign_flip": "sign-flip"}


def _pts(x: Any) -> str:
    return "—" if x is None else f"{100 * x:+.1f}"


def step_text(step: dict[str, Any] | None, pal: fmt.Palette) -> Text:
    if step is None:
        return Text("first run", style="dim")
    acc = step["accuracy"]
    if not acc["tested"]:
        return Text("no shared cases: untested", style="dim")
    t = Text(no_wrap=True, overflow="ellipsis")
    mark = {"down": "▼ ", "up": "▲ "}.get(acc.get("direction") or "", "")
    style = (pal.bad if acc.get("direction") == "down" else pal.good) if acc["significant"] else ""
    t.append(f"{mark}{_pts(acc.get('delta'))} pts", style=f"bold {style}" if style else "")
    q = acc.get("q_value")
    t.append(f" q {'<0.0001' if q is not None and q < 1e-4 else fmt.dec(q, 3)} "
             f"{TEST_NAMES.get(acc.get('test'), acc.get('test'))} n={acc.get('n_paired')}", style="dim")
    if step["p99_ms"]["significant"]:
        t.append(" · p99 moved", style=pal.warn)
    return t


class TrendScreen(AppScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="trend.back")]

    def __init__(self, suite: str, model: str) -> None:
        super().__init__()
        self.suite = suite
        self.model = model
        self.trend: dict[str, Any] | None = None

    def crumb(self) -> str:
        return f"runs › trend of {sanitize(self.suite, single_line=True)}"

    def compose_body(self) -> ComposeResult:
        yield Static(id="trend-title")
        yield KeyedTable(id="trend-table", zebra_stripes=True)
        yield Static(id="trend-note")

    def on_mount(self) -> None:
        self.query_one("#trend-title", Static).update(Text("loading…", style="dim"))
        table = self.query_one("#trend-table", KeyedTable)
        # n stays inside the accuracy cell: a narrow terminal drops consistency, never an n
        table.set_columns([("run", "id", 20), ("acc [95% CI] n", "acc", 18), ("worst slice", "worst", 16),
                           ("cons.", "cons", 5), ("p99 ms", "p99", 7), ("change", "change", 32)],
                          flex=("worst", "change"), drop=("cons",))
        self.load()

    def on_theme_change(self) -> None:
        if self.trend is not None:
            self.show(self.trend)

    @work(thread=True, exclusive=True, group="trend")
    def load(self) -> None:
        from tuieval.report.trend import TrendError

        try:
            trend = load_trend(self.tapp.db_path, self.suite, self.model)
        except TrendError as exc:
            self.app.call_from_thread(self.query_one("#trend-title", Static).update, Text(str(exc), style="dim"))
            return
        self.app.call_from_thread(self.show, trend)

    def show(self, trend: dict[str, Any]) -> None:
        self.trend = trend
        pal = fmt.Palette.of(self.app)
        series = trend["series"][0] if trend["series"] else {"runs": [], "steps": []}
        title = Text()
        title.append(sanitize(self.suite, single_line=True), style="bold")
        title.append(f" · {sanitize(self.model, single_line=True)}"
                     + (" (simulated)" if series.get("simulated") else "")
                     + f" · {len(series['runs'])} finished run(s), oldest first", style="dim")
        self.query_one("#trend-title", Static).update(title)
        rows = []
        for point, step in zip(series["runs"], [None] + list(series["steps"])):
            acc = point["accuracy"]
            ws = point["worst_slice"]
            worst = Text(no_wrap=True, overflow="ellipsis")
            if ws:
                worst.append_text(inert(f"{ws['key']}={ws['value']}", single_line=True, limit=30))
                worst.append(f" {fmt.pct(ws['accuracy'])} n={ws['n_cases']}", style=fmt.acc_style(ws["accuracy"], pal))
            acc_cell = Text(f"{fmt.pct(acc['value'], 1)} [{fmt.ci(acc.get('ci'))}] n={acc.get('n')}",
                            style=fmt.acc_style(acc["value"], pal))
            rows.append((point["id"], [inert(point["id"], single_line=True), acc_cell, worst, fmt.right(fmt.pct(point["consistency"]["value"])),
                                       fmt.right(fmt.ms(point["p99_ms"]["value"])), step_text(step, pal)]))
        self.query_one("#trend-table", KeyedTable).sync(rows)
        note = Text("change: the paired test of `tuieval compare` on the cases both runs hold, q after "
                    "Benjamini–Hochberg across the steps; ▲/▼ significant. Every figure: tuieval trend "
                    f"{sanitize(self.suite, single_line=True)} --model {sanitize(self.model, single_line=True)}",
                    style="dim")
        skipped = trend.get("skipped_runs") or []
        if skipped:
            note.append(f"\n{len(skipped)} unfinished run(s) left out", style="dim")
        self.query_one("#trend-note", Static).update(note)
