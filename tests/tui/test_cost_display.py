"""The scoreboard says what a run and a slice cost, from the stored tokens and the price."""

from __future__ import annotations

import sqlite3

from textual.widgets import DataTable, Static

from tests.tui.conftest import BRITTLE, settle

SIZE = (120, 40)


def _dollars_by_hand(db, run_id, case_ids=None) -> float:
    # demo models: the made-up price of $0.50 in / $1.50 out per million tokens
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, input_tokens, output_tokens FROM samples WHERE run_id = ?",
                            (run_id,)).fetchall()
    return sum((i or 0) * 0.5 / 1e6 + (o or 0) * 1.5 / 1e6 for c, i, o in rows if case_ids is None or c in case_ids)


def _shown(x: float) -> str:
    # two significant digits written out, as the app shows dollars under $1
    import math
    return f"${x:.{max(2, 1 - math.floor(math.log10(x)))}f}"


async def test_the_overall_row_and_a_slice_row_say_what_they_cost(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        sb = app.screen
        detail = str(sb.query_one("#sb-detail", Static).render())
        assert sb.highlighted()["key"] == "overall"
        assert f"cost {_shown(_dollars_by_hand(demo_db, BRITTLE))} (n=" in detail
        assert "made-up demo price" in detail
        table = sb.query_one("#sb-table", DataTable)
        for _ in range(table.row_count):
            sl = sb.highlighted()
            if sl.get("key") == "length" and sl.get("value") == "long":
                break
            await pilot.press("down")
            await pilot.pause()
        with sqlite3.connect(demo_db) as conn:
            long_cases = {r[0] for r in conn.execute(
                "SELECT case_id FROM cases WHERE run_id = ? AND json_extract(metadata, '$.length') = 'long'",
                (BRITTLE,))}
        detail = str(sb.query_one("#sb-detail", Static).render())
        assert f"cost {_shown(_dollars_by_hand(demo_db, BRITTLE, long_cases))} (" in detail
        assert f"n={len(long_cases)})" in detail
