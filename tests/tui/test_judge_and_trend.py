"""The judge in the app: the reliability panel reached from the scoreboard (`j`), its flagged cases,
and the judge's reasoning beside the answer in the inspector; and a suite's trend from Runs (`t`).

The judged run is tests/support/judged.py's: the real engine against the loopback server, a panel
of judge-a (passes everything) and judge-b (fails cases 0, 5, 10, 15); human labels say fail on
those four and on cases 1 and 2, pass elsewhere — so every figure is worked out by hand.
"""

from __future__ import annotations

import re

import pytest
from textual.widgets import Static

from tests.support.judged import judged_run
from tests.tui.conftest import settle
from tuieval.store import Store

SIZE = (110, 40)


@pytest.fixture
def judged(make, tmp_path, model_server):
    """(db, run id) of the judged run; after `make`, so its run id and times are pinned."""
    return judged_run(tmp_path, model_server)


def _text(screen, selector: str) -> str:
    return str(screen.query_one(selector, Static).render())


async def test_the_reliability_panel_shows_the_hand_computed_figures(make, judged):
    db, run_id = judged
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(run_id)
        await settle(app, pilot)
        await pilot.press("j")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "JudgeScreen"
        text = " ".join(_text(app.screen, "#judge-summary").split())
        # once = judge-a's vote: 20/20; majority: the 4 cases judge-b fails split 1–1, no majority → 16/20,
        # Wilson 95% for 16/20 = [58.4%, 91.9%]
        assert "accuracy judged once 100.0% [84–100] 20/20" in text
        assert "accuracy, majority of N 80.0% [58–92] 16/20" in text
        # Fleiss κ = −1/9, Krippendorff α = −1/12 (tests/engine/test_judge_engine.py works them out)
        assert "Fleiss κ -0.111 · Krippendorff α -0.083" in text
        # human × verdict: pass-labelled 14 all judged correct; fail-labelled 6: 4 incorrect, 2 correct.
        # p_o = 18/20 = 0.9, p_e = 0.7·0.8 + 0.3·0.2 = 0.62, κ = 0.28 / 0.38 = 0.7368
        assert "Cohen κ +0.737 · agreement 90.0% · n=20" in text
        assert re.search(r"correct\s+14\s+0 incorrect\s+2\s+4", text)
        assert "requests 40 · unparsed 0 (0.0%)" in text
        table = app.screen.query_one("#judge-flagged")
        assert table.row_count == 4  # the judges disagree on cases 0, 5, 10, 15
        await pilot.press("enter")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "InspectorScreen" and app.screen.case_id == "c000"
        pane = _text(app.screen, "#pane-a-body")
        assert "judged 2×" in pane
        assert "judge-a read the answer to case 0." in pane and "judge-b read the answer to case 0." in pane
        assert pane.index("Answer: tok0") < pane.index("judged 2×")  # the reasoning next to (after) the answer


async def test_the_judge_key_is_offered_only_on_a_judged_run(make, demo_db):
    from tests.tui.conftest import STEADY

    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(STEADY)
        await settle(app, pilot)
        await pilot.press("j")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ScoreboardScreen"


def test_judge_screen_snapshot(snap_compare, make, judged):
    db, run_id = judged

    async def run_before(pilot):
        app = pilot.app
        await settle(app, pilot)
        app.open_run(run_id)
        await settle(app, pilot)
        await pilot.press("j")
        await settle(app, pilot)

    assert snap_compare(make(db, show_welcome=False), terminal_size=SIZE, run_before=run_before)


async def test_t_on_a_run_shows_its_suites_trend(make, tmp_path):
    from tests.continuous.runs import store_run

    db = tmp_path / "trend.db"
    with Store(db) as store:  # 18/20, then 10/20 on the same cases: McNemar p = 2·0.5^8, q = 0.0078125
        store_run(store, "20260101-000000-aaaa", 1, {1, 3}, 100)
        store_run(store, "20260102-000000-bbbb", 2, set(range(1, 20, 2)), 100)
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "TrendScreen"
        table = app.screen.query_one("#trend-table")
        assert table.row_count == 2
        cells = [str(c) for c in table.get_row("20260102-000000-bbbb")]
        assert cells[1] == "50.0% [30–70] n=20"  # Wilson 95% for 10/20: [29.9%, 70.1%]
        assert cells[-1] == "▼ -40.0 pts q 0.008 McNemar n=20"
        assert str(table.get_row("20260101-000000-aaaa")[-1]) == "first run"


def test_trend_screen_snapshot(snap_compare, make, tmp_path):
    from tests.continuous.runs import store_run

    db = tmp_path / "trend.db"
    with Store(db) as store:
        store_run(store, "20260101-000000-aaaa", 1, {1, 3}, 100)
        store_run(store, "20260102-000000-bbbb", 2, set(range(1, 20, 2)), 100)
        store_run(store, "20260103-000000-cccc", 3, {1}, 100)

    async def run_before(pilot):
        app = pilot.app
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        await pilot.press("t")
        await settle(app, pilot)

    assert snap_compare(make(db, show_welcome=False), terminal_size=SIZE, run_before=run_before)


async def test_the_runs_screen_names_a_runs_tags(make, tmp_path):
    from tests.continuous.runs import store_run
    from tuieval.store.tags import set_tag

    db = tmp_path / "tags.db"
    with Store(db) as store:
        store_run(store, "20260101-000000-aaaa", 1, set(), 100)
        set_tag(store, "production", "20260101-000000-aaaa")
    app = make(db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("3")
        await settle(app, pilot)
        assert "tagged production" in str(app.screen.query_one("#runs-detail", Static).render())
