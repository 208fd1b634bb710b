"""First visits that paint their frame before the slow part: a slice's case list is built in a
thread (the frame says it is loading, then fills; its table reads a page of rows at a time), and
the paired comparison of two finished runs is computed once and read back from the store by a
later session.

And what a first visit no longer pays for: a full re-parse of the CSS on a mode switch (while a
theme change still reaches every mode's screens), the whole CSS parsed again for a new widget
class, a worker description that printed a whole run; what is loaded before it is asked for (the
highlighted run's report, the marked pair's comparison); and Compare opening onto the paired table
of two finished runs without drawing the descriptive one first."""

from __future__ import annotations

import threading

from textual.widgets import DataTable, Static

import tuieval.report.compare_cache as compare_cache
import tuieval.tui.screens.slice_cases as slice_cases
from tuieval.tui.widgets.line_table import LineTable
from tests.tui.conftest import BRITTLE, STEADY, settle, wait_until

SIZE = (100, 32)


def _title(app, wid: str) -> str:
    return str(app.screen.query_one(wid, Static).render())


async def _scoreboard(app, pilot, run_id: str):
    app.open_run(run_id)
    await settle(app, pilot)
    assert type(app.screen).__name__ == "ScoreboardScreen" and app.screen.mode == "report"
    return app.screen


def _listed(screen) -> list[dict]:
    """Every case the cases view lists, in its order, read through its table as scrolling would."""
    return [screen.case_at(i) for i in range(screen.query_one("#cases-table", LineTable).row_count)]


async def test_slice_cases_paint_their_frame_then_fill(make, demo_db, monkeypatch):
    gate = threading.Event()
    real = slice_cases.load_case_rows

    def held(*args, **kwargs):
        gate.wait(60)  # released by the test once it has seen the frame (synchronisation, not timing)
        return real(*args, **kwargs)

    monkeypatch.setattr(slice_cases, "load_case_rows", held)
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        sb = await _scoreboard(app, pilot, BRITTLE)
        flagged = next(s for s in sb.data.report["slices"] if s.get("flagged"))
        app.push_screen(slice_cases.SliceCasesScreen(sb.data, flagged))
        await wait_until(pilot, lambda: type(app.screen).__name__ == "SliceCasesScreen" and app.screen.is_mounted,
                         "the cases screen")
        await pilot.pause()
        screen = app.screen
        # the frame is up and says what it is doing; nothing listed yet
        assert "loading the cases" in _title(app, "#cases-title")
        assert screen.query_one("#cases-table", LineTable).row_count == 0 and not screen.loaded
        gate.set()
        await settle(app, pilot)
        table = screen.query_one("#cases-table", LineTable)
        assert screen.loaded and table.row_count == flagged["n_cases"]
        assert f"{flagged['n_cases']} cases" in _title(app, "#cases-title")
        listed = _listed(screen)
        keys = [(c["accuracy"], c["consistency"], c["id"]) for c in listed]
        assert keys == sorted(keys), "worst first"
        # every listed case belongs to the slice, per the report's own case metadata
        key, value = flagged["key"], flagged["value"]
        by_id = {c["id"]: c for c in sb.data.report_cases()}
        if key in by_id[listed[0]["id"]].get("metadata", {}):
            assert all(str(by_id[c["id"]]["metadata"][key]) == str(value) for c in listed)


async def test_the_run_cases_are_drawn_a_page_at_a_time(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        sb = await _scoreboard(app, pilot, BRITTLE)
        n_cases = sb.data.run["n_cases"]
        assert n_cases == 200  # the demo database: 200 extraction cases
        app.push_screen(slice_cases.SliceCasesScreen(sb.data, None))  # overall: every case
        await settle(app, pilot)
        table = app.screen.query_one("#cases-table", LineTable)
        table.page = 50  # smaller pages than the default 100, so the 200 cases span four
        table.set_source(app.screen.rows)
        await settle(app, pilot)
        assert table.row_count == 200 and "200 cases" in _title(app, "#cases-title")
        assert table.pages_read == 1  # a screenful of rows: the first page only
        await pilot.press("ctrl+end")
        await settle(app, pilot)
        assert table.cursor_row == 199 and table.pages_read == 2  # the last page, nothing between
        assert table.border_subtitle == "200 of 200"
        # the rows are the whole list in order, nothing repeated: the report's cases, worst first
        cases = sb.data.report_cases()
        expected = sorted(cases, key=lambda c: (2.0 if c["accuracy"] is None else c["accuracy"],
                                                2.0 if c["consistency"] is None else c["consistency"], c["id"]))
        keys = [table.row(i)[0] for i in range(table.row_count)]
        assert keys == [c["id"] for c in expected] and len(set(keys)) == n_cases


def _paired_rows(app) -> list[list[str]]:
    table = app.screen.query_one("#cmp-table", DataTable)
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_a_comparison_is_kept_and_a_later_session_reads_it(make, demo_db, monkeypatch):
    from tuieval.store import Store
    from tuieval.tui.screens.compare import CompareScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(CompareScreen(STEADY, BRITTLE))
        await settle(app, pilot)
        assert app.screen._paired
        first = _paired_rows(app)
    with Store(demo_db) as store:
        kept = store.conn.execute("SELECT baseline, candidate FROM comparisons").fetchall()
    assert [tuple(r) for r in kept] == [(STEADY, BRITTLE)]

    def refuse(*_a, **_k):
        raise AssertionError("the comparison was recomputed")

    monkeypatch.setattr(compare_cache, "build_comparison", refuse)
    again = make(demo_db, show_welcome=False)
    async with again.run_test(size=SIZE) as pilot:
        await settle(again, pilot)
        again.push_screen(CompareScreen(STEADY, BRITTLE))
        await settle(again, pilot)
        # paired (a recomputation would have raised and shown "not paired")
        assert again.screen._paired
        assert "not paired" not in _title(again, "#cmp-title")
        assert _paired_rows(again) == first


# -- what a first visit no longer pays for -------------------------------------------------------

def _count_calls(monkeypatch, owner, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


async def test_switching_modes_never_reparses_the_stylesheet(make, demo_db, monkeypatch):
    from textual.css.stylesheet import Stylesheet

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        reparses = _count_calls(monkeypatch, Stylesheet, "reparse")
        # Live and Runs for the first time, a scoreboard on Runs, Suites, and back to that scoreboard
        for step in ("live", "runs", "open", "suites", "runs"):
            if step == "open":
                app.open_run(BRITTLE)
            else:
                app.go_to_mode(step)
            await settle(app, pilot)
        assert type(app.screen).__name__ == "RunsScreen"
        assert reparses == [], f"{len(reparses)} full re-parses of the CSS on mode switches"


async def test_a_theme_change_still_reaches_the_screens_of_the_other_modes(make, demo_db):
    def styles(app) -> tuple:
        screen = app.screen
        return (str(screen.query_one("#runs-table").styles.background),
                str(screen.query_one("NavBar").styles.background), str(screen.styles.background))

    # reference: an app that is in the light theme from the start
    fresh = make(demo_db, show_welcome=False)
    async with fresh.run_test(size=SIZE) as pilot:
        fresh.theme = "textual-light"
        await settle(fresh, pilot)
        fresh.go_to_mode("runs")
        await settle(fresh, pilot)
        expected = styles(fresh)
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.go_to_mode("runs")
        await settle(app, pilot)
        dark = styles(app)
        app.go_to_mode("suites")
        await settle(app, pilot)
        app.theme = "textual-light"  # while the Runs screen is in another mode's stack
        await settle(app, pilot)
        app.go_to_mode("runs")
        await settle(app, pilot)
        assert styles(app) == expected != dark


async def test_a_new_widget_class_parses_only_its_own_css(make, demo_db, monkeypatch):
    import textual.css.stylesheet as stylesheet_module

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")  # as a user opens a run: Runs, then Enter
        await settle(app, pilot)
        parsed = _count_calls(monkeypatch, stylesheet_module, "parse")
        app.open_run(BRITTLE)  # the first screen with a chart (Chart.DEFAULT_CSS)
        await settle(app, pilot)
        assert app.screen.query("Chart")
        # one source parsed (the chart's), not the app's whole CSS again (~16 sources)
        assert len(parsed) <= 1, f"{len(parsed)} CSS sources parsed to open the scoreboard"


def test_a_run_data_repr_is_short_whatever_the_run_holds():
    import numpy as np

    from tuieval.tui.data import RunData

    n = 50_000
    data = RunData(run={"id": "r1"}, report={"cases": [{"id": f"c{i}", "text": "x" * 50} for i in range(5000)]},
                   case_ids=[f"c{i}" for i in range(5000)], sample_case=np.zeros(n, dtype=np.int64),
                   latency=np.ones(n), correct=np.ones(n, dtype=bool), error=np.zeros(n, dtype=bool))
    # a worker's description is the repr of its arguments, built on the event loop
    assert repr(data) == "RunData(run='r1', samples=50000, cases=5000)"


# -- loaded before it is asked for ----------------------------------------------------------------

async def test_the_highlighted_run_is_loaded_before_enter_and_opens_filled(make, demo_db):
    from tuieval.tui.screens.scoreboard import ScoreboardScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert app.run_data(STEADY) is None and app.run_data(BRITTLE) is None  # nothing at start-up
        await pilot.press("3")
        await settle(app, pilot)
        first = app.screen.current()
        assert app.run_data(first) is not None and app.run_data(first).run["id"] == first
        other = ({STEADY, BRITTLE} - {first}).pop()
        assert app.run_data(other) is None  # only the row the cursor is on
        await pilot.press("down")
        await settle(app, pilot)
        assert app.run_data(other) is not None
        # Enter: the scoreboard is in report mode as it mounts (no "computing the report…" frame)
        modes: list[str] = []
        real = ScoreboardScreen.on_mount

        def watched(screen) -> None:
            real(screen)
            modes.append(screen.mode)

        ScoreboardScreen.on_mount = watched
        try:
            await pilot.press("enter")
            await settle(app, pilot)
        finally:
            ScoreboardScreen.on_mount = real
        assert modes == ["report"] and app.screen.run_id == other


async def test_a_large_run_is_not_loaded_ahead(make, demo_db, monkeypatch):
    import tuieval.tui.app as app_module

    monkeypatch.setattr(app_module, "PREFETCH_MAX_SAMPLES", 599)  # each demo run has 600 samples
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert app.run_data(STEADY) is None and app.run_data(BRITTLE) is None


async def test_marking_two_finished_runs_starts_their_comparison(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        first = app.screen.current()
        await pilot.press("space", "down")
        await settle(app, pilot)
        assert app.comparisons == {}  # one run marked: nothing to pair yet
        second = app.screen.current()
        await pilot.press("space")
        await settle(app, pilot)
        assert list(app.comparisons) == [(first, second)]
        assert app.comparisons[(first, second)].get("schema") == "tuieval.compare/1"
        assert type(app.screen).__name__ == "RunsScreen"  # before `c`


# -- Compare opens onto the paired table -----------------------------------------------------------

async def test_two_finished_runs_open_onto_the_paired_table_without_the_descriptive_one(make, demo_db, monkeypatch):
    import tuieval.tui.screens.compare as compare_screen
    from tuieval.tui.screens.compare import CompareScreen

    # the fallback for a slow comparison never fires here, however loaded the machine is
    monkeypatch.setattr(compare_screen, "DESCRIPTIVE_AFTER_S", 3600)
    descriptive = _count_calls(monkeypatch, CompareScreen, "_descriptive_rows")
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(CompareScreen(STEADY, BRITTLE))
        await settle(app, pilot)
        assert app.screen._paired and app.screen.query_one("#cmp-table", DataTable).row_count > 0
        assert "significant regression" in _title(app, "#cmp-title")
    assert descriptive == []


async def test_a_slow_comparison_shows_the_descriptive_table_meanwhile(make, demo_db, monkeypatch):
    import tuieval.tui.screens.compare as compare_screen

    gate = threading.Event()
    real = compare_cache.stored_comparison

    def held(*args, **kwargs):
        gate.wait(60)  # released by the test once it has seen the descriptive table
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_cache, "stored_comparison", held)
    monkeypatch.setattr(compare_screen, "DESCRIPTIVE_AFTER_S", 0.001)  # "late" at once (Textual refuses 0)
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(compare_screen.CompareScreen(STEADY, BRITTLE))
        table = None

        def descriptive_shown() -> bool:
            nonlocal table
            if type(app.screen).__name__ != "CompareScreen" or not app.screen.is_mounted:
                return False
            table = app.screen.query_one("#cmp-table", DataTable)
            return table.row_count > 0

        await wait_until(pilot, descriptive_shown, "the descriptive table")
        assert not app.screen._paired
        assert "while the paired comparison is computed" in str(table.border_title)
        gate.set()
        await settle(app, pilot)
        assert app.screen._paired and "Paired comparison" in str(table.border_title)
