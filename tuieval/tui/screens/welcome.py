"""First launch on an empty database: the motivating demo, one key away."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

PITCH = (
    "Two simulated models answer the same extraction suite.\n"
    "Their overall accuracy is about the same. Their tails are not:\n"
    "one fails on long documents and non-English names.\n\n"
    "Press d to run both side by side (demo/steady vs demo/brittle, simulated: "
    "no key, no network), or Esc to browse the suites."
)


class WelcomeScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("d", "demo", "Run the demo"),
        Binding("escape", "close", "Browse suites"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="welcome"):
            yield Static(Text("Same mean, different tails", style="bold"), id="welcome-title")
            yield Static(PITCH, id="welcome-text", markup=False)
            with Horizontal(id="welcome-buttons"):
                yield Button("Run the demo (d)", id="demo", variant="primary", compact=True)
                yield Button("Browse suites (Esc)", id="close", compact=True)

    def on_mount(self) -> None:
        self.query_one("#welcome").border_title = "Welcome to tuieval"
        self.query_one("#demo", Button).focus()

    def action_demo(self) -> None:
        self.dismiss(None)
        self.app.call_later(self.app.action_demo)

    def action_close(self) -> None:
        self.dismiss(None)

    @on(Button.Pressed, "#demo")
    def _demo(self) -> None:
        self.action_demo()

    @on(Button.Pressed, "#close")
    def _close(self) -> None:
        self.action_close()
