"""Live: a run as it happens — progress, throughput, ETA, errors and retries, samples in flight,
the focused sample streaming in, and a per-slice scoreboard whose intervals tighten.

Tables repaint at 4 Hz and the stream pane at 10 Hz, both from `LiveRun` state; nothing here
runs per token.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from tuieval.engine.events import SampleKey
from tuieval.tui import fmt
from tuieval.tui.live_state import LiveRun
from tuieval.tui.sanitize import sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.slices import LIVE_DROP, live_columns, live_row, ordered, slice_key
from tuieval.tui.widgets.keyed_table import KeyedTable
from tuieval.tui.widgets.stream_view import StreamView

TABLE_HZ = 4
STREAM_HZ = 10
#: how long a finished sample stays in focus before follow mode moves on
LINGER_S = 1.5


def _key_id(key: SampleKey) -> str:
    return f"{key.case_id}\x1f{key.template}\x1f{key.sample_index}"


class LiveScreen(AppScreen):
    CRUMB = "live"

    BINDINGS = [
        Binding("c", "cancel_run", "Cancel run", id="live.cancel"),
        Binding("f", "follow", "Follow", id="live.follow"),
        Binding("b", "scoreboard", "Scoreboard", id="live.scoreboard"),
        Binding("left_square_bracket", "cycle(-1)", "Prev run", show=False),
        Binding("right_square_bracket", "cycle(1)", "Next run", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.focus_key: SampleKey | None = None
        self.follow = True
        #: the run the focus (and a pinned sample) belongs to; another run starts in follow mode
        self.shown_run: str | None = None
        self.sort = "accuracy"
        self._last_slice_order: float = -1e9
        self._slice_order: list[str] = []

    def compose_body(self) -> ComposeResult:
        with Vertical(id="live-body"):
            yield Static(id="live-title")
            yield Static(id="live-progress")
            yield Static(id="live-stats")
            with Horizontal(id="live-middle"):
                yield KeyedTable(id="inflight")
                yield StreamView(id="stream")
            yield KeyedTable(id="live-slices")
            yield Static(id="live-note")

    def on_mount(self) -> None:
        inflight = self.query_one("#inflight", KeyedTable)
        inflight.set_columns([("case", "case", 10), ("tmpl", "tmpl", 6), ("#", "idx", 2), ("s", "t", 4),
                              ("chars", "chars", 5)])
        inflight.border_title = "In flight"
        slices = self.query_one("#live-slices", KeyedTable)
        slices.set_columns(live_columns(), flex="slice", drop=LIVE_DROP)
        slices.border_title = "Live slices — worst first"
        self.query_one("#stream").border_title = "Focused sample"
        self.tapp.run_changed.subscribe(self, self._run_changed)
        self.set_interval(1 / TABLE_HZ, self.refresh_tables, name="live-tables")
        self.set_interval(1 / STREAM_HZ, self.refresh_stream, name="live-stream")
        self.refresh_tables()
        self.refresh_stream()

    def on_theme_change(self) -> None:
        self.refresh_tables()
        self.refresh_stream()

    def _run_changed(self, run_id: str) -> None:
        self.refresh_tables()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.refresh_tables()
        self.refresh_stream()

    @property
    def live(self) -> LiveRun | None:
        app = self.tapp
        if app.current_live and app.current_live in app.live_runs:
            live = app.live_runs[app.current_live]
            if live.run_id != self.shown_run:
                self._switch_to(live.run_id)
            return live
        return None

    def _switch_to(self, run_id: str) -> None:
        """Forget the previous run's focus, pin and tables: a pinned sample belongs to its run."""
        self.shown_run = run_id
        self.focus_key = None
        self.follow = True
        self.query_one("#inflight", KeyedTable).reset()
        self.query_one("#live-slices", KeyedTable).reset()
        self._last_slice_order = -1e9

    # -- repaint (timer) -----------------------------------------------------------------------------

    def refresh_tables(self) -> None:
        if not self.is_attached or not self.is_current:
            return  # nothing is repainted for a screen nobody sees
        live = self.live
        pal = fmt.Palette.of(self.app)
        title = self.query_one("#live-title", Static)
        if live is None:
            title.update(Text.assemble(
                ("No run yet. ", "bold"),
                "Press 1 to pick a suite and n to start a run, or d on the Suites screen for the demo "
                "(two simulated models, same mean, different tails).", style="dim"))
            self.query_one("#live-progress", Static).update("")
            self.query_one("#live-stats", Static).update("")
            return
        runs = list(self.tapp.live_runs)
        pos = f"  [{runs.index(live.run_id) + 1}/{len(runs)}  [ ] switch]" if len(runs) > 1 else ""
        status_style = {"running": pal.accent, "complete": pal.good, "partial": pal.warn, "failed": pal.bad}
        title.update(Text.assemble(
            (sanitize(live.label(), single_line=True), "bold"), "  ",
            (live.status, f"bold {status_style.get(live.status, '')}"),
            ("  (following another process)" if live.external else "", "dim"),
            (f"  {live.run_id}{pos}", "dim"), no_wrap=True, overflow="ellipsis"))
        done, total = live.n_done, max(live.n_total, 1)
        frac = done / total
        counts = f" {done}/{live.n_total} samples {frac:.0%}"
        width = max(10, self.size.width - 4 - len(counts))
        self.query_one("#live-progress", Static).update(Text.assemble(
            (fmt.bar(frac, width), pal.good if live.status == "complete" else pal.accent),
            counts, no_wrap=True))
        snapshot = self.tapp.snapshot
        rate = live.throughput()
        stats = Text(no_wrap=True, overflow="ellipsis")
        if not snapshot:
            stats.append(f"{rate:.1f}/s" if rate else "—/s")
            stats.append(f" · ETA {fmt.duration(live.eta())}" if not live.finished else
                         f" · took {fmt.duration(live.elapsed())}")
            stats.append(" · ")
        if not live.n_already:  # a resumed run's earlier samples are not replayed here
            stats.append(f"cases {live.cases_complete}/{live.n_cases} complete"
                         f" ({live.per_case} sample{'s' if live.per_case != 1 else ''} each) · ")
        stats.append(f"errors {live.n_errors}", style=pal.bad if live.n_errors else "")
        stats.append(f" · retries {live.n_retries}", style=pal.warn if live.n_retries else "")
        conc = f"/{live.concurrency}" if live.concurrency else ""
        stats.append(f" · in flight {len(live.in_flight)}{conc}")
        if live.concurrency_note:
            stats.append(f" ({sanitize(live.concurrency_note, single_line=True)})", style=pal.warn)
        if live.accuracy is not None:
            stats.append(" · acc ")
            stats.append(fmt.pct(live.accuracy), style=fmt.acc_style(live.accuracy, pal))
        self.query_one("#live-stats", Static).update(stats)

        now = self.tapp.clock()
        rows = []
        for key, item in sorted(live.in_flight.items(), key=lambda kv: kv[1].started):
            rows.append((_key_id(key), [
                Text(sanitize(key.case_id, single_line=True, limit=10)),
                Text(sanitize(key.template, single_line=True, limit=6)),
                fmt.right(str(key.sample_index)),
                fmt.right("" if snapshot else f"{now - item.started:.1f}"),
                fmt.right(str(item.n_chars)),
            ]))
        self.query_one("#inflight", KeyedTable).sync(rows)

        slices = live.slices.rows()
        board = self.query_one("#live-slices", KeyedTable)
        kind = getattr(live.slices, "kind", "")
        if live.finished:
            board.border_title = "Slices — run finished: b opens the final figures"
        else:
            board.border_title = ("Live slices — worst first" +
                                  (" · interval: confidence sequence (valid while watching)" if kind == "live" else
                                   " · interval: Wilson 95%"))
        # Keep rows still while watching: reorder at most every 3 s.
        if now - self._last_slice_order > 3.0 or board.row_count != len(slices) or snapshot:
            order = [slice_key(s) for s in ordered(slices, self.sort, flagged_first=False)]
            self._last_slice_order = now
            self._slice_order = order
        order = self._slice_order
        by_key = {slice_key(s): s for s in slices}
        keys = [k for k in order if k in by_key] + [k for k in by_key if k not in order]
        board.sync([(k, live_row(by_key[k], pal)) for k in keys])
        self.query_one("#live-note", Static).update(Text(sanitize(live.last_note, single_line=True, limit=200),
                                                         style="dim"))

    def refresh_stream(self) -> None:
        if not self.is_attached or not self.is_current:
            return
        live = self.live
        view = self.query_one("#stream", StreamView)
        if live is None:
            view.clear("")
            return
        now = self.tapp.clock()
        key = self.focus_key
        if self.follow:
            recent = next((f for f in reversed(live.recent) if f.key == key), None) if key else None
            lingering = recent is not None and now - recent.at < LINGER_S
            current = live.in_flight.get(key) if key else None
            # a focused request still waiting for its first token while others stream: move on
            stalled = current is not None and current.n_chars == 0 and now - current.started > 1.0
            if key is None or (current is None and not lingering) or stalled:
                streaming = [i for i in live.in_flight.values() if i.n_chars > 0]
                pick = max(streaming or live.in_flight.values(), key=lambda i: i.started, default=None)
                if pick is not None:
                    key = self.focus_key = pick.key
        if key is None:
            last = live.recent[-1] if live.recent else None
            if last is None:
                view.clear("waiting for the first sample…" if not live.finished else "")
                return
            key = last.key
        pal = fmt.Palette.of(self.app)
        title = f"{key.case_id} · {key.template} · #{key.sample_index}" + ("" if self.follow else " (pinned)")
        view.border_title = sanitize(title, single_line=True, limit=60)
        item = live.in_flight.get(key)
        if item is not None:
            view.show(key, item.prompt, item.text(), Text("▌", style=pal.accent))
            return
        done = next((f for f in reversed(live.recent) if f.key == key), None)
        if done is None:
            view.show(key, "", "", Text("finished (not in the recent list)", style="dim"))
            return
        if done.error:
            suffix = Text(f"✗ error: {sanitize(done.error, single_line=True)}", style=f"bold {pal.bad}")
        else:
            mark, style = ("✓ correct", pal.good) if done.correct else ("✗ incorrect", pal.bad)
            suffix = Text(f"{mark} · {fmt.ms_unit(done.latency_ms)}", style=f"bold {style}")
        view.show(key, done.prompt, done.response, suffix)

    # -- actions ------------------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#inflight")
    def _pin(self, event: DataTable.RowSelected) -> None:
        value = event.row_key.value or ""
        parts = value.split("\x1f")
        if len(parts) == 3:
            self.focus_key = SampleKey(parts[0], parts[1], int(parts[2]))
            self.follow = False
            self.refresh_stream()

    def action_follow(self) -> None:
        self.follow = True
        self.focus_key = None
        self.query_one("#stream", StreamView).anchor()
        self.refresh_stream()

    def action_cancel_run(self) -> None:
        live = self.live
        if live is None or live.finished:
            self.notify("no run in progress")
            return
        if live.external:
            self.notify("this run belongs to another process: stop it there (Ctrl-C)", severity="warning")
            return
        self.tapp.confirm_cancel(live.run_id)

    def action_scoreboard(self) -> None:
        live = self.live
        if live is not None:
            self.tapp.open_run(live.run_id)

    def action_cycle(self, step: int) -> None:
        runs = list(self.tapp.live_runs)
        if not runs:
            return
        i = runs.index(self.tapp.current_live) if self.tapp.current_live in runs else 0
        self.tapp.current_live = runs[(i + step) % len(runs)]
        self.refresh_tables()
        self.refresh_stream()
