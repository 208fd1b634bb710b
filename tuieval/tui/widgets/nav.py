"""The one-line bar at the top of every screen: the three modes (clickable), running runs, the database."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Static

from tuieval.tui.sanitize import sanitize

MODES = (("suites", "1", "Suites"), ("live", "2", "Live"), ("runs", "3", "Runs"))


class NavBar(Static):
    DEFAULT_CSS = """
    NavBar { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, crumb: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.crumb = crumb

    def on_mount(self) -> None:
        self.app.run_changed.subscribe(self, lambda _run_id: self.redraw())
        self.redraw()

    def set_crumb(self, crumb: str) -> None:
        self.crumb = crumb
        self.redraw()

    def redraw(self) -> None:
        app = self.app
        current = getattr(app, "current_mode", "")
        parts = [Content.from_markup("[b]tuieval[/b] ")]
        running = sum(1 for r in getattr(app, "live_runs", {}).values() if not r.finished)
        for mode, key, label in MODES:
            text = f" {key} {label}"
            if mode == "live" and running:
                text += f" ●{running}"
            text += " "
            style = "reverse" if mode == current else ""
            parts.append(Content.from_markup(f"[{style} @click=app.nav('{mode}')]$text[/]" if style
                                             else f"[@click=app.nav('{mode}')]$text[/]", text=text))
        if self.crumb:
            parts.append(Content.from_markup(" › $crumb", crumb=sanitize(self.crumb, single_line=True, limit=60)))
        self.update(Content("").join(parts))
