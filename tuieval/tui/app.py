"""The Textual app: the interactive face of tuieval.

`make_app` builds the app for the CLI (`run_app`) and for the tests alike. The app drives
the same `Engine` as `tuieval run`, as an async worker on the app's own event loop, and
writes the same database. Engine events update a `LiveRun` (plain state, O(1) per event);
lifecycle events are also posted as `EngineEvent` messages. Screens repaint from that state
on their own timers, never per token.

Top level is three modes, each with its own screen stack: Suites (1), Live (2) and Runs (3).
Scoreboard → slice cases → variance inspector are pushed on top of whichever mode opened them.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Callable, Iterable

from rich.text import Text
from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import DimFilter
from textual.message import Message
from textual.screen import Screen
from textual.signal import Signal

from tuieval.engine.events import RunFinished, RunStarted
from tuieval.store import Store, default_db_path
from tuieval.tui import data, stylesheet, themes
from tuieval.tui.commands import TuievalCommands
from tuieval.tui.live_state import LiveRun, for_run
from tuieval.tui.sanitize import sanitize
from tuieval.tui.screens.live import LiveScreen
from tuieval.tui.screens.run_form import RunRequest
from tuieval.tui.screens.runs import RunsScreen
from tuieval.tui.screens.suites import SuitesScreen

DEMO_MODELS = ("demo/steady", "demo/brittle")

#: the largest run whose report the Runs screen loads before it is opened (a read of the stored
#: report and the sample arrays: ~20 ms at 600 samples, ~0.1 s at 20,000)
PREFETCH_MAX_SAMPLES = 20_000

#: imported in a thread at start-up (`TuievalApp._preload_screens`): the screens opened later and
#: the modules their first visit imports lazily — the report pipeline's sections (a stored report
#: is read through `build`, which imports them), the paired comparison and its cache
PRELOAD_MODULES = tuple(f"tuieval.tui.screens.{name}" for name in (
    "scoreboard", "slice_cases", "inspector", "compare", "run_form", "help", "confirm", "robustness",
    "perturbed_cases", "extractors", "search")) + (
    "tuieval.report.build", "tuieval.report.contamination", "tuieval.contamination.analysis",
    "tuieval.report.redteam", "tuieval.report.shadow_section", "tuieval.report.cost", "tuieval.cost.estimate",
    "tuieval.analysis.judge", "tuieval.scoring", "tuieval.report.compare_cache", "tuieval.analysis.compare",
    "tuieval.analysis.report", "tuieval.tui.pivot", "tuieval.redteam.analysis", "tuieval.redteam.runner",
    "numpy.random", "numpy.ma", "encodings.utf_32_le")


class EngineEvent(Message):
    """A run's lifecycle event (start, finish), relayed from the engine to the app."""

    def __init__(self, run_id: str, event: Any) -> None:
        super().__init__()
        self.run_id = run_id
        self.event = event


class TuievalApp(App):
    """Suites, live runs, scoreboards and the variance inspector over one database."""

    CSS_PATH = "tuieval.tcss"
    TITLE = "tuieval"
    MODES = {"suites": SuitesScreen, "live": LiveScreen, "runs": RunsScreen}
    COMMANDS = App.COMMANDS | {TuievalCommands}

    BINDINGS = [
        Binding("1", "nav('suites')", "Suites", show=False, id="nav.suites"),
        Binding("2", "nav('live')", "Live", show=False, id="nav.live"),
        Binding("3", "nav('runs')", "Runs", show=False, id="nav.runs"),
        Binding("4", "redteam", "Red team", show=False, id="nav.redteam"),
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        Binding("f2", "toggle_dark", "Theme", show=False, id="app.theme"),
        Binding("q", "quit", "Quit", id="app.quit"),
    ]

    def __init__(self, suite_paths: list[str] | None = None, db_path: str | None = None, *,
                 snapshot: bool = False, clock: Callable[[], float] | None = None,
                 show_welcome: bool = True, freeze_startup_heap: bool = False) -> None:
        super().__init__()
        self.suite_paths = list(suite_paths or [])
        self.db_path = str(db_path or default_db_path())
        self.snapshot = snapshot
        self.clock = clock or time.monotonic
        self.show_welcome = show_welcome
        self.freeze_startup_heap = freeze_startup_heap
        self.store = Store(self.db_path)
        self.suites: list[data.SuiteEntry] = []
        self.suites_loaded = False
        self.live_runs: dict[str, LiveRun] = {}
        self.current_live: str | None = None
        self.run_cache: dict[str, data.RunData] = {}
        self.runs: list[dict[str, Any]] = []
        self._analyzing: set[str] = set()
        #: the run the Runs screen would like loaded next (`prefetch`), and the one it last started
        self._prefetch_wanted: str | None = None
        self._prefetched: str | None = None
        #: (baseline, candidate) → tuieval.compare/1 dict, or {"error": reason}
        self.comparisons: dict[tuple[str, str], dict[str, Any]] = {}
        #: published with a run id whenever a run starts, finishes or its report is ready
        self.run_changed: Signal[str] = Signal(self, "run-changed")
        #: a run's slice membership, derived in a thread for a report stored without it
        self.slices_ready: Signal[str] = Signal(self, "slices-ready")
        self.suites_changed: Signal[None] = Signal(self, "suites-changed")
        themes.install(self)
        # Dim text as a known blend towards its background rather than each terminal's faint
        # rendering (often half the contrast): the readable themes are checked with it.
        # Textual has no public hook for a line filter; _filters is where TEXTUAL_FILTERS=dim goes.
        self._filters.append(DimFilter(themes.DIM_FACTOR))
        self.theme = "textual-dark"

    def refresh_css(self, animate: bool = True) -> None:
        super().refresh_css(animate)
        # every mode's screens, not only the current one's, so no later switch re-parses the CSS;
        # and the parse cache filled again once the frame is out (tuieval.tui.stylesheet)
        stylesheet.refreshed(self)
        self.call_after_refresh(stylesheet.warm, self)

    def get_theme_variable_defaults(self) -> dict[str, str]:
        # the app's own variables for a theme that is not one of the readable ones (tuieval.tui.themes)
        return {**super().get_theme_variable_defaults(), **themes.VARIABLE_DEFAULTS}

    # -- start-up ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.load_suites()
        self.switch_mode("suites")
        empty = not self.store.has_runs()
        self.refresh_runs()
        if empty and self.show_welcome:
            from tuieval.tui.screens.welcome import WelcomeScreen

            self.push_screen(WelcomeScreen())
        self.set_interval(1.0, self._poll_followers, name="follow")
        self.call_after_refresh(self._prepare_modes)
        self._preload_screens()
        if self.freeze_startup_heap:
            self.call_after_refresh(self._freeze_heap)

    def _prepare_modes(self) -> None:
        """Compose the Live and Runs screens behind the first one, so a first `2` or `3` is a switch.

        Within one batch nothing is painted: the user sees the Suites screen throughout.
        """
        if self.current_mode != "suites":
            return
        with self.batch_update():
            for mode in ("live", "runs"):
                self.switch_mode(mode)
            self.switch_mode("suites")

    @work(thread=True, group="preload")
    def _preload_screens(self) -> None:
        """Import the screens opened later, and what their first visit runs in a thread, while the
        first screen is read, so a first visit does not pay for them."""
        import importlib

        for name in PRELOAD_MODULES:
            importlib.import_module(name)
        # a process-wide table the derived slices build on first use (every non-ASCII capital
        # letter, ~0.5 s): built here unless loading the suites did already, so the first paired
        # comparison or slice membership does not build it during a visit
        from tuieval.analysis.slices import has_non_ascii_name

        has_non_ascii_name("Ein Bericht von Łukasz.")
        if self.freeze_startup_heap:
            # what these imports made is as long-lived as the start-up heap: freeze it too, or
            # every full collection during a first visit scans it again (30-40 ms each)
            self.call_from_thread(self._freeze_more)

    def _freeze_heap(self) -> None:
        """Exempt everything alive after start-up (modules, widgets) from garbage collection.

        A full collection scans every tracked object; with Textual, Rich and numpy loaded that
        is ~150k objects and a 50–100 ms pause of the event loop every few seconds while a run
        streams. Frozen, the scans cover only what was created since (benchmarks/README.md).
        """
        import gc

        gc.collect()
        gc.freeze()

    def _freeze_more(self) -> None:
        """Freeze what was imported since `_freeze_heap`, without the full collection first:
        that pause (50-100 ms) could land on a user's first key; the little garbage frozen
        with it is a one-off."""
        import gc

        gc.freeze()

    @work(thread=True, exclusive=True, group="runs-list")
    def refresh_runs(self) -> None:
        """The runs list (for the palette and the scoreboard), read off the event loop."""
        runs = data.list_runs(self.db_path)
        self.call_from_thread(setattr, self, "runs", runs)

    @work(thread=True, exclusive=True, group="suites")
    def load_suites(self) -> None:
        entries = data.load_suites(self.suite_paths)
        self.call_from_thread(self._suites_loaded, entries)

    def _suites_loaded(self, entries: list[data.SuiteEntry]) -> None:
        self.suites = entries
        self.suites_loaded = True
        self.suites_changed.publish(None)

    # -- navigation ----------------------------------------------------------------------------

    def action_nav(self, mode: str) -> None:
        self.go_to_mode(mode)

    def go_to_mode(self, mode: str) -> None:
        """Show a mode's own screen (Suites, Live, Runs), whatever was last opened on top of it.

        The switch and the pops take effect at once (the screens' mounting and unmounting
        follow on the message queue), so the key answers even while a screen is busy.
        """
        if self.current_mode != mode:
            self.switch_mode(mode)
        while len(self.screen_stack) > 1:
            self.pop_screen()

    def action_redteam(self) -> None:
        from tuieval.tui.screens.redteam import RedTeamScreen

        if not isinstance(self.screen, RedTeamScreen):
            self.push_screen(RedTeamScreen())

    def action_help(self) -> None:
        from tuieval.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    def open_run(self, run_id: str) -> None:
        """Open a run's scoreboard on top of the current mode (live if it is still running)."""
        from tuieval.tui.screens.scoreboard import ScoreboardScreen

        run = next((r for r in self.runs if r["id"] == run_id), None)
        if run is not None and run["status"] != "running" and run_id not in self.live_runs \
                and run_id not in self.run_cache:
            # a finished run's report read while its screen is composed, not after (the screen
            # finds the read under way, `request_analysis` starts one at a time per run)
            self.request_analysis(run_id)
        self.push_screen(ScoreboardScreen(run_id))

    def watch_live(self, run_id: str) -> None:
        """Show a run on the Live screen itself (not a scoreboard left open on top of it)."""
        self.current_live = run_id
        if run_id not in self.live_runs:
            self.follow_run(run_id)
        self.go_to_mode("live")
        self.run_changed.publish(run_id)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Toggle dark/light", "Switch between the dark and the light theme", self.action_toggle_dark)
        yield SystemCommand("Run the demo", "demo/steady vs demo/brittle (simulated) on the extraction suite",
                            self.action_demo)
        yield SystemCommand("Help", "Screens, keys and what the numbers mean", self.action_help)

    # -- running ---------------------------------------------------------------------------------

    def request_run(self, entry: data.SuiteEntry) -> None:
        """Open the run form for a suite and start the run it returns."""
        from tuieval.tui.screens.run_form import RunFormScreen

        if entry.suite is None:
            self.notify(entry.error or "this suite does not load", severity="error")
            return

        def done(request: RunRequest | None) -> None:
            if request is not None:
                run_id = self.start_run(entry.suite, request)
                if run_id:
                    self.watch_live(run_id)

        self.push_screen(RunFormScreen(entry.suite), done)

    def start_run(self, suite: Any, request: RunRequest) -> str | None:
        """Create a run and drive the engine in an async worker on this event loop."""
        from tuieval.backends.base import Timeouts
        from tuieval.backends.registry import BackendConfigError, create_backend
        from tuieval.engine import Engine, RunOptions

        try:
            backend = create_backend(request.model, base_url=request.base_url, timeouts=Timeouts(),
                                     max_connections=max(request.concurrency, 10))
        except (BackendConfigError, Exception) as exc:
            self.notify(str(exc), title="cannot start the run", severity="error")
            return None
        options = RunOptions(model=request.model, samples=request.samples, temperature=request.temperature,
                             concurrency=request.concurrency, limit=request.limit, slo_ms=request.slo_ms,
                             base_url=request.base_url, emit_tokens=True)
        engine = Engine(self.store, backend)
        run_id = engine.create_run(suite, options)
        live = for_run(self.store.get_run(run_id), self.store.get_cases(run_id), clock=self.clock)
        live.concurrency = request.concurrency

        def on_event(event: Any) -> None:
            live.handle(event)
            if isinstance(event, (RunStarted, RunFinished)):
                self.post_message(EngineEvent(run_id, event))

        engine.on_event = on_event
        self.live_runs[run_id] = live
        if self.current_live is None or self.live_runs.get(self.current_live, live).finished:
            self.current_live = run_id
        live.worker = self.run_worker(self._drive(engine, run_id, options, backend), name=f"run {run_id}",
                                      group="runs", exit_on_error=False)
        self.run_changed.publish(run_id)
        return run_id

    async def _drive(self, engine: Any, run_id: str, options: Any, backend: Any) -> None:
        try:
            await engine.run(run_id, options)
        finally:
            await backend.aclose()

    def confirm_cancel(self, run_id: str) -> None:
        """Ask, then cancel one of this app's runs."""
        from tuieval.tui.screens.confirm import ConfirmScreen

        live = self.live_runs.get(run_id)
        if live is None or live.finished or live.worker is None:
            self.notify("no run in progress")
            return
        question = Text.assemble(("Cancel ", ""), (sanitize(live.label(), single_line=True), "bold"),
                                 f" ({live.n_done}/{live.n_total} samples done)?\n\n",
                                 "What is done is kept; the run is marked partial and can be resumed.")
        self.push_screen(ConfirmScreen("Cancel the run?", question, yes="Cancel the run", no="Keep running"),
                         lambda yes: self.cancel_run(run_id) if yes else None)

    def resume_hint(self, run_id: str) -> str:
        from tuieval.tui.hints import resume_command

        try:
            run = self.store.get_run(run_id)
        except Exception:
            run = {"id": run_id}
        return resume_command(run, self.db_path)

    def cancel_run(self, run_id: str) -> None:
        live = self.live_runs.get(run_id)
        if live is None or live.finished or live.worker is None:
            return
        live.worker.cancel()
        self.notify(f"run {run_id} cancelled: it is kept as partial; finish it with {self.resume_hint(run_id)}",
                    title="cancelled", timeout=15)

    def action_demo(self) -> None:
        """The motivating demo: two simulated models, same mean, different tails, side by side."""
        from tuieval.suite import load_suite
        from tuieval.tui.screens.compare import CompareScreen

        path = data.find_demo_suite(self.suites)
        if path is None:
            self.notify("the extraction suite was not found (sample_suites/extraction.yaml)", severity="error")
            return
        suite = next((e.suite for e in self.suites if e.path == path and e.suite is not None), None) or load_suite(path)
        ids = []
        for model in DEMO_MODELS:
            run_id = self.start_run(suite, RunRequest(model=model, concurrency=16))
            if run_id:
                ids.append(run_id)
        if len(ids) == 2:
            self.current_live = ids[0]
            self.switch_mode("runs")
            self.push_screen(CompareScreen(ids[0], ids[1]))

    def on_engine_event(self, message: EngineEvent) -> None:
        event = message.event
        if isinstance(event, RunFinished):
            self.request_analysis(message.run_id, persist=True)
            if event.status == "failed":
                live = self.live_runs.get(message.run_id)
                reason = live.last_note if live is not None and live.last_note else "see the Live screen"
                self.notify(f"run {message.run_id} failed: {sanitize(reason, single_line=True, limit=200)}",
                            severity="error", timeout=10)
        self.refresh_runs()
        self.run_changed.publish(message.run_id)

    # -- analysis ----------------------------------------------------------------------------------

    def request_analysis(self, run_id: str, persist: bool = False) -> None:
        """Compute a run's report in a thread (once at a time per run); `run_changed` fires when ready."""
        if run_id in self._analyzing:
            return
        self._analyzing.add(run_id)
        self._analyze(run_id, persist)

    @work(thread=True, group="analysis")
    def _analyze(self, run_id: str, persist: bool) -> None:
        try:
            result = data.load_run_data(self.db_path, run_id, persist_clusters=persist)
        except Exception as exc:  # a bug in analysis must not take the app down
            self.call_from_thread(self._analysis_failed, run_id, f"{type(exc).__name__}: {exc}")
            return
        self.call_from_thread(self._analyzed, run_id, result)

    @work(thread=True, group="analysis", description="slice membership")
    def _prepare_slices(self, result: data.RunData) -> None:
        """A report stored without its slice membership (before it was kept with it): derive
        it, needed once a slice is highlighted or opened, then tell the screens waiting on it."""
        result.ensure_membership()
        self.call_from_thread(self.slices_ready.publish, result.run["id"])

    def _analysis_failed(self, run_id: str, reason: str) -> None:
        self._analyzing.discard(run_id)
        shown = any(getattr(screen, "run_id", None) == run_id or run_id in getattr(screen, "ids", ())
                    for screen in self.screen_stack)
        if run_id == self._prefetched and not shown:
            # loaded ahead and not opened: the error shows when the run is opened (analysed again)
            self._prefetched = None
        else:
            self.notify(f"report for {run_id} failed: {reason}", severity="error")
        self._prefetch_next_one()

    def _analyzed(self, run_id: str, result: data.RunData) -> None:
        self._analyzing.discard(run_id)
        self.run_cache[run_id] = result
        self.run_changed.publish(run_id)
        if not result.membership_ready():
            # after the first paint, so deriving the slice masks does not compete with it
            self.set_timer(0.3, lambda: self._prepare_slices(result))
        self._prefetch_next_one()

    def prefetch(self, run: dict[str, Any]) -> None:
        """Load a finished run's report before it is opened (the row highlighted in Runs), so its
        scoreboard opens filled. Only runs up to PREFETCH_MAX_SAMPLES samples, and one load at a
        time: scrolling down the list starts the row it rests on, not one load per row passed."""
        if run.get("status") == "running" or (run.get("n_samples") or 0) > PREFETCH_MAX_SAMPLES:
            return
        if run["id"] in self.run_cache or run["id"] in self._analyzing:
            return
        self._prefetch_wanted = run["id"]
        if not self._analyzing:
            self._prefetch_next_one()

    def _prefetch_next_one(self) -> None:
        run_id, self._prefetch_wanted = self._prefetch_wanted, None
        if run_id is not None and run_id not in self.run_cache and not self._analyzing:
            self._prefetched = run_id
            self.request_analysis(run_id)

    def run_data(self, run_id: str) -> data.RunData | None:
        return self.run_cache.get(run_id)

    def request_comparison(self, baseline: str, candidate: str) -> None:
        """Paired per-slice comparison of two finished runs (as `tuieval compare`), in a thread."""
        key = (baseline, candidate)
        if key in self.comparisons:
            return
        self.comparisons[key] = {"pending": True}
        self._compare(baseline, candidate)

    @work(thread=True, group="analysis")
    def _compare(self, baseline: str, candidate: str) -> None:
        from tuieval.report.compare_cache import stored_comparison

        try:
            with Store(self.db_path) as store:
                result = stored_comparison(store, baseline, candidate)
        except Exception as exc:  # e.g. runs of different suites cannot be paired
            result = {"error": str(exc)}
        self.call_from_thread(self._compared, baseline, candidate, result)

    def _compared(self, baseline: str, candidate: str, result: dict[str, Any]) -> None:
        self.comparisons[(baseline, candidate)] = result
        self.run_changed.publish(candidate)

    def export_report(self, run_id: str, fmt: str = "json") -> None:
        """Write the run's report next to the database: <run id>.report.json|md."""
        self._export(run_id, fmt)

    @work(thread=True, group="export")
    def _export(self, run_id: str, fmt: str) -> None:
        try:
            path = data.export_report(self.db_path, run_id, fmt)
        except Exception as exc:
            self.call_from_thread(self.notify, f"export failed: {exc}", severity="error")
            return
        self.call_from_thread(self.notify, f"report written to {path}", title="exported")

    # -- following runs written by another process -------------------------------------------------

    def follow_run(self, run_id: str) -> LiveRun | None:
        """Start following a run another process is writing (polled once a second)."""
        if run_id in self.live_runs:
            return self.live_runs[run_id]
        try:
            run = self.store.get_run(run_id)
        except Exception:
            return None
        live = for_run(run, self.store.get_cases(run["id"]), clock=self.clock, external=True)
        self.live_runs[run["id"]] = live
        self._poll_worker(live.run_id, 0)
        return live

    def _poll_followers(self) -> None:
        for live in list(self.live_runs.values()):
            if live.external and not live.finished:
                self._poll_worker(live.run_id, live.last_row_id)

    @work(thread=True, group="follow")
    def _poll_worker(self, run_id: str, after: int) -> None:
        with Store(self.db_path) as store:
            rows = store.samples_since(run_id, after)
            status = store.get_run(run_id)["status"]
        self.call_from_thread(self._apply_follow, run_id, rows, status)

    def _apply_follow(self, run_id: str, rows: list[dict[str, Any]], status: str) -> None:
        live = self.live_runs.get(run_id)
        if live is None:
            return
        for row in rows:
            if int(row["id"]) > live.last_row_id:
                live.ingest_row(row)
        if status != "running" and not live.finished:
            live.mark_finished(status)
            self.request_analysis(run_id)
            self.run_changed.publish(run_id)
        elif rows:
            self.run_changed.publish(run_id)

    # -- shutdown ---------------------------------------------------------------------------------

    def running_here(self) -> list[LiveRun]:
        """Runs this app drives that are still going (a followed run belongs to its own process)."""
        return [r for r in self.live_runs.values() if not r.finished and not r.external]

    async def action_quit(self) -> None:
        from tuieval.tui.screens.confirm import ConfirmScreen

        running = self.running_here()
        if not running:
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen):
            return
        n = len(running)
        question = Text.assemble(
            (f"{n} run{'s are' if n > 1 else ' is'} still going", "bold"),
            f": {', '.join(r.run_id for r in running)}.\n\n"
            "Quitting stops them; what is done is kept as partial, to finish later with\n",
            *((f"  {self.resume_hint(r.run_id)}\n", "bold") for r in running))

        async def answer(yes: bool | None) -> None:
            if yes:
                await self.stop_and_exit()

        self.push_screen(ConfirmScreen("Quit tuieval?", question, yes="Quit", no="Stay"), answer)

    async def stop_and_exit(self) -> None:
        running = self.running_here()
        for r in running:
            if r.worker is not None:
                r.worker.cancel()
        if running:
            await asyncio.sleep(0)
        self.exit()


def make_app(suite_paths: list[str] | None = None, db_path: str | None = None, **kwargs: Any) -> TuievalApp:
    """The app for the CLI and for tests: suites default to ./sample_suites/*.yaml."""
    paths = list(suite_paths or []) or data.default_suite_paths()
    return TuievalApp(paths, db_path, **kwargs)


def run_app(suite_paths: list[str], db_path: str | None) -> None:
    """Entry point of `tuieval` and `tuieval app`."""
    make_app(suite_paths, db_path, freeze_startup_heap=True).run()
