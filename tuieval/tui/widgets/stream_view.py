"""The focused sample's text as it streams in, anchored to the bottom until the user scrolls.

Only this widget ever receives streamed text, and only for the one sample in focus; the
live screen copies the new characters in on its own refresh tick, so a burst of tokens
costs one repaint per tick rather than one per token.
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuieval.tui.sanitize import sanitize


class StreamView(VerticalScroll):
    """A scrollable text pane that follows its end (Widget.anchor) while new text arrives."""

    DEFAULT_CSS = """
    StreamView { height: 1fr; }
    StreamView > #stream-prompt { color: $text-muted; margin-bottom: 1; }
    StreamView > #stream-body { width: 1fr; }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._source: object = None
        self._shown = 0
        self._text = ""
        self._suffix: str | None = None
        self.can_focus = True

    def compose(self):
        yield Static(id="stream-prompt")
        yield Static(id="stream-body")

    def on_mount(self) -> None:
        self.anchor()

    @property
    def source(self) -> object:
        return self._source

    def show(self, source: object, prompt: str, text: str, suffix: Text | None = None) -> None:
        """Show a new sample (or the same one with more text / a final status)."""
        if source != self._source:
            self._source = source
            self._text = ""
            self._shown = 0
            self.query_one("#stream-prompt", Static).update(
                Text(sanitize(prompt, limit=2000)) if prompt else Text(""))  # muted by the CSS
            self.anchor()
        suffix_key = suffix.plain if suffix is not None else None
        if len(text) != self._shown or suffix_key != self._suffix:
            self._shown = len(text)
            self._text = sanitize(text)
            self._suffix = suffix_key
            body = Text(self._text)
            if suffix is not None:
                body.append("\n")
                body.append_text(suffix)
            self.query_one("#stream-body", Static).update(body)

    def clear(self, message: str = "") -> None:
        self._source = None
        self._shown = 0
        self.query_one("#stream-prompt", Static).update(Text(""))
        self.query_one("#stream-body", Static).update(Text(message, style="dim"))
