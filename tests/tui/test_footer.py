"""The footer at 80 columns: every screen's keys fit on its line, the least important giving way
first, and the ones a user cannot do without (the Enter action, Back, Help, Quit) always there.
At 120 columns nothing gives way."""

from __future__ import annotations

from textual.content import Content

from tests.tui.conftest import BRITTLE, ROBUST, settle
from tuieval.tui.widgets.key_footer import PALETTE, KeyFooter, fit


def _footer_line(app) -> str:
    """The bottom row of the screen as the terminal would show it."""
    return app.screen._compositor.render_strips()[-1].text.strip()


def _footer(app) -> KeyFooter:
    return app.screen.query_one(KeyFooter)


def _check_fits(app, name: str, seen: dict[str, str]) -> None:
    line = _footer_line(app)
    seen[name] = line
    footer = _footer(app)
    # the line is not cut (Textual's ellipsis), and what is drawn fits the 78 cells inside the padding
    assert "…" not in line, f"{name}: footer cut: {line!r}"
    assert footer.render().cell_length <= footer.content_size.width == 78, f"{name}: {line!r}"
    assert "? Help" in line and "q Quit" in line, f"{name}: {line!r}"


def _hint(text: str) -> Content:
    return Content(text)


def test_fit_drops_the_named_keys_first_then_from_the_end_and_keeps_the_essential_ones():
    parts = [(n, _hint(t)) for n, t in [("open", "⏎ Open"), ("a", "a Alpha"), ("b", "b Beta"), ("c", "c Gamma"),
                                         ("help", "? Help"), ("quit", "q Quit"), (PALETTE, "^p palette")]]
    essential = {"open", "help", "quit"}
    # cells: 6 + 7 + 6 + 7 + 6 + 6 + 10 = 48, and 6 separators of 2 = 60 in all
    assert fit(parts, 60, [PALETTE], essential) == [n for n, _ in parts]
    # 59: the palette goes first (60 - 10 - 2 = 48)
    assert fit(parts, 59, [PALETTE], essential) == ["open", "a", "b", "c", "help", "quit"]
    # 47: then the named one (b: 48 - 6 - 2 = 40)
    assert fit(parts, 47, [PALETTE, "b"], essential) == ["open", "a", "c", "help", "quit"]
    # 39: then from the end of the others (c: 40 - 7 - 2 = 31)
    assert fit(parts, 39, [PALETTE, "b"], essential) == ["open", "a", "help", "quit"]
    # far too narrow: only the essential ones are left (the line is then cut, as before)
    assert fit(parts, 5, [PALETTE, "b"], essential) == ["open", "help", "quit"]


async def test_at_80x24_every_screen_of_a_users_first_hour_shows_its_footer_whole(make, demo_db):
    app = make(demo_db, show_welcome=False)
    seen: dict[str, str] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        _check_fits(app, "suites", seen)
        for name, keys in [("live", ["2"]), ("runs", ["3"]), ("scoreboard", ["enter"]),
                           ("slice cases", ["down", "enter"]), ("inspector", ["enter"]), ("suites again", ["1"]),
                           ("red team", ["4"]), ("runs again", ["3"]), ("compare", ["space", "down", "space", "c"]),
                           ("trend", ["escape", "t"])]:
            await pilot.press(*keys)
            await settle(app, pilot)
            _check_fits(app, name, seen)
        # the keys of the screen itself stay where there is room: the runs list keeps marking
        # and comparing, the scoreboard its Enter action, Robustness and Back
        app.go_to_mode("runs")
        await settle(app, pilot)
        line = _footer_line(app)
        assert "space Mark" in line and "c Compare" in line and "⏎ Open" in line
        app.open_run(BRITTLE)
        await settle(app, pilot)
        line = _footer_line(app)
        assert "⏎ Cases" in line and "r Robustness" in line and "esc Back" in line
        # the scoreboard had more keys than 78 cells: one gave way (the palette hint, the first to go)
        assert PALETTE not in _footer(app).shown and "^p palette" not in line
    assert seen["scoreboard"].startswith("⏎ Cases")


async def test_at_80x24_the_robustness_screens_show_their_footers_whole(make, robust_db):
    app = make(robust_db, show_welcome=False)
    seen: dict[str, str] = {}
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        app.open_run(ROBUST)
        await settle(app, pilot)
        _check_fits(app, "scoreboard", seen)
        for name, keys in [("robustness", ["r"]), ("pairs", ["enter"]), ("extractors", ["escape", "x"])]:
            await pilot.press(*keys)
            await settle(app, pilot)
            assert type(app.screen).__name__ != "ScoreboardScreen", name
            _check_fits(app, name, seen)
            assert "esc Back" in seen[name]


async def test_at_120_columns_no_key_gives_way(make, demo_db):
    app = make(demo_db, show_welcome=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        line = _footer_line(app)
        for hint in ("⏎ Cases", "o Sort", "e Export", "t Templates", "r Robustness", "esc Back", "? Help", "q Quit",
                     "^p palette"):
            assert hint in line, (hint, line)
