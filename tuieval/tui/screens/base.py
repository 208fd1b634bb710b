"""The frame every full screen shares: the nav bar on top, the footer with its keys below."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen

from tuieval.tui import stylesheet
from tuieval.tui.widgets.key_footer import KeyFooter
from tuieval.tui.widgets.nav import NavBar

if TYPE_CHECKING:
    from tuieval.tui.app import TuievalApp


class AppScreen(Screen):
    """A full screen of the app; subclasses yield their body from `compose_body`."""

    CRUMB = ""

    @property
    def tapp(self) -> "TuievalApp":
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield NavBar(self.crumb())
        yield from self.compose_body()
        yield KeyFooter()

    def crumb(self) -> str:
        return self.CRUMB

    def compose_body(self) -> ComposeResult:
        yield from ()

    def on_screen_resume(self) -> None:
        self.query_one(NavBar).redraw()

    def on_mount(self) -> None:
        # Textual calls this as well as a subclass's own on_mount
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.on_theme_change())
        # styled with the current CSS as it mounted: a later switch to its mode need not re-parse
        stylesheet.adopt(self)

    def on_theme_change(self) -> None:
        """Repaint what was drawn in the previous theme's colours (Rich styles are baked in)."""
