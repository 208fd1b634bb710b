"""Both themes are readable: every text on every screen at least 4.5:1 against its background
(WCAG AA), measured from the colours Textual resolves for the rendered segments."""

from __future__ import annotations

import pytest

from tests.tui.conftest import BRITTLE, ROBUST, STEADY, settle
from tests.tui.contrast import WCAG_AA, contrast, low_contrast

SIZE = (100, 32)


def test_contrast_formula_matches_known_pairs():
    # independently known WCAG ratios: black on white 21:1, #777 on white 4.48:1, same colour 1:1
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)
    assert contrast((0x77, 0x77, 0x77), (255, 255, 255)) == pytest.approx(4.48, abs=0.01)
    assert contrast((10, 20, 30), (10, 20, 30)) == pytest.approx(1.0)


async def _suites(app, pilot):
    await pilot.press("escape")  # past the welcome, if any
    await settle(app, pilot)
    await pilot.press("tab", "down", "down")
    await settle(app, pilot)


async def _suites_filter_placeholder(app, pilot):
    await pilot.press("escape")
    await settle(app, pilot)
    app.screen.query_one("#case-table").focus()
    await settle(app, pilot)


async def _welcome(app, pilot):
    await settle(app, pilot)


async def _run_form(app, pilot):
    await pilot.press("escape")
    await settle(app, pilot)
    await pilot.press("n")
    await settle(app, pilot)


async def _run_form_error(app, pilot):
    await _run_form(app, pilot)
    app.screen.query_one("#samples").value = "x"
    await pilot.press("ctrl+s")
    await settle(app, pilot)


async def _live(app, pilot):
    from tuieval.suite import load_suite
    from tuieval.tui.screens.run_form import RunRequest

    await pilot.press("escape")
    run_id = app.start_run(load_suite(app.suite_paths[0]), RunRequest("demo/brittle", concurrency=4, limit=8))
    app.watch_live(run_id)
    await settle(app, pilot)
    app.screen.refresh_tables()
    app.screen.refresh_stream()
    await pilot.pause()


async def _runs(app, pilot):
    await pilot.press("escape", "3")
    await settle(app, pilot)
    await pilot.press("space", "down")  # a marked row, and the cursor on the other
    await settle(app, pilot)


async def _scoreboard(app, pilot):
    await pilot.press("escape")
    app.open_run(BRITTLE)
    await settle(app, pilot)
    await pilot.press("down")  # the cursor on a flagged row
    await settle(app, pilot)


async def _slice_cases(app, pilot):
    await _scoreboard(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)


async def _inspector(app, pilot):
    await _slice_cases(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)
    await pilot.press("down")
    await settle(app, pilot)


async def _compare(app, pilot):
    from tuieval.tui.screens.compare import CompareScreen

    await pilot.press("escape")
    app.push_screen(CompareScreen(STEADY, BRITTLE))
    await settle(app, pilot)


async def _search(app, pilot):
    from tuieval.tui.screens.search import SearchScreen

    await pilot.press("escape")
    app.push_screen(SearchScreen(None))
    await settle(app, pilot)
    app.screen.query_one("#search-input").value = "the"
    await pilot.press("enter")  # results with highlighted matches
    await settle(app, pilot)


async def _help(app, pilot):
    await pilot.press("escape", "question_mark")
    await settle(app, pilot)


async def _confirm(app, pilot):
    from tuieval.tui.screens.confirm import ConfirmScreen

    await pilot.press("escape")
    app.push_screen(ConfirmScreen("Quit tuieval?", "1 run is still going.", yes="Quit", no="Stay"))
    await settle(app, pilot)


async def _toast(app, pilot):
    await _runs(app, pilot)
    app.notify("a message", title="note")
    app.notify("an error", severity="error")
    app.notify("a warning", severity="warning")
    await settle(app, pilot)


async def _robustness(app, pilot):
    await pilot.press("escape")
    app.open_run(ROBUST)
    await settle(app, pilot)
    await pilot.press("r")
    await settle(app, pilot)


async def _pairs(app, pilot):
    await _robustness(app, pilot)
    await pilot.press("enter")  # distractors:1 on all cases, a broken pair with its changes marked
    await settle(app, pilot)


async def _extractors(app, pilot):
    await _robustness(app, pilot)
    await pilot.press("x")
    await settle(app, pilot)


async def _inspector_extractors(app, pilot):
    await _extractors(app, pilot)
    await pilot.press("enter")
    await settle(app, pilot)


async def _template_pivot(app, pilot):
    await pilot.press("escape")
    app.open_run(ROBUST)
    await settle(app, pilot)
    await pilot.press("t", "down")
    await settle(app, pilot)


#: screens shown on the robustness run (tests.tui.conftest.build_robust_db)
ROBUST_SCREENS = {"robustness": _robustness, "pairs": _pairs, "extractors": _extractors,
                  "inspector-extractors": _inspector_extractors, "template-pivot": _template_pivot}

SCREENS = {
    "welcome": _welcome, "suites": _suites, "suites-filter": _suites_filter_placeholder, "run-form": _run_form,
    "run-form-error": _run_form_error, "live": _live, "runs": _runs, "scoreboard": _scoreboard,
    "slice-cases": _slice_cases, "inspector": _inspector, "compare": _compare, "search": _search, "help": _help, "confirm": _confirm,
    "notifications": _toast, **ROBUST_SCREENS,
}


@pytest.mark.parametrize("theme", ["textual-dark", "textual-light"])
@pytest.mark.parametrize("screen", list(SCREENS))
async def test_every_text_is_readable(make, demo_db, robust_db, tmp_path, screen, theme):
    db = tmp_path / "empty-for-welcome.db" if screen == "welcome" else robust_db if screen in ROBUST_SCREENS else demo_db
    app = make(db)
    async with app.run_test(size=SIZE) as pilot:
        app.theme = theme
        await settle(app, pilot)
        await SCREENS[screen](app, pilot)
        low = low_contrast(app)
        worst = sorted(low, key=lambda x: x.ratio)[:12]
        assert not low, f"{len(low)} text segments below {WCAG_AA}:1 on {screen} ({theme}):\n" + \
            "\n".join(map(str, worst))
