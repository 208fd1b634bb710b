"""The red-team screen, driven with Pilot, on a database built by a real offline red-team run
(demo/sensitive and demo/steady attacked by demo/attacker, decided by the suite's scorer)."""

from __future__ import annotations

import asyncio
import sqlite3

import pytest

from tests.tui.conftest import QA, pin_clock, settle

SIZE = (110, 36)


def _build(path):
    from tuieval.backends.demo import DemoBackend
    from tuieval.redteam.runner import RedTeam, RedTeamOptions
    from tuieval.store import Store
    from tuieval.suite import load_suite

    with pytest.MonkeyPatch.context() as mp:
        pin_clock(mp, "rt")
        store = Store(path)
        targets = {m: DemoBackend(m, m.split("/")[1], speed=0) for m in ("demo/sensitive", "demo/steady")}
        options = RedTeamOptions(targets=list(targets), attacker="demo/attacker", strategies=["paraphrase", "role_play"],
                                 tries=1, seed=3, limit=8, concurrency=2)
        team = RedTeam(store)
        rt_id = team.create(load_suite(QA), options, targets)
        asyncio.run(team.run(rt_id, options, targets, DemoBackend("demo/attacker", "attacker", speed=0)))
        store.close()
    return rt_id


@pytest.fixture
def redteam_db(tmp_path):
    path = tmp_path / "rt.db"
    _build(path)
    return path


async def test_the_table_and_the_attacks_match_the_stored_rows(make, redteam_db):
    with sqlite3.connect(redteam_db) as conn:
        run_a = conn.execute("SELECT json_extract(run_ids, '$[0]') FROM redteams").fetchone()[0]
        # counted by SQL, independently of the report code
        expected = dict(conn.execute("SELECT strategy, printf('%d/%d', SUM(correct = 0), COUNT(*)) "
                                     "FROM redteam_answers WHERE run_id = ? GROUP BY strategy", (run_a,)).fetchall())
        n_broken = conn.execute("SELECT COUNT(*) FROM redteam_answers WHERE run_id = ? AND correct = 0",
                                (run_a,)).fetchone()[0]
    app = make(redteam_db)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        from textual.widgets import DataTable

        from tuieval.tui.screens.redteam import RedTeamScreen

        screen = app.screen
        assert isinstance(screen, RedTeamScreen)
        table = screen.query_one("#rt-table", DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1]) for i in range(table.row_count)}
        for strategy, frac in expected.items():
            assert rows[strategy].endswith(frac), (strategy, rows[strategy])
        assert screen.query_one("#rt-attacks", DataTable).row_count == n_broken
        first_model = str(screen.query_one("#rt-title").render())
        await pilot.press("t")
        await settle(app, pilot)
        assert str(screen.query_one("#rt-title").render()) != first_model  # the other target
        assert "demo/steady" in str(screen.query_one("#rt-title").render())


async def test_without_red_team_runs_it_says_how_to_start_one(make, tmp_path):
    app = make(tmp_path / "empty.db", show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("4")
        await settle(app, pilot)
        assert "tuieval redteam" in str(app.screen.query_one("#rt-title").render())


def test_redteam_screen_snapshot(snap_compare, make, redteam_db):
    async def run_before(pilot):
        await settle(pilot.app, pilot)
        await pilot.press("4")
        await settle(pilot.app, pilot)
        await pilot.press("down")
        await settle(pilot.app, pilot)

    assert snap_compare(make(redteam_db), terminal_size=SIZE, run_before=run_before)
