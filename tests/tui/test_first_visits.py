"""First visits that paint their frame before the slow part: a slice's case list is built in a
thread (the frame says it is loading, then fills; its table reads a page of rows at a time), and
the paired comparison of two finished runs is computed once and read back from the store by a
later session."""

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
