"""The contamination view of a probe run, driven with Pilot: flagged cases, the reproduced span
highlighted in the model's own (inert) text; a run that is no probe run has no such key."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import Static

from tests.tui.conftest import REPO, STEADY, pin_clock, settle

SIZE = (110, 36)
SUITE = str(REPO / "sample_suites" / "contamination.yaml")
RUN = "run-contam"


@pytest.fixture
def probe_db(demo_db):
    """The demo database plus a demo/memorised probe run of the sample suite (built as the CLI does)."""
    from tuieval.backends.demo import DemoBackend
    from tuieval.contamination.probes import DEFAULT_REWRITE, ProbeSettings, build_plan
    from tuieval.engine import Engine, RunOptions
    from tuieval.perturb import parse_specs
    from tuieval.store import Store
    from tuieval.suite import load_suite

    settings = ProbeSettings(rewrite=tuple(parse_specs(DEFAULT_REWRITE)))
    plan = build_plan(load_suite(SUITE), settings, seed=5)
    with pytest.MonkeyPatch.context() as mp:
        pin_clock(mp)
        mp.setattr("tuieval.store.db.new_run_id", lambda: RUN)
        store = Store(demo_db)
        engine = Engine(store, DemoBackend("demo/memorised", "memorised", speed=0))
        options = RunOptions(model="demo/memorised", concurrency=4, max_tokens=256)
        engine.create_run(plan.suite, options)
        store.set_contamination(RUN, settings.as_mapping(), None)
        asyncio.run(engine.run(RUN, options))
        store.close()
    return demo_db


def _footer(app) -> str:
    from tuieval.tui.widgets.key_footer import KeyFooter

    return str(app.screen.query_one(KeyFooter).render())


async def test_flagged_cases_and_the_reproduced_span(make, probe_db):
    from tuieval.tui.screens.contamination import ContaminationScreen
    from tuieval.tui.widgets.keyed_table import KeyedTable

    app = make(probe_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(RUN)
        await settle(app, pilot)
        assert "Contamination" in _footer(app)
        await pilot.press("x")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ContaminationScreen)
        # demo/memorised memorised the 12 `source: public` cases: each is flagged
        table = screen.query_one("#ct-table", KeyedTable)
        assert table.row_count == 12
        title = str(screen.query_one("#ct-title", Static).render())
        assert "likely contaminated 12/24 cases" in title
        assert "source=public" in str(screen.query_one("#ct-slices", Static).render())
        first = screen.by_id[table.cursor_key()]
        detail = str(screen.query_one("#ct-detail-body", Static).render())
        assert first["verbatim"]["response"].split("\n")[0] in detail
        assert "the real continuation" in detail
        await pilot.press("escape")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ScoreboardScreen"


async def test_a_run_that_is_no_probe_run_has_no_contamination_key(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.open_run(STEADY)
        await settle(app, pilot)
        assert "Contamination" not in _footer(app)
        await pilot.press("x")
        await settle(app, pilot)
        assert type(app.screen).__name__ == "ScoreboardScreen"


def test_the_highlight_covers_the_measured_characters_of_inert_text():
    from tuieval.tui.screens.contamination import highlighted

    response = "so [b]sea level\x1b[31m on Earth"
    t = highlighted(response, [6, 15], "reverse")   # "sea level"
    assert "\x1b" not in t.plain and "[b]" in t.plain
    marked = [t.plain[s.start:s.end] for s in t.spans if s.style == "reverse"]
    assert marked == ["sea level"]
