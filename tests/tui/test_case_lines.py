"""The cases view on a run with 100,000 cases: the Line API table reads the rows on screen from
the stored report a page at a time, shows how many there are, and reaches the last one without
reading the ones between.

The run is written to a real SQLite file through the store (its cases, and a stored report whose
case list is made here with known figures), so the order expected is computed in this test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import settle
from tuieval.report.stored import store_report
from tuieval.store import Store
from tuieval.tui import data
from tuieval.tui.screens.slice_cases import SliceCasesScreen
from tuieval.tui.widgets.line_table import LineTable

N = 100_000
SIZE = (100, 32)


def _figures(i: int) -> tuple[float | None, float | None]:
    """Case i's accuracy and consistency: 101 accuracy levels, every 997th case without a figure."""
    if i % 997 == 0:
        return None, None
    return ((i * 37) % 101) / 100, ((i * 11) % 7) / 6


@pytest.fixture(scope="module")
def big_run(tmp_path_factory) -> tuple[Path, str, list[str], int]:
    db = tmp_path_factory.mktemp("big") / "big.db"
    ids = [f"c{i:06d}" for i in range(N)]
    figures = [_figures(i) for i in range(N)]
    cases = ({"case_id": cid, "position": i, "vars": {}, "targets": [f"target {i}"], "metadata": {},
              "input_text": f"question {i}"} for i, cid in enumerate(ids))
    entries = [{"id": cid, "accuracy": acc, "consistency": cons, "n_clusters": 1,
                "majority_correct": None if acc is None else acc >= 0.5,
                "clusters": [{"size": 1, "representative": f"answer {i}"}]}
               for i, (cid, (acc, cons)) in enumerate(zip(ids, figures))]
    with Store(db) as store:
        run_id = store.create_run({"suite": "big", "model": "demo/steady", "simulated": 1, "samples_per_case": 1,
                                   "temperature": 0.0, "n_cases": N, "n_templates": 1, "n_expected": N,
                                   "config": {}}, cases)
        store.set_status(run_id, "complete")
        run = store.get_run(run_id)
        report = {"schema": "tuieval.report/1", "run": {"id": run_id}, "overall": {"n_cases": N}, "slices": [],
                  "cases": entries}
        store_report(store, run_id, store.report_fingerprint(run), report, [])
    # worst first, by hand: accuracy, consistency (no figure last), then id
    order = sorted(range(N), key=lambda i: (2.0 if figures[i][0] is None else figures[i][0],
                                            2.0 if figures[i][1] is None else figures[i][1], ids[i]))
    n_wrong = sum(1 for acc, _ in figures if acc is None or acc < 1)
    return db, run_id, [ids[i] for i in order], n_wrong


def _screen_text(app) -> str:
    return "\n".join("".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips())


async def test_scrolling_to_the_end_of_100k_cases_reads_two_pages(make, big_run):
    db, run_id, expected, n_wrong = big_run
    view = data.load_run_data(str(db), run_id)
    assert view.cases_stored  # read from the stored parts, the case list left in the store
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(SliceCasesScreen(view, None))
        await settle(app, pilot)
        screen = app.screen
        table = screen.query_one("#cases-table", LineTable)
        assert table.row_count == N
        text = _screen_text(app)
        assert f"{N:,} cases, {n_wrong:,} with at least one wrong answer" in text
        assert expected[0] in text and expected[-1] not in text
        assert table.border_subtitle == f"1 of {N:,}"
        assert table.pages_read == 1
        await pilot.press("ctrl+end")
        await settle(app, pilot)
        text = _screen_text(app)
        assert table.cursor_row == N - 1 and table.cursor_key() == expected[-1]
        assert expected[-1] in text and expected[-2] in text and expected[0] not in text
        assert f"{N:,} of {N:,}" in text
        assert table.pages_read == 2  # the last page only: nothing between was read
        # the preview is the last case's input, from the cases table
        last = int(expected[-1][1:])
        assert f"question {last}" in text
        await pilot.press("pageup")
        await settle(app, pilot)
        rows_shown = table.scrollable_content_region.height - 1
        assert table.cursor_key() == expected[N - 1 - rows_shown]
        assert table.row(N - 1 - rows_shown)[1].case["id"] == expected[N - 1 - rows_shown]


async def test_enter_on_a_row_far_down_inspects_that_case(make, big_run):
    db, run_id, expected, _ = big_run
    view = data.load_run_data(str(db), run_id)
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.push_screen(SliceCasesScreen(view, None))
        await settle(app, pilot)
        table = app.screen.query_one("#cases-table", LineTable)
        table.move_cursor(54_321)
        await settle(app, pilot)
        assert table.cursor_key() == expected[54_321]
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "InspectorScreen" and app.screen.case_id == expected[54_321]


def _worst_first(cases: list[dict]) -> list[dict]:
    return sorted(cases, key=lambda c: (2.0 if c["accuracy"] is None else c["accuracy"],
                                        2.0 if c["consistency"] is None else c["consistency"], c["id"]))


def test_the_stored_rows_and_a_report_in_memory_list_the_same_cases(demo_db):
    """Paged from the store (a reopened run) or sliced from a report in memory (a run this app
    just analysed): the same cases, entries, targets and order, for the run and every slice."""
    from tests.tui.conftest import BRITTLE
    from tuieval.tui.case_rows import ListCaseRows, StoredCaseRows, load_case_rows

    stored = data.load_run_data(str(demo_db), BRITTLE)
    in_memory = data.load_run_data(str(demo_db), BRITTLE, persist_clusters=True)  # analysed again
    assert stored.cases_stored and not in_memory.cases_stored
    cases = in_memory.report["cases"]
    with Store(demo_db) as store:
        targets = {c["case_id"]: c["targets"] for c in store.get_cases(BRITTLE)}
    for sl in [None, *in_memory.report["slices"]]:
        a, b = load_case_rows(str(demo_db), stored, sl), load_case_rows(str(demo_db), in_memory, sl)
        assert isinstance(a, StoredCaseRows) and isinstance(b, ListCaseRows)
        members = None if sl is None else in_memory.slice_case_ids(sl)
        expected = _worst_first([c for c in cases if members is None or c["id"] in members])
        assert a.n == b.n == len(expected) == (sl or {"n_cases": len(cases)})["n_cases"]
        assert a.n_wrong == b.n_wrong == sum(1 for c in expected if c["accuracy"] is None or c["accuracy"] < 1)
        # in two windows, as the table reads them
        half = a.n // 2
        rows_a = a.window(0, half) + a.window(half, a.n)
        rows_b = b.window(0, half) + b.window(half, b.n)
        assert [k for k, _ in rows_a] == [k for k, _ in rows_b] == [c["id"] for c in expected]
        assert [r.case for _, r in rows_a] == [r.case for _, r in rows_b] == expected
        assert [r.targets for _, r in rows_a] == [r.targets for _, r in rows_b] == [targets[c["id"]] for c in expected]
        a.close()


async def test_the_scoreboard_shows_a_100k_case_count_in_full_at_80_columns(make, big_run):
    """The n column grows to the widest count: 100000 is never cut to 1000."""
    db, run_id, _, _ = big_run
    app = make(db, show_welcome=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_run(run_id)
        await settle(app, pilot)
        overall = next(line for line in _screen_text(app).splitlines() if "overall" in line and "│" in line)
        assert f" {N} " in overall
