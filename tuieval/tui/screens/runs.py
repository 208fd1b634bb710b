"""Runs: every run in the database, refreshed every two seconds so a run written by a headless
`tuieval run` in another terminal shows up and advances; open any run, watch it live, compare two.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuieval.tui import data, fmt
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable

POLL_S = 2.0


class RunsScreen(AppScreen):
    CRUMB = "runs"
    #: at 80 columns these keys leave the footer first; marking and comparing stay
    FOOTER_GIVE_WAY = ("runs.export", "runs.trend", "runs.live")

    BINDINGS = [
        Binding("l", "live", "Watch live", id="runs.live"),
        Binding("space", "mark", "Mark", id="runs.mark"),
        Binding("c", "compare", "Compare", id="runs.compare"),
        Binding("e", "export", "Export", id="runs.export"),
        Binding("t", "trend", "Trend", id="runs.trend"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[dict[str, Any]] = []
        self.marked: list[str] = []
        self._n_width = 9
        self.tags: dict[str, list[str]] = {}  # run id → tag names (production …)

    def compose_body(self) -> ComposeResult:
        yield KeyedTable(id="runs-table", zebra_stripes=True, enter_label="Open")
        yield Static(id="runs-detail")

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", KeyedTable)
        self._set_columns(table, 9)
        table.border_title = "Runs — newest first"
        # behind another screen the list is read again on resume: at a million samples a read is
        # 0.4 s of CPU (counts over every sample), which a report just opened on top should not share
        self.tapp.run_changed.subscribe(self, lambda _run_id: self.poll() if self.is_current else None)
        self.set_interval(POLL_S, lambda: self.poll() if self.is_current else None, name="runs-poll")
        self.poll()
        table.focus()

    def on_theme_change(self) -> None:
        self.fill(self.runs)

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.poll()
        self._prefetch()

    def _set_columns(self, table: KeyedTable, n_width: int) -> None:
        """`n_width` fits the widest done/expected count in full (11000/11000, never 11000/110)."""
        self._n_width = n_width
        # on a narrow terminal the start time, the suite and the rates give way; the run id stays
        table.set_columns([(" ", "mark", 1), ("model", "model", 16), ("suite", "suite", 12), ("status", "status", 8),
                           ("samples", "n", n_width), ("acc", "acc", 4), ("err", "err", 4), ("run", "id", 20),
                           ("started", "started", 19)], flex="model", drop=("started", "suite", "err", "acc"))

    @work(thread=True, exclusive=True, group="runs-poll")
    def poll(self) -> None:
        from tuieval.tui.judge_data import load_tags

        runs = data.list_runs(self.tapp.db_path)
        self.tags = load_tags(self.tapp.db_path)
        self.app.call_from_thread(self.fill, runs)

    def fill(self, runs: list[dict[str, Any]]) -> None:
        self.runs = runs
        self.tapp.runs = runs
        pal = fmt.Palette.of(self.app)
        rows = []
        status_style = {"running": pal.accent, "complete": pal.good, "partial": pal.warn, "failed": pal.bad}
        for r in runs:
            n = r.get("n_samples") or 0
            live = self.tapp.live_runs.get(r["id"])
            if live is not None and not live.finished and not live.external:
                n = max(n, live.n_done)
            acc = (r.get("n_correct") or 0) / n if n else None
            err = (r.get("n_errors") or 0) / n if n else None
            model = inert(r["model"], single_line=True, limit=60)
            if r.get("simulated"):
                model.append(" sim", style="dim")
            rows.append((r["id"], [
                Text("●" if r["id"] in self.marked else " ", style=pal.accent),
                model,
                inert(r["suite"], single_line=True, limit=12),
                Text(r["status"], style=status_style.get(r["status"], "")),
                fmt.right(f"{n}/{r.get('n_expected')}"),  # measured below: the column fits it
                fmt.acc_text(acc, pal),
                fmt.right(fmt.pct(err), pal.bad if err else "dim"),
                inert(r["id"], single_line=True),
                inert((r.get("started_at") or "").replace("T", " ")[:19], single_line=True, style="dim"),
            ]))
        table = self.query_one("#runs-table", KeyedTable)
        widest = max((row[1][4].cell_len for row in rows), default=0)
        if widest > self._n_width:
            self._set_columns(table, widest)
        table.sync(rows)
        if not runs:
            self.query_one("#runs-detail", Static).update(Text(
                "No runs in this database yet. Press 1 for the suites (n starts a run), or d there for the demo.",
                style="dim"))
        else:
            self._detail()

    def current(self) -> str | None:
        return self.query_one("#runs-table", KeyedTable).cursor_key()

    def _detail(self) -> None:
        rid = self.current()
        run = next((r for r in self.runs if r["id"] == rid), None)
        if run is None:
            return
        t = Text(no_wrap=False)
        t.append(sanitize(run["id"], single_line=True), style="bold")
        t.append(f"  {run.get('samples_per_case')} samples/case at T={run.get('temperature')}"
                 f" · concurrency {run.get('concurrency')}", style="dim")
        if run.get("slo_ms"):
            t.append(f" · SLO {fmt.ms(run['slo_ms'])}", style="dim")
        if run.get("simulated"):
            t.append(" · simulated model (demo/…): no network, no key", style="dim")
        if self.tags.get(run["id"]):
            t.append(" · tagged ", style="dim")
            t.append(sanitize(", ".join(self.tags[run["id"]]), single_line=True), style="bold")
        if self.marked:
            t.append(f"\nmarked for comparison: {', '.join(self.marked)}", style="dim")
        self.query_one("#runs-detail", Static).update(t)

    @on(DataTable.RowHighlighted, "#runs-table")
    def _highlighted(self) -> None:
        self._detail()
        self._prefetch()

    def _prefetch(self) -> None:
        """The highlighted run's report, loaded before Enter, so its scoreboard opens filled."""
        run = next((r for r in self.runs if r["id"] == self.current()), None)
        if run is not None and self.is_current:
            self.tapp.prefetch(run)

    @on(DataTable.RowSelected, "#runs-table")
    def _selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        rid = self.current()
        if rid:
            self.tapp.open_run(rid)

    def action_live(self) -> None:
        rid = self.current()
        if rid:
            self.tapp.watch_live(rid)

    def action_mark(self) -> None:
        rid = self.current()
        if not rid:
            return
        if rid in self.marked:
            self.marked.remove(rid)
        else:
            self.marked = (self.marked + [rid])[-2:]
        self.fill(self.runs)
        if len(self.marked) == 2:
            # the paired comparison is the slow part of Compare: start it while the user reaches for `c`
            runs = {r["id"]: r for r in self.runs}
            if all(runs.get(r, {}).get("status") not in (None, "running") for r in self.marked):
                self.tapp.request_comparison(self.marked[0], self.marked[1])

    def action_compare(self) -> None:
        from tuieval.tui.screens.compare import CompareScreen

        pair = list(self.marked)
        if len(pair) < 2:
            # never guess the second run: two neighbouring rows are usually unrelated runs
            have = f" ({pair[0]} is marked)" if pair else ""
            self.notify(f"mark two runs to compare: space on the baseline, then space on the candidate, "
                        f"then c{have}", title="compare")
            return
        self.app.push_screen(CompareScreen(pair[0], pair[1]))

    def action_export(self) -> None:
        rid = self.current()
        if rid:
            self.tapp.export_report(rid, "json")

    def action_trend(self) -> None:
        from tuieval.tui.screens.trend import TrendScreen

        run = next((r for r in self.runs if r["id"] == self.current()), None)
        if run is not None:
            self.app.push_screen(TrendScreen(run["suite"], run["model"]))
