"""A slice's cases come from the membership stored with the report: the app opens a slice of a
reopened run without deriving any case's features, lists exactly the slice's cases, and a
report stored before the membership was kept still opens (derived in a thread, the charts of a
highlighted slice following when it is ready).

Expected members are computed here from the cases table itself (the metadata written by the
suite, read with sqlite3), and the worst-first order from the samples table (each case's
share of correct answers), never from the code under test.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.tui.conftest import BRITTLE, settle, wait_until
from tuieval.tui.widgets.keyed_table import KeyedTable
from tuieval.tui.widgets.line_table import LineTable

SIZE = (120, 40)


def _members(db: Path, run_id: str, key: str, value: str) -> set[str]:
    """The run's sampled cases whose metadata has key = value, from the tables."""
    with sqlite3.connect(db) as conn:
        sampled = {r[0] for r in conn.execute("SELECT DISTINCT case_id FROM samples WHERE run_id = ?", (run_id,))}
        rows = conn.execute("SELECT case_id, metadata FROM cases WHERE run_id = ?", (run_id,)).fetchall()
    return {cid for cid, meta in rows if cid in sampled and json.loads(meta).get(key) == value}


def _accuracy(db: Path, run_id: str) -> dict[str, float]:
    """Each case's share of correct answers (an error sample is never correct), by hand."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, correct, error FROM samples WHERE run_id = ?", (run_id,)).fetchall()
    n: dict[str, int] = {}
    ok: dict[str, int] = {}
    for cid, correct, error in rows:
        n[cid] = n.get(cid, 0) + 1
        ok[cid] = ok.get(cid, 0) + int(bool(correct) and error is None)
    return {cid: ok[cid] / n[cid] for cid in n}


def _no_deriving(monkeypatch) -> None:
    """Deriving the membership in this process fails the test: it must be read."""
    import tuieval.report.slice_membership_store as sms

    def refuse(*_a, **_k):
        raise AssertionError("the slice membership was derived again instead of read")

    monkeypatch.setattr(sms, "masks_from_cases", refuse)


async def _highlight(app, pilot, key: str) -> None:
    table = app.screen.query_one("#sb-table", KeyedTable)
    index = table.keys_in_order.index(key)
    await pilot.press(*["down"] * index)
    await pilot.pause()
    assert table.cursor_key() == key


async def _listed(app, pilot) -> list[str]:
    table = app.screen.query_one("#cases-table", LineTable)
    return [table.row(i)[0] for i in range(table.row_count)]


@pytest.mark.parametrize("key,value", [("name_origin", "non_english"), ("length", "long")])
async def test_a_slice_of_a_reopened_run_lists_the_stored_members(make, demo_db, monkeypatch, key, value):
    _no_deriving(monkeypatch)
    expected = _members(demo_db, BRITTLE, key, value)
    accuracy = _accuracy(demo_db, BRITTLE)
    assert 0 < len(expected) < len(accuracy)
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        sb = app.screen
        assert sb.mode == "report" and sb.data.membership_ready()
        await _highlight(app, pilot, f"{key}={value}")
        # the highlighted slice's charts count its samples: 3 per case in this suite
        hist = sb.query_one("#sb-hist")
        assert f"n={3 * len(expected)}" in "".join(s.text for s in hist.render_lines(hist.region.reset_offset))
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "SliceCasesScreen"
        listed = await _listed(app, pilot)
        assert set(listed) == expected and len(listed) == len(expected)
        assert [accuracy[c] for c in listed] == sorted(accuracy[c] for c in listed)  # worst first
        assert sb.data.cases is None  # the cases' rows (and their features) were never read


async def test_a_report_stored_before_the_membership_still_opens_its_slices(make, demo_db):
    """No stored membership (a report from before): the app derives it in a thread, the
    highlighted slice's charts say so meanwhile and follow when it is ready."""
    import tuieval.report.slice_membership_store as sms

    with sqlite3.connect(demo_db) as conn:
        conn.execute("DELETE FROM report_slices")
    expected = _members(demo_db, BRITTLE, "name_origin", "non_english")
    release = threading.Event()
    real = sms.masks_from_cases
    calls = []

    def held(*a, **k):  # the derivation waits for the test, so the screen is seen without it
        calls.append(threading.current_thread().name)
        release.wait(timeout=60)
        return real(*a, **k)

    sms.masks_from_cases = held
    try:
        app = make(demo_db, show_welcome=False)
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            app.open_run(BRITTLE)
            await wait_until(pilot, lambda: getattr(app.screen, "mode", None) == "report", "the report")
            sb = app.screen
            await wait_until(pilot, lambda: bool(calls), "the derivation to start")
            assert not sb.data.membership_ready()
            await _highlight(app, pilot, "name_origin=non_english")
            hist = sb.query_one("#sb-hist")

            def hist_text() -> str:
                return "".join(s.text for s in hist.render_lines(hist.region.reset_offset))

            assert "finding this slice's cases" in hist_text()
            assert calls and all(name != threading.main_thread().name for name in calls)  # not the event loop
            release.set()
            await settle(app, pilot)
            assert sb.data.membership_ready()
            assert f"n={3 * len(expected)}" in hist_text()
            await pilot.press("enter")
            await settle(app, pilot)
            listed = await _listed(app, pilot)
            assert set(listed) == expected and len(listed) == len(expected)
    finally:
        release.set()
        sms.masks_from_cases = real
