"""Every theme the app offers draws the screens that colour text from the theme. The ANSI
themes crashed the app: their colours (`ansi_green`) are not Rich's names (MissingStyle on the
scoreboard under ansi-light), and Textual's dimming needs RGB values they do not have; they are
withdrawn from the palette, and a theme colour goes into a Rich style as RGB."""

from __future__ import annotations

from rich.style import Style
from textual.color import Color

from tests.tui.conftest import BRITTLE, settle
from tuieval.tui.fmt import rich_colour


def test_every_colour_form_textual_accepts_becomes_one_rich_parses():
    for value in ("ansi_green", "ansi_bright_red", "ansi_default", "#4EBF71", "rgb(1, 2, 3)", "red"):
        Style.parse("bold " + rich_colour(value, "green"))  # raises on what Rich cannot read
    # as RGB (Textual dims text by blending RGB values): ANSI green is (0, 128, 0)
    assert rich_colour("ansi_green", "red").upper() == "#008000"
    assert rich_colour("#4EBF71", "red").upper() == "#4EBF71"
    assert rich_colour("not a colour", "#FF0000").upper() == "#FF0000"
    assert rich_colour(None, "#FF0000").upper() == "#FF0000"
    assert rich_colour("ansi_default", "#00FF00").upper() == "#00FF00"  # no RGB of its own


async def test_every_offered_theme_has_rgb_colours_and_the_screens_draw_under_them(make, demo_db):
    app = make(demo_db)
    async with app.run_test(size=(100, 32)) as pilot:
        themes = app.available_themes
        assert "textual-dark" in themes and "textual-light" in themes and len(themes) > 10
        assert "ansi-light" not in themes and "ansi-dark" not in themes  # no RGB: withdrawn
        for name, theme in themes.items():  # every colour the screens put into Rich styles
            variables = theme.to_color_system().generate()
            for key in ("text-success", "text-error", "text-warning", "text-accent"):
                assert Color.parse(variables[key]).ansi is None, (name, key, variables[key])
        # drawn under a dark, a light and a third-party theme (a theme switch re-parses the CSS,
        # so not all of them): the suites' case preview, then the scoreboard's gates and flags
        drawn = ("textual-light", "gruvbox", "solarized-light")
        await pilot.press("escape")
        for theme in drawn:
            app.theme = theme
            await settle(app, pilot)
        app.open_run(BRITTLE)
        await settle(app, pilot)
        await pilot.press("down")
        for theme in drawn:
            app.theme = theme
            await settle(app, pilot)
            assert app.screen.__class__.__name__ == "ScoreboardScreen", theme
        assert app.return_code is None  # still running: nothing crashed it
