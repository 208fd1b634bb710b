"""One snapshot per screen at a fixed terminal size, from a database with pinned ids and times.

Regenerate after an intended change with `pytest tests/tui --snapshot-update` and review the SVGs.
"""

from __future__ import annotations

from tests.tui.conftest import BRITTLE, STEADY, settle

SIZE = (100, 32)


def _go(*keys: str, then=None):
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        for key in keys:
            await pilot.press(key)
            await settle(app, pilot)
        if then is not None:
            then(app)
            await settle(app, pilot)
        await pilot.pause()

    return run_before


def test_suites_screen(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go("down", "up", "tab", "down", "down"))


def test_welcome_on_an_empty_database(snap_compare, make, tmp_path):
    assert snap_compare(make(tmp_path / "empty.db"), terminal_size=SIZE, run_before=_go())


def test_run_form(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go("n"))


def test_live_screen_after_a_run(snap_compare, make, demo_db):
    def start(app):
        from tuieval.suite import load_suite
        from tuieval.tui.screens.run_form import RunRequest

        run_id = app.start_run(load_suite(app.suite_paths[0]), RunRequest("demo/brittle", concurrency=4, limit=8))
        app.watch_live(run_id)

    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go(then=start))


def test_runs_screen(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go("3"))


def test_scoreboard(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go(then=lambda app: app.open_run(BRITTLE)))


def test_slice_cases(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_open_slice())


def _open_slice():
    async def run_before(pilot) -> None:
        app = pilot.app
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        await pilot.press("down", "enter")
        await settle(app, pilot)

    return run_before


def test_inspector(snap_compare, make, demo_db):
    async def run_before(pilot) -> None:
        app = pilot.app
        await _open_slice()(pilot)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.press("down")
        await pilot.pause()

    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=run_before)


def test_compare_screen(snap_compare, make, demo_db):
    def open_compare(app):
        from tuieval.tui.screens.compare import CompareScreen

        app.push_screen(CompareScreen(STEADY, BRITTLE))

    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go(then=open_compare))


def test_help_screen(snap_compare, make, demo_db):
    assert snap_compare(make(demo_db), terminal_size=SIZE, run_before=_go("question_mark"))


def test_scoreboard_light_theme_80x24(snap_compare, make, demo_db):
    def light(app):
        app.theme = "textual-light"
        app.open_run(STEADY)

    assert snap_compare(make(demo_db), terminal_size=(80, 24), run_before=_go(then=light))
