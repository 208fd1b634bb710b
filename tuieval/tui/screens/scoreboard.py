"""Scoreboard: one run's slices × metrics, worst first, flagged slices marked, an overall row,
and the latency histogram and deadline curve of the highlighted slice. For a run with several
templates, `t` pivots the table to slices × templates (tuieval.tui.pivot); `r` opens the
Robustness screen.

A finished run shows its tuieval.report/1 figures. A run still being written (by this app or by
a headless `tuieval run` elsewhere) shows the live per-slice figures, repainted at 4 Hz, and
switches to the report when the run ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.gates import gate_rows, gates_line
from tuieval.tui.sanitize import sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.slices import (
    COLUMN_SORT,
    SORT_ORDER,
    SORTS,
    detail_line,
    LIVE_DROP,
    REPORT_DROP,
    live_columns,
    live_row,
    n_width,
    ordered,
    report_columns,
    report_row,
    slice_key,
)
from tuieval.tui.widgets.charts import Chart, DeadlineCurve, LatencyHistogram
from tuieval.tui.widgets.keyed_table import KeyedTable


def run_header(run: dict[str, Any], overall: dict[str, Any] | None, palette: fmt.Palette) -> Text:
    sim = " (simulated)" if run.get("simulated") else ""
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(sanitize(f"{run.get('suite')} · {run.get('model')}{sim}", single_line=True), style="bold")
    status = run.get("status", "")
    style = {"complete": palette.good, "partial": palette.warn, "failed": palette.bad, "running": palette.accent}
    t.append(f"  {status}", style=f"bold {style.get(status, '')}")
    if overall:
        t.append(f"  acc {fmt.pct(overall.get('accuracy'), 1)} [{fmt.ci(overall.get('accuracy_ci'))}]")
    t.append(f"  {run.get('n_cases')} cases × {run.get('samples_per_case')} at T={run.get('temperature')}", style="dim")
    if run.get("slo_ms"):
        t.append(f" · SLO {fmt.ms(run.get('slo_ms'))}", style="dim")
    return t


def _with_power(detail: Text, sl: dict[str, Any] | None) -> Text:
    """The detail line with, on its first line, the slice's other names and, when it was
    tested and not flagged, the smallest rise in failures its test could have seen."""
    if not sl or sl.get("key") == "overall":
        return detail
    extra = ""
    if sl.get("aliases"):
        extra += "  = " + ", ".join(sanitize(a, single_line=True, limit=40) for a in sl["aliases"])
    if not sl.get("flagged") and sl.get("q_value") is not None:
        mde = fmt.num(sl.get("mde"))
        extra += (f"  not flagged; could see a rise of ≥ {mde * 100:.0f} pts (80% power)" if mde is not None
                  else "  not flagged; too few cases to see any difference")
    if not extra:
        return detail
    lines = detail.split("\n", allow_blank=True)
    lines[0].append(extra, style="dim")
    return Text("\n").join(lines)


def _with_cost(detail: Text, sl: dict[str, Any] | None, cost: dict[str, Any] | None) -> Text:
    """The detail line with what the highlighted slice cost (the report's `cost` section): the
    run's total on the overall row, the slice's dollars and mean per case (n) on a slice's."""
    from tuieval.cost.estimate import dollars

    if not cost or sl is None:
        return detail
    sim = " (made-up demo price)" if cost.get("simulated") else ""
    if sl.get("key") == "overall":
        if cost.get("total") is None:
            text = f" · cost unknown: no price for {', '.join(cost.get('unpriced') or [])}"
        else:
            text = (f" · cost {dollars(cost['total'])} (n={cost['model']['n_requests']} requests, "
                    f"{dollars(cost.get('per_case'))}/case){sim}")
    else:
        row = next((c for c in cost.get("slices") or []
                    if c.get("key") == sl.get("key") and str(c.get("value")) == str(sl.get("value"))), None)
        if row is None or row.get("dollars") is None:
            return detail
        text = f" · cost {dollars(row['dollars'])} ({dollars(row.get('per_case'))}/case, n={row['n_cases']}){sim}"
    out = detail.copy()
    out.append(text, style="dim")
    return out


class ScoreboardScreen(AppScreen):
    #: at 80 columns these keys leave the footer first (export is in the palette too, sorting is a
    #: click on a column header); the ones a run has only when it needs them (judge, contamination,
    #: shadow) and Robustness stay longest
    FOOTER_GIVE_WAY = ("scoreboard.export", "scoreboard.sort", "scoreboard.pivot")

    BINDINGS = [
        Binding("o", "cycle_sort", "Sort", id="scoreboard.sort"),
        Binding("e", "export", "Export", id="scoreboard.export"),
        Binding("l", "live", "Live", id="scoreboard.live", show=False),
        Binding("j", "judge", "Judge", id="scoreboard.judge"),
        Binding("t", "toggle_pivot", "Templates", id="scoreboard.pivot"),
        Binding("r", "robustness", "Robustness", id="scoreboard.robustness"),
        Binding("x", "contamination", "Contamination", id="scoreboard.contamination"),
        Binding("w", "shadow", "Shadow", id="scoreboard.shadow"),   # only for shadow runs (check_action)
        Binding("escape", "app.pop_screen", "Back", id="scoreboard.back"),
    ]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.sort = "accuracy"
        self.data: RunData | None = None
        self.mode = "loading"  # loading | live | report
        self.rows_by_key: dict[str, dict[str, Any]] = {}
        self.pivot = False
        #: slice key → one cell per template, once computed (tuieval.tui.pivot)
        self.pivot_cells: dict[str, list[dict[str, Any]]] | None = None
        self.pivot_templates: list[str] = []
        self._detail_sig: tuple | None = None

    def crumb(self) -> str:
        return f"run {self.run_id} › scoreboard"

    def action_contamination(self) -> None:
        from tuieval.tui.screens.contamination import ContaminationScreen

        if self.data is not None and self.data.report.get("contamination"):
            self.app.push_screen(ContaminationScreen(self.data))

    def compose_body(self) -> ComposeResult:
        yield Static(id="sb-title")
        yield Static(id="sb-gates")
        yield KeyedTable(id="sb-table", enter_label="Cases")
        yield Static(id="sb-detail")
        with Horizontal(id="sb-charts"):
            yield Chart(id="sb-hist")
            yield Chart(id="sb-deadline")

    def on_mount(self) -> None:
        self.query_one("#sb-gates").display = False
        self.query_one("#sb-hist").border_title = "Latency"
        self.query_one("#sb-deadline").border_title = "Deadline curve"
        self.tapp.run_changed.subscribe(self, self._run_changed)
        self.tapp.slices_ready.subscribe(self, self._slices_ready)
        self.set_interval(1 / 4, self._tick, name="scoreboard")
        self.load()

    def on_theme_change(self) -> None:
        self.repaint(force=True)

    def on_resize(self) -> None:
        # a short terminal gives its rows to the table; the charts shrink to their minimum
        self.set_class(self.size.height < 30, "-short")

    def load(self) -> None:
        app = self.tapp
        cached = app.run_data(self.run_id)
        if cached is not None:
            self.show_report(cached)
            return
        live = app.live_runs.get(self.run_id)
        if live is None:
            # the runs list already knows the status; get_run would count a large run's samples
            run = next((r for r in app.runs if r["id"] == self.run_id), None)
            if run is None:
                try:
                    run = app.store.get_run(self.run_id)
                except Exception as exc:
                    self.query_one("#sb-title", Static).update(Text(f"cannot open run: {exc}", style="bold"))
                    return
            self.run_id = run["id"]
            if run["status"] == "running":
                live = app.follow_run(run["id"])
        if live is not None and not live.finished:
            self.mode = "live"
            self.query_one("#sb-table", KeyedTable).set_columns(live_columns(), flex="slice", drop=LIVE_DROP)
            self.repaint(force=True)
            return
        self.mode = "loading"
        self.query_one("#sb-title", Static).update(Text("computing the report…", style="dim"))
        app.request_analysis(self.run_id)

    def _run_changed(self, run_id: str) -> None:
        if run_id != self.run_id:
            return
        cached = self.tapp.run_data(self.run_id)
        if cached is not None and cached is not self.data:
            self.show_report(cached)
        elif self.mode == "live":
            live = self.tapp.live_runs.get(self.run_id)
            if live is not None and live.finished and cached is None:
                self.query_one("#sb-title", Static).update(Text("run finished — computing the report…", style="dim"))

    def _slices_ready(self, run_id: str) -> None:
        """The slice membership a highlighted slice's charts waited for has been derived."""
        if run_id == self.run_id and self.mode == "report" and self._detail_sig is None:
            self.update_detail()

    def _tick(self) -> None:
        if self.mode == "live" and self.is_current:
            self.repaint()

    # -- painting ------------------------------------------------------------------------------------------

    def show_report(self, result: RunData) -> None:
        self.data = result
        self.mode = "report"
        self.pivot, self.pivot_cells = False, None  # a new report: its pivot is computed again when asked
        table = self.query_one("#sb-table", KeyedTable)
        table.set_columns(report_columns(n_width(self._slices())), flex="slice", drop=REPORT_DROP)
        self.repaint(force=True)
        table.focus()
        # the keys that depend on the report (`j` judge, `x` contamination, `w` shadow) show now
        self.refresh_bindings()

    def _slices(self) -> list[dict[str, Any]]:
        if self.mode == "report" and self.data is not None:
            report = self.data.report
            return [dict(report.get("overall") or {}, key="overall", value="")] + list(report.get("slices") or [])
        live = self.tapp.live_runs.get(self.run_id)
        return live.slices.rows() if live is not None else []

    def repaint(self, force: bool = False) -> None:
        pal = fmt.Palette.of(self.app)
        table = self.query_one("#sb-table", KeyedTable)
        slices = self._slices()
        self.rows_by_key = {slice_key(s): s for s in slices}
        rows = ordered(slices, self.sort)
        if self.mode == "report" and self.data is not None:
            run = self.data.run
            spc = run.get("samples_per_case")
            self.query_one("#sb-title", Static).update(run_header(run, self.data.report.get("overall"), pal))
            gates = self.query_one("#sb-gates", Static)
            line = gates_line(self.data.report, pal)
            gates.display = line is not None
            gates.set_class(bool(gate_rows(self.data.report)) and
                            not all(g.get("passed") for g in gate_rows(self.data.report)), "-failed")
            gates.update(line or "")
            if self.pivot and self.pivot_cells is not None:
                from tuieval.tui.pivot import pivot_row

                table.sync([(slice_key(s), pivot_row(s, self.pivot_cells.get(slice_key(s), []), pal)) for s in rows])
            else:
                table.sync([(slice_key(s), report_row(s, pal, spc)) for s in rows])
        else:
            live = self.tapp.live_runs.get(self.run_id)
            if live is None:
                return
            t = Text(no_wrap=True, overflow="ellipsis")
            t.append(sanitize(live.label(), single_line=True), style="bold")
            t.append(f"  live {live.n_done}/{live.n_total}", style=pal.accent)
            t.append("  figures are provisional until the run ends", style="dim")
            self.query_one("#sb-title", Static).update(t)
            table.sync([(slice_key(s), live_row(s, pal)) for s in rows])
        label, _ = SORTS.get(self.sort, ("", None))
        table.border_title = f"Slices — sort: {self.sort} ({label}) · ⚑ flagged first"
        if self.pivot and self.pivot_cells is not None:
            table.border_title = (f"Slices × {len(self.pivot_templates)} templates — accuracy, 95% CI per cell "
                                  f"· sort: {self.sort} · t back")
        self.update_detail()

    def highlighted(self) -> dict[str, Any] | None:
        key = self.query_one("#sb-table", KeyedTable).cursor_key()
        return self.rows_by_key.get(key) if key else None

    def update_detail(self) -> None:
        pal = fmt.Palette.of(self.app)
        sl = self.highlighted()
        if self.mode == "report":
            # a finished run's detail and charts change only with the row, the report or the
            # theme; the cursor landing on the row just drawn would redraw both charts again
            sig = (id(self.data), slice_key(sl) if sl else None, self.app.theme)
            if sig == self._detail_sig:
                return
            self._detail_sig = sig
        if self.data is not None:
            spc = self.data.run.get("samples_per_case")
        else:
            live = self.tapp.live_runs.get(self.run_id)
            spc = live.samples if live is not None else None
        cost = self.data.report.get("cost") if self.data is not None else None
        self.query_one("#sb-detail", Static).update(_with_cost(_with_power(detail_line(sl, pal, spc), sl), sl, cost))
        slo = None
        if self.data is not None:
            if sl is None or sl.get("key") == "overall":
                lat, correct = self.data.latency, self.data.correct
            elif not self.data.membership_ready():
                # a report stored before its slice membership was kept with it: the app derives
                # it in a thread (app._prepare_slices), and the charts follow when it is ready
                # (`_slices_ready`) rather than the event loop deriving it now
                self._detail_sig = None
                for chart in (self.query_one("#sb-hist", Chart), self.query_one("#sb-deadline", Chart)):
                    chart.show(Text("finding this slice's cases…", style="dim"))
                return
            else:
                mask = self.data.sample_mask(sl)
                lat, correct = self.data.latency[mask], self.data.correct[mask]
            slo = self.data.run.get("slo_ms")
            title = slice_key(sl) if sl else "overall"
        else:
            live = self.tapp.live_runs.get(self.run_id)
            if live is None:
                return
            lat, correct = np.asarray(live.latencies, dtype=float), np.asarray(live.corrects, dtype=bool)
            title = "overall (live)"
        title = sanitize(title, single_line=True, limit=40)
        hist = self.query_one("#sb-hist", Chart)
        hist.border_title = f"Latency · {title}"
        hist.show(LatencyHistogram(lat, slo_ms=slo, palette=pal))
        dl = self.query_one("#sb-deadline", Chart)
        dl.border_title = "Accuracy within deadline"
        dl.show(DeadlineCurve(lat, correct, slo_ms=slo, palette=pal))

    @on(DataTable.RowHighlighted, "#sb-table")
    def _highlighted(self) -> None:
        self.update_detail()

    @on(DataTable.RowSelected, "#sb-table")
    def _selected(self) -> None:
        self.action_open_slice()

    @on(DataTable.HeaderSelected, "#sb-table")
    def _header(self, event: DataTable.HeaderSelected) -> None:
        sort = COLUMN_SORT.get(str(event.column_key.value))
        if sort:
            self.sort = sort
            self.repaint()

    # -- actions ---------------------------------------------------------------------------------------------

    def action_open_slice(self) -> None:
        from tuieval.tui.screens.slice_cases import SliceCasesScreen

        if self.mode != "report" or self.data is None:
            self.notify("cases open once the run has finished and its report is computed")
            return
        sl = self.highlighted()
        self.app.push_screen(SliceCasesScreen(self.data, sl))

    def action_cycle_sort(self) -> None:
        i = SORT_ORDER.index(self.sort) if self.sort in SORT_ORDER else 0
        self.sort = SORT_ORDER[(i + 1) % len(SORT_ORDER)]
        self.repaint()

    def action_toggle_pivot(self) -> None:
        if self.mode != "report" or self.data is None:
            self.notify("the template pivot opens once the run has finished and its report is computed")
            return
        self.pivot = not self.pivot
        if not self.pivot:
            self.query_one("#sb-table", KeyedTable).set_columns(report_columns(n_width(self._slices())), flex="slice",
                                                                drop=REPORT_DROP)
            self.repaint(force=True)
        elif self.pivot_cells is None:
            self.query_one("#sb-table", KeyedTable).border_title = "computing the template pivot…"
            self._load_pivot(self.data, self._slices())
        else:
            self._show_pivot()

    @work(thread=True, exclusive=True, group="pivot", description="template pivot")
    def _load_pivot(self, data: RunData, slices: list[dict[str, Any]]) -> None:
        from tuieval.tui.pivot import pivot_cells
        from tuieval.tui.robustness_data import load_template_scores

        scores = load_template_scores(self.tapp.db_path, data.run["id"])
        cells = pivot_cells(data, scores, slices)
        self.app.call_from_thread(self._pivot_loaded, scores.templates, cells)

    def _pivot_loaded(self, templates: list[str], cells: dict[str, list[dict[str, Any]]]) -> None:
        self.pivot_templates, self.pivot_cells = templates, cells
        if self.pivot:
            self._show_pivot()

    def _show_pivot(self) -> None:
        from tuieval.tui.pivot import pivot_columns

        if len(self.pivot_templates) < 2:
            self.pivot = False
            only = sanitize(self.pivot_templates[0], single_line=True) if self.pivot_templates else "none"
            self.notify(f"this run has one template ({only}): nothing to pivot")
            self.repaint(force=True)
            return
        self.query_one("#sb-table", KeyedTable).set_columns(pivot_columns(self.pivot_templates), flex="slice")
        self.repaint(force=True)

    def action_robustness(self) -> None:
        from tuieval.tui.screens.robustness import RobustnessScreen

        if self.mode != "report" or self.data is None:
            self.notify("the Robustness screen opens once the run has finished and its report is computed")
            return
        self.app.push_screen(RobustnessScreen(self.data))

    def action_export(self) -> None:
        self.tapp.export_report(self.run_id, "json")

    def action_shadow(self) -> None:
        from tuieval.tui.screens.shadow import ShadowScreen

        self.app.push_screen(ShadowScreen(self.run_id))

    def action_live(self) -> None:
        self.tapp.watch_live(self.run_id)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "judge":  # only a run judged by a judge scorer has a reliability panel
            return self.mode == "report" and self.data is not None and bool(self.data.report.get("judge"))
        if action == "contamination":  # only a probe run (tuieval contamination) has the view
            return bool(self.data is not None and self.data.report.get("contamination"))
        if action == "shadow":  # only a shadow evaluation (tuieval shadow) has the view
            return bool(self.data is not None and self.data.report.get("shadow"))
        return True

    def action_judge(self) -> None:
        from tuieval.tui.screens.judge import JudgeScreen

        self.app.push_screen(JudgeScreen(self.run_id))
