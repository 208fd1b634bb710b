"""Two runs side by side: per-slice accuracy and the difference, and both latency histograms.
The first-launch demo opens here with demo/steady and demo/brittle while they run: the overall
rows agree, the slices do not.

While a run is still going the differences are descriptive (each run's own interval shown).
Once both are finished the table shows the paired comparison `tuieval compare` prints
(A = baseline, B = candidate): the difference's paired 95% interval and its
Benjamini–Hochberg q-value, with significant regressions marked and listed first.

Two finished runs open straight onto the paired table: the comparison is asked for before their
reports, and the descriptive table is not drawn in the meantime (its frame took the interpreter
from the thread computing the comparison, and was replaced a moment later). Only when the
comparison takes longer than DESCRIPTIVE_AFTER_S (a large pair of runs) is the descriptive table
shown while it is computed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Static

from tuieval.tui import fmt
from tuieval.tui.sanitize import sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.slices import FLAG, NAME_LIMIT, slice_key
from tuieval.tui.widgets.charts import Chart, LatencyHistogram
from tuieval.tui.widgets.keyed_table import KeyedTable

#: how long two finished runs wait for their paired comparison before the descriptive table is
#: shown in its place (a display choice: the demo's comparison takes ~0.1 s, 10,000 cases ~1 s)
DESCRIPTIVE_AFTER_S = 0.6


class CompareScreen(AppScreen):
    BINDINGS = [
        Binding("a", "open(0)", "Open A", id="compare.a"),
        Binding("b", "open(1)", "Open B", id="compare.b"),
        Binding("escape", "app.pop_screen", "Back", id="compare.back"),
    ]

    def __init__(self, run_a: str, run_b: str) -> None:
        super().__init__()
        self.ids = [run_a, run_b]
        self._paired = False
        self._runs: dict[str, dict[str, Any]] = {}
        #: two finished runs: the descriptive table is held back until this is set (the
        #: comparison is late, or cannot be had)
        self._descriptive_ok = False

    def crumb(self) -> str:
        return "compare"

    def compose_body(self) -> ComposeResult:
        yield Static(id="cmp-title")
        yield KeyedTable(id="cmp-table")
        with Horizontal(id="cmp-charts"):
            yield Chart(id="cmp-hist-a")
            yield Chart(id="cmp-hist-b")

    def on_mount(self) -> None:
        table = self.query_one("#cmp-table", KeyedTable)
        self._set_layout(paired=False)
        self.tapp.run_changed.subscribe(self, lambda rid: self.repaint() if rid in self.ids else None)
        self.set_interval(1 / 4, self._tick, name="compare")
        # the comparison first: it is the long pole, the reports are a read each
        self._comparison()
        for rid in self.ids:
            self._ensure(rid)
        self.set_timer(DESCRIPTIVE_AFTER_S, self._allow_descriptive, name="compare-descriptive")
        self.repaint()
        table.focus()

    def _allow_descriptive(self) -> None:
        if not self._descriptive_ok:
            self._descriptive_ok = True
            if self.is_attached:
                self.repaint()

    def on_theme_change(self) -> None:
        self.repaint()

    def _set_layout(self, paired: bool, why: str = "descriptive until both finish") -> None:
        self._paired = paired
        table = self.query_one("#cmp-table", KeyedTable)
        if paired:
            table.set_columns([("slice", "slice", 20), ("n", "n", 4), ("A acc", "a", 5), ("B acc", "b", 5),
                               ("B−A", "d", 6), ("Δ 95% CI", "dci", 9), ("q", "q", 7), ("MDE", "mde", 4),
                               ("A p99", "ap99", 6), ("B p99", "bp99", 6)], flex="slice",
                              drop=("dci", "ap99", "bp99", "mde", "n"))
            table.border_title = "Paired comparison — significant regressions first (B = candidate)"
        else:
            table.set_columns([("slice", "slice", 20), ("n", "n", 4), ("A acc", "a", 5), ("A CI", "aci", 7),
                               ("B acc", "b", 5), ("B CI", "bci", 7), ("B−A", "d", 5), ("A p99", "ap99", 6),
                               ("B p99", "bp99", 6)], flex="slice", drop=("aci", "bci", "ap99", "bp99", "n"))
            table.border_title = f"Slices — worst first (by the lower of the two) · {why}"

    def _set_layout_title(self, why: str) -> None:
        self._set_layout_title_text(f"Slices — worst first (by the lower of the two) · {why}")

    def _set_layout_title_text(self, title: str) -> None:
        table = self.query_one("#cmp-table", KeyedTable)
        if table.border_title != title:
            table.border_title = title

    def _comparison(self) -> dict[str, Any] | None:
        # requested as soon as both runs are over, beside (not after) loading their reports:
        # the comparison reads its own rows, and is the slow part of the screen
        app = self.tapp
        if not all(self._finished(r) for r in self.ids):
            return None
        app.request_comparison(self.ids[0], self.ids[1])
        return app.comparisons.get((self.ids[0], self.ids[1]))

    def _stored_run(self, run_id: str) -> dict[str, Any]:
        """The run's row, read once (the runs list has it; get_run would count a large run's samples)."""
        if run_id not in self._runs:
            run = next((r for r in self.tapp.runs if r["id"] == run_id), None)
            if run is None:
                try:
                    run = self.tapp.store.get_run(run_id)
                except Exception:
                    run = {"id": run_id, "suite": "?", "model": "?", "status": "missing"}
            self._runs[run_id] = run
        return self._runs[run_id]

    def _finished(self, run_id: str) -> bool:
        if self.tapp.run_data(run_id) is not None:
            return True
        live = self.tapp.live_runs.get(run_id)
        if live is not None:
            return live.finished
        return self._stored_run(run_id).get("status") not in ("running", "missing")

    def _ensure(self, run_id: str) -> None:
        app = self.tapp
        if app.run_data(run_id) is not None:
            return
        live = app.live_runs.get(run_id)
        if live is None:
            status = self._stored_run(run_id).get("status")
            if status == "missing":
                return
            if status == "running":
                app.follow_run(run_id)
                return
        if live is None or live.finished:
            app.request_analysis(run_id)

    def _tick(self) -> None:
        # only a run still going changes between signals; a finished run's report and the
        # comparison arrive by `run_changed`, and repainting while they are computed would take
        # the interpreter from the threads computing them
        if self.is_current and any(self._live_going(r) for r in self.ids):
            self.repaint()

    def _live_going(self, run_id: str) -> bool:
        live = self.tapp.live_runs.get(run_id)
        return live is not None and not live.finished and self.tapp.run_data(run_id) is None

    def _side(self, run_id: str) -> dict[str, Any]:
        app = self.tapp
        data = app.run_data(run_id)
        if data is not None:
            report = data.report
            slices = {slice_key(s): s for s in report.get("slices") or []}
            slices["overall"] = dict(report.get("overall") or {}, key="overall", value="")
            return {"run": data.run, "slices": slices, "latency": data.latency, "live": False, "finished": True}
        live = app.live_runs.get(run_id)
        if live is not None:
            slices = {slice_key(s): s for s in live.slices.rows()}
            run = {"id": run_id, "suite": live.suite, "model": live.model, "simulated": live.simulated,
                   "status": live.status if live.finished else f"live {live.n_done}/{live.n_total}"}
            return {"run": run, "slices": slices, "latency": np.asarray(live.latencies, dtype=float), "live": True,
                    "finished": live.finished}
        run = self._stored_run(run_id)
        # not loaded yet: the stored status says whether the run is over
        return {"run": run, "slices": {}, "latency": np.zeros(0), "live": True,
                "finished": run.get("status") not in ("running", "missing")}

    def repaint(self) -> None:
        pal = fmt.Palette.of(self.app)
        sides = [self._side(r) for r in self.ids]
        title = Text(no_wrap=True, overflow="ellipsis")
        for name, side in zip("AB", sides):
            run = side["run"]
            o = side["slices"].get("overall") or {}
            sim = " (simulated)" if run.get("simulated") else ""
            title.append(f"{name} ", style="bold reverse")
            title.append(sanitize(f" {run.get('model')}{sim} · {run.get('suite')}", single_line=True), style="bold")
            title.append(f"  {run.get('status')}", style="dim")
            acc = o.get("accuracy")
            title.append("  acc ")
            title.append(fmt.pct(acc, 1), style=fmt.acc_style(fmt.num(acc), pal))
            title.append(f" [{fmt.ci(o.get('accuracy_ci') or o.get('ci'))}]", style="dim")
            lat = o.get("latency_ms") or {}
            if lat:
                title.append(f"  p50 {fmt.ms_unit(lat.get('p50'))} · p99 {fmt.ms_unit(lat.get('p99'))}", style="dim")
            title.append("\n")
        comparison = self._comparison()
        paired = comparison is not None and comparison.get("schema") == "tuieval.compare/1"
        if comparison is not None and comparison.get("error"):
            title.append(f"not paired: {sanitize(comparison['error'], single_line=True, limit=80)}", style=pal.warn)
        elif paired:
            n_reg = len(comparison.get("regressions") or [])
            title.append(f"{n_reg} significant regression{'s' if n_reg != 1 else ''}",
                         style=f"bold {pal.bad}" if n_reg else pal.good)
            title.append(" of B against A", style="dim")
            overall = comparison.get("overall") or {}
            delta = fmt.num(overall.get("delta"))
            if delta is not None:
                title.append(f" · overall {delta * 100:+.1f} pts ({fmt.p_clause('p', overall.get('p_value'))})",
                             style=(pal.bad if delta < 0 else pal.good) if overall.get("significant") else "dim")
            title.append(f" · paired on {comparison.get('n_cases')} cases, "
                         f"{comparison.get('test')} test, BH q over {comparison.get('m')} slices", style="dim")
        elif all(side["finished"] for side in sides) and not self._descriptive_ok:
            title.append("computing the paired comparison on the shared cases…", style="dim")
        else:
            title.append("Same mean, different tails? Compare the overall row with the slices below.", style="dim")
        finished = all(side["finished"] for side in sides)
        failed = comparison is not None and bool(comparison.get("error"))
        if failed:
            why = "descriptive: these runs cannot be paired"
        elif finished:
            why = "descriptive while the paired comparison is computed"
        else:
            why = "descriptive until both finish"
        # two finished runs: hold the descriptive table back while the comparison is computed
        waiting = finished and not paired and not failed and not self._descriptive_ok
        if paired != self._paired:
            self._set_layout(paired, why)
        elif waiting:
            self._set_layout_title_text("Paired comparison — computing…")
        elif not paired:
            self._set_layout_title(why)
        self.query_one("#cmp-title", Static).update(title)
        if paired:
            rows = self._paired_rows(sides, comparison, pal)
        elif waiting:
            rows = []
        else:
            rows = self._descriptive_rows(sides, pal)
        self.query_one("#cmp-table", KeyedTable).sync(rows)
        if waiting:
            return  # the charts come with the paired table: drawn now, their frame would slow it down
        for name, side, wid in zip("AB", sides, ("#cmp-hist-a", "#cmp-hist-b")):
            chart = self.query_one(wid, Chart)
            chart.border_title = f"{name} latency · {sanitize(side['run'].get('model'), single_line=True, limit=30)}"
            chart.show(LatencyHistogram(side["latency"], slo_ms=side["run"].get("slo_ms"), palette=pal))

    @staticmethod
    def _label(k: str, flagged: bool, pal: fmt.Palette) -> Text:
        label = Text(no_wrap=True, overflow="ellipsis")
        if k == "overall":
            label.append("overall", style="bold")
        else:
            label.append(f"{FLAG} " if flagged else "  ", style=pal.bad)
            label.append(sanitize(k, single_line=True, limit=NAME_LIMIT))
        return label

    def _descriptive_rows(self, sides: list[dict[str, Any]], pal: fmt.Palette) -> list[tuple[str, list[Any]]]:
        keys = list(dict.fromkeys([*sides[0]["slices"], *sides[1]["slices"]]))

        def acc_of(side: dict[str, Any], k: str) -> float | None:
            return fmt.num((side["slices"].get(k) or {}).get("accuracy"))

        def order(k: str) -> tuple:
            if k == "overall":
                return (0, 0.0, k)
            flagged = any((s["slices"].get(k) or {}).get("flagged") for s in sides)
            accs = [a for a in (acc_of(sides[0], k), acc_of(sides[1], k)) if a is not None]
            return (1 if flagged else 2, min(accs) if accs else 2.0, k)

        rows = []
        for k in sorted(keys, key=order):
            a, b = sides[0]["slices"].get(k) or {}, sides[1]["slices"].get(k) or {}
            aa, bb = acc_of(sides[0], k), acc_of(sides[1], k)
            delta = (bb - aa) if aa is not None and bb is not None else None
            dstyle = "dim" if delta is None or abs(delta) < 0.05 else (pal.good if delta > 0 else pal.bad)
            n = a.get("n_cases") if a.get("n_cases") is not None else b.get("n_cases")
            rows.append((k, [
                self._label(k, bool(a.get("flagged") or b.get("flagged")), pal),
                fmt.right(str(n) if n is not None else fmt.DASH),
                fmt.acc_text(aa, pal), fmt.right(fmt.ci(a.get("accuracy_ci") or a.get("ci")), "dim"),
                fmt.acc_text(bb, pal), fmt.right(fmt.ci(b.get("accuracy_ci") or b.get("ci")), "dim"),
                fmt.right(fmt.DASH if delta is None else f"{delta * 100:+.0f}", dstyle),
                fmt.right(fmt.ms((a.get("latency_ms") or {}).get("p99")), "dim"),
                fmt.right(fmt.ms((b.get("latency_ms") or {}).get("p99")), "dim"),
            ]))
        return rows

    def _paired_rows(self, sides: list[dict[str, Any]], comparison: dict[str, Any],
                     pal: fmt.Palette) -> list[tuple[str, list[Any]]]:
        entries: dict[str, dict[str, Any]] = {"overall": dict(comparison.get("overall") or {})}
        for e in comparison.get("slices") or []:
            entries[f"{e['key']}={e['value']}"] = e
        for e in comparison.get("untested_slices") or []:
            entries.setdefault(f"{e['key']}={e['value']}", dict(e, untested=True))

        def order(k: str) -> tuple:
            e = entries[k]
            if k == "overall":
                return (0, 0.0, k)
            sig_bad = bool(e.get("significant")) and (e.get("delta") or 0) < 0
            return (1 if sig_bad else 2, fmt.num(e.get("delta")) or 0.0, k)

        rows = []
        for k in sorted(entries, key=order):
            e = entries[k]
            a, b = sides[0]["slices"].get(k) or {}, sides[1]["slices"].get(k) or {}
            delta = fmt.num(e.get("delta"))
            sig = bool(e.get("significant"))
            mark = ("▼" if (delta or 0) < 0 else "▲") if sig else " "
            dstyle = (pal.bad if (delta or 0) < 0 else pal.good) if sig else "dim"
            ci = e.get("delta_ci") or [None, None]
            lo, hi = fmt.num(ci[0]), fmt.num(ci[1])
            q = fmt.num(e.get("q_value"))
            # not significant: the smallest change this test could have seen (80% power), so
            # "no regression" and "could not have seen one" read differently
            mde = fmt.num(e.get("mde"))
            mde_cell = ("" if sig or e.get("untested") else
                        (f"±{mde * 100:.0f}" if mde is not None else "none"))
            rows.append((k, [
                self._label(k, sig and (delta or 0) < 0, pal),
                fmt.right(str(e.get("n_cases", fmt.DASH))),
                fmt.acc_text(e.get("baseline_accuracy", a.get("accuracy")), pal),
                fmt.acc_text(e.get("candidate_accuracy", b.get("accuracy")), pal),
                fmt.right(fmt.DASH if delta is None else f"{mark}{delta * 100:+.0f}", dstyle),
                fmt.right(fmt.DASH if lo is None or hi is None else f"{lo * 100:+.0f}…{hi * 100:+.0f}", "dim"),
                fmt.right("n<min" if e.get("untested") else ("" if k == "overall" else fmt.p_cell(q)), "dim"),
                fmt.right(mde_cell, "dim"),
                fmt.right(fmt.ms((a.get("latency_ms") or {}).get("p99")), "dim"),
                fmt.right(fmt.ms((b.get("latency_ms") or {}).get("p99")), "dim"),
            ]))
        return rows

    def action_open(self, which: int) -> None:
        self.tapp.open_run(self.ids[which])
