"""The footer: the keys the focused screen answers to, in one widget, fitted to the width.

Textual's Footer mounts a widget per key and recomposes them whenever the bindings change (every
screen switch and focus change), which cost 0.3–0.6 s of each first visit on a busy machine
(benchmarks/README.md). This draws the same hints as one line of text and redraws only when
the screen's bindings or the footer's width change; a click on a key presses it.

When the keys do not fit (an 80-column terminal), the least important give way rather than the
line being cut at its end, which had taken Quit and Help with it: first the palette hint, then
the keys a screen names in `FOOTER_GIVE_WAY` (binding ids, first to go first), then the other
keys of the screen from the last shown to the first. The key on Enter, Back, Help and Quit always
stay; the help screen lists every key.
"""

from __future__ import annotations

import re
from typing import Iterable

from textual.content import Content
from textual.widgets import Static


SAFE_KEY = re.compile(r"[a-z0-9_+]+")
SEPARATOR = "  "
PALETTE = "palette"
#: kept whatever the width: what opens the highlighted row, goes back, explains, and quits
ESSENTIAL_KEYS = frozenset({"enter", "escape"})
ESSENTIAL_ACTIONS = frozenset({"app.help", "help", "app.quit", "quit", "app.pop_screen"})


def fit(parts: list[tuple[str, Content]], width: int, give_way: Iterable[str], essential: set[str]) -> list[str]:
    """The names of the parts that fit in `width` cells, in their order. `parts` are (name,
    hint); hints are joined by SEPARATOR. Parts go in the order of `give_way`, then the other
    parts not in `essential` from the last to the first, until the rest fits."""
    shown = [name for name, _ in parts]
    cells = {name: hint.cell_length for name, hint in parts}

    def total() -> int:
        return sum(cells[n] for n in shown) + len(SEPARATOR) * max(0, len(shown) - 1)

    optional = [n for n in shown if n not in essential]
    order = [n for n in dict.fromkeys(give_way) if n in optional]
    order += [n for n in reversed(optional) if n not in order]
    for name in order:
        if total() <= width:
            break
        shown.remove(name)
    return shown


class KeyFooter(Static):
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom; height: 1; padding: 0 1;
        background: $footer-background; color: $footer-description-foreground;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        #: the names of the hints on screen, left to right (binding ids, else action:key; "palette")
        self.shown: list[str] = []

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, lambda _screen: self.redraw())
        self.redraw()

    def on_resize(self) -> None:
        self.redraw()

    def hints(self) -> tuple[list[tuple[str, Content]], set[str]]:
        """Every hint of the screen's active keys, named, and the names that must stay."""
        app = self.app
        parts: list[tuple[str, Content]] = []
        essential: set[str] = set()
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
            name = binding.id or f"{binding.action}:{key}"
            parts.append((name, Content.from_markup(hint, shown=app.get_key_display(binding),
                                                    desc=binding.description or "")))
            if key in ESSENTIAL_KEYS or binding.action in ESSENTIAL_ACTIONS:
                essential.add(name)
        parts.append((PALETTE, Content.from_markup("[b $footer-key-foreground]^p[/] palette")))
        return parts, essential

    def redraw(self) -> None:
        if not self.is_attached:
            return
        parts, essential = self.hints()
        width = self.content_size.width
        if width > 0:  # laid out: fit the width (before that, everything; on_resize redraws)
            give_way = [PALETTE, *getattr(self.screen, "FOOTER_GIVE_WAY", ())]
            keep = set(fit(parts, width, give_way, essential))
            parts = [(name, hint) for name, hint in parts if name in keep]
        self.shown = [name for name, _ in parts]
        self.update(Content(SEPARATOR).join(hint for _, hint in parts))
