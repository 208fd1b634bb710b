"""The app-test harness says when it cannot do its job, instead of letting a test go on blind."""

from __future__ import annotations

import sqlite3

import pytest

from tests.tui.conftest import BRITTLE, STEADY, NotSettled, settle, wait_until


class _Worker:
    name = "forever"
    is_running = True


class _Workers(list):
    async def wait_for_complete(self) -> None:
        return None


class _App:
    """An app whose work never ends: each round it reports a worker still running."""

    def __init__(self) -> None:
        self.workers = _Workers([_Worker()])


class _Pilot:
    def __init__(self, app) -> None:
        self.app = app
        self.rounds = 0

    async def pause(self, delay: float | None = None) -> None:
        self.rounds += 1


async def test_settle_raises_when_the_app_does_not_settle():
    app = _App()
    pilot = _Pilot(app)
    with pytest.raises(NotSettled, match="forever"):
        await settle(app, pilot, rounds=3)
    assert pilot.rounds == 6  # two pauses a round, then it gave up loudly


async def test_wait_until_raises_naming_what_never_happened():
    app = _App()
    app.workers = _Workers()
    with pytest.raises(NotSettled, match="the palette's hit"):
        await wait_until(_Pilot(app), lambda: False, "the palette's hit", rounds=5)


def test_the_demo_database_holds_the_persisted_clusters_of_both_runs(demo_db):
    # build_report(persist_clusters=True) ran for each run and its failure is not swallowed
    conn = sqlite3.connect(demo_db)
    counts = dict(conn.execute("SELECT run_id, COUNT(*) FROM clusters GROUP BY run_id").fetchall())
    unassigned = conn.execute("SELECT COUNT(*) FROM samples WHERE cluster IS NULL AND error IS NULL").fetchone()[0]
    conn.close()
    assert counts.get(STEADY, 0) > 0 and counts.get(BRITTLE, 0) > 0
    assert unassigned == 0
