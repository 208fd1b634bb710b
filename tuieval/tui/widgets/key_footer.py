"""The footer: the keys the focused screen answers to, in one widget.

Textual's Footer mounts a widget per key and recomposes them whenever the bindings change (every
screen switch and focus change), which cost 0.3–0.6 s of each first visit on a busy machine
(benchmarks/README.md). This draws the same hints as one line of text and redraws only when
the screen's bindings change; a click on a key presses it.
"""

from __future__ import annotations

import re

from textual.content import Content
from textual.widgets import Static


SAFE_KEY = re.compile(r"[a-z0-9_+]+")


class KeyFooter(Static):
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom; height: 1; padding: 0 1;
        background: $footer-background; color: $footer-description-foreground;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.redraw())
        self.redraw()

    def redraw(self) -> None:
        if not self.is_attached:
            return
        app = self.app
        parts: list[Content] = []
        seen: set[tuple[str, str]] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            if not binding.show or not active.enabled:
                continue
            ident = (binding.action, binding.description)
            if ident in seen:
                continue
            seen.add(ident)
            hint = "[b $footer-key-foreground]$shown[/] $desc"
            if SAFE_KEY.fullmatch(key):  # key names are identifiers; anything else gets no click
                hint = f"[@click=app.simulate_key('{key}')]{hint}[/]"
            parts.append(Content.from_markup(hint, shown=app.get_key_display(binding),
                                             desc=binding.description or ""))
        parts.append(Content.from_markup("[b $footer-key-foreground]^p[/] palette"))
        self.update(Content("  ").join(parts))
