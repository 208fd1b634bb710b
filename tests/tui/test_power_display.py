"""The app says what a test could not see: MDE on the scoreboard and in the comparison, aliases once."""

from __future__ import annotations

from tests.tui.conftest import BRITTLE, STEADY, settle
from textual.widgets import DataTable, Static

SIZE = (120, 40)


async def _move_to(pilot, sb, wanted) -> dict:
    table = sb.query_one("#sb-table", DataTable)
    for _ in range(table.row_count):
        sl = sb.highlighted()
        if sl is not None and wanted(sl):
            return sl
        await pilot.press("down")
        await pilot.pause()
    raise AssertionError("no such slice on the scoreboard")


async def test_scoreboard_detail_gives_the_mde_of_an_unflagged_slice_and_the_aliases(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        sb = app.screen
        keys = [sb.query_one("#sb-table", DataTable).coordinate_to_cell_key((i, 0)).row_key.value
                for i in range(sb.query_one("#sb-table", DataTable).row_count)]
        # one row for the non-English names, whichever name the cases were found under
        assert sum(k in ("name_origin=non_english", "non_ascii_name=True") for k in keys) == 1
        sl = await _move_to(pilot, sb, lambda s: s.get("key") == "name_origin" and s.get("value") == "non_english")
        detail = str(sb.query_one("#sb-detail", Static).render())
        assert "= non_ascii_name=True" in detail
        sl = await _move_to(pilot, sb, lambda s: s.get("key") != "overall" and not s.get("flagged")
                            and s.get("mde") is not None)
        detail = str(sb.query_one("#sb-detail", Static).render())
        assert f"not flagged; could see a rise of ≥ {sl['mde'] * 100:.0f} pts (80% power)" in detail


async def test_comparison_shows_the_mde_of_every_test_that_found_nothing(make, demo_db):
    from tuieval.tui.screens.compare import CompareScreen

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(CompareScreen(STEADY, BRITTLE))
        await settle(app, pilot)
        cmp = app.screen
        cmp.repaint()
        await settle(app, pilot)
        comparison = app.comparisons[(STEADY, BRITTLE)]
        table = cmp.query_one("#cmp-table", DataTable)
        by_key = {f"{e['key']}={e['value']}": e for e in comparison["slices"]}
        by_key["overall"] = comparison["overall"]
        checked = 0
        for key, e in by_key.items():
            cell = str(table.get_cell(key, "mde"))
            if e["significant"]:
                assert cell.strip() == ""
            else:
                assert cell.strip() == f"±{e['mde'] * 100:.0f}", key
                checked += 1
        assert checked >= 2
