"""What the app prints: units once, counts in full, p-values as bounds, and layouts that keep
the headline figures at 80×24 and use spare width at 120×40."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from textual.widgets import Static

from tests.tui.conftest import BRITTLE, STEADY, settle
from tuieval.tui import fmt
from tuieval.tui.widgets.keyed_table import KeyedTable, fit_columns


def _screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def test_fit_columns_drops_the_named_columns_first_and_grows_the_name_column():
    widths = [("name", 10), ("a", 4), ("b", 4), ("p99", 6)]
    # every column costs its width + 2 (one cell of padding either side): 12 + 6 + 6 + 8 = 32
    assert fit_columns(widths, 32, drop=("b", "a")) == {"name": 10, "a": 4, "b": 4, "p99": 6}
    assert fit_columns(widths, 31, drop=("b", "a")) == {"name": 10, "a": 4, "p99": 6}
    assert fit_columns(widths, 20, drop=("b", "a")) == {"name": 10, "p99": 6}
    # spare room goes to the name, up to its longest cell, then to the next flex column
    assert fit_columns(widths, 40, flex={"name": 30}) == {"name": 18, "a": 4, "b": 4, "p99": 6}
    assert fit_columns(widths, 40, flex={"name": 13, "a": 20}) == {"name": 13, "a": 9, "b": 4, "p99": 6}


@pytest.mark.parametrize("x, clause, cell", [(0.0123, "p = 0.012", "0.012"), (0.00001, "p < 0.0001", "<0.0001"),
                                             (None, "p —", "—"), (0.5, "p = 0.5", "0.5")])
def test_p_values_read_as_a_value_or_a_bound(x, clause, cell):
    assert fmt.p_clause("p", x) == clause
    assert fmt.p_cell(x) == cell


async def test_units_appear_once(make, demo_db):
    from tuieval.tui.screens.inspector import InspectorScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        seen = []
        app.open_run(BRITTLE)
        await settle(app, pilot)
        seen.append(_screen_text(app))
        await pilot.press("3")
        await settle(app, pilot)
        seen.append(_screen_text(app))
        app.push_screen(InspectorScreen(BRITTLE, "ex184"))
        await settle(app, pilot)
        await pilot.press("e")  # every member listed
        await settle(app, pilot)
        seen.append(_screen_text(app))
    text = "\n".join(seen)
    assert "SLO 600ms" in text
    assert not re.search(r"\d(ms|s) ?(ms|s)\b", text), re.findall(r".{20}\d(?:ms|s) ?(?:ms|s)\b.{5}", text)


async def test_the_runs_list_shows_counts_in_full(make, tmp_path):
    from tuieval.store import Store

    db = tmp_path / "big.db"
    store = Store(db)
    store.create_run({"id": "run-big", "suite": "s", "model": "demo/steady", "samples_per_case": 1,
                      "temperature": 0.0, "n_cases": 11000, "n_templates": 1, "n_expected": 11000,
                      "status": "complete", "config": {}},
                     [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["x"], "metadata": {},
                       "input_text": ""} for i in range(11000)])
    store.close()
    conn = sqlite3.connect(db)
    conn.executemany(
        "INSERT INTO samples (run_id, case_id, template, sample_index, dispatch_order, prompt, response, correct, "
        "score, latency_ms, created_at) VALUES ('run-big', ?, 't', 0, ?, '[]', 'x', 1, 1.0, 10.0, '2026-01-01')",
        [(f"c{i}", i) for i in range(11000)])
    conn.commit()
    conn.close()
    app = make(db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        text = _screen_text(app)
    assert "11000/11000" in text


async def test_at_80x24_the_scoreboard_keeps_p99_and_accuracy_within_slo(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        table = app.screen.query_one("#sb-table", KeyedTable)
        shown = table.shown_columns
        text = _screen_text(app)
    assert {"slice", "acc", "p99", "slo"} <= set(shown)
    header = next(line for line in text.splitlines() if "slice" in line and "acc" in line)
    assert "p99" in header and "@SLO" in header  # on screen, not scrolled off to the right
    assert "name_origin=non_english" in text  # a flagged slice's name in full


async def test_at_80x24_the_compare_verdict_line_is_visible(make, demo_db):
    from tuieval.tui.screens.compare import CompareScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.push_screen(CompareScreen(STEADY, BRITTLE))
        await settle(app, pilot)
        title = str(app.screen.query_one("#cmp-title", Static).render())
        text = _screen_text(app)
    assert "significant regression" in title
    assert re.search(r"\d+ significant regressions? of B against A", text)
    assert "p = < " not in text


async def test_at_80x24_the_runs_list_shows_run_ids(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        text = _screen_text(app)
    assert STEADY in text and BRITTLE in text


async def test_names_use_the_free_columns_at_120(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        board = _screen_text(app)
        await pilot.press("down", "enter")  # the flagged slice's cases
        await settle(app, pilot)
        cases = _screen_text(app)
    assert "name_origin=non_english" in board and "non_engli…" not in board
    assert "Bartłomiej Krzyżanowski" in cases  # the target in full


def test_the_report_gates_are_read_defensively():
    from tuieval.tui.gates import gate_rows

    assert gate_rows({}) == []
    assert gate_rows({"gates": None}) == []
    rows = gate_rows({"gates": [
        {"gate": "accuracy ≥ 0.8 on lang=de", "slice": "lang=de", "metric": "accuracy", "op": ">=",
         "threshold": 0.8, "value": 0.612, "n": 40, "passed": False},
        {"gate": "accuracy ≥ 0.5", "slice": None, "metric": "accuracy", "op": ">=", "threshold": 0.5,
         "value": 0.9, "n": 200, "passed": True},
    ]})
    assert [r["passed"] for r in rows] == [False, True]  # failed first
    assert json.dumps(rows)
