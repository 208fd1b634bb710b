"""Keeping Textual's CSS work out of a screen's first visit.

Two costs of Textual 8 showed in every first visit (benchmarks/README.md, "First visits"):

* `App.switch_mode` re-parses and re-applies the whole stylesheet (`refresh_css`, 50–80 ms on the
  shared machine) whenever the target mode's top screen was never marked as styled with the
  current CSS. Textual marks only the screens of the current mode, and only when they are already
  mounted, so the Live and Runs screens composed behind the first one at start-up, and any screen
  pushed on a mode, paid it on the first switch to them (and again on every `3` that came back to a
  scoreboard left open on Runs). A screen mounted after the last refresh was styled with the
  current CSS when its widgets were registered: `adopt` marks it so.
* A re-parse (at start-up, on a theme change) empties the stylesheet's per-source parse cache; the
  next widget class with its own DEFAULT_CSS (the charts of the scoreboard and of compare) then
  made Textual parse every source again, ~70 ms. `warm` fills that cache when nothing else runs.

Both use Textual internals (the screens' `_css_update_count`, the stacks of the modes): Textual is
pinned, and tests/tui/test_first_visits.py checks the behaviour these rely on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from textual.app import App
    from textual.screen import Screen


def refreshed(app: "App") -> None:
    """After `App.refresh_css`: bring the screens of the other modes up to date as well, and
    remember which CSS generation is now applied everywhere."""
    generation = app._css_update_count
    stylesheet = app.stylesheet
    for stack in app._screen_stacks.values():
        for screen in stack:
            if screen.is_mounted and screen._css_update_count != generation:
                stylesheet.update(screen, animate=False)
                screen._css_update_count = generation
    app._tuieval_css_applied = generation  # type: ignore[attr-defined]


def adopt(screen: "Screen") -> None:
    """Mark a screen that has just mounted as styled with the current CSS, unless a refresh is
    pending (a theme change not yet applied), in which case `refreshed` will see to it."""
    app = screen.app
    if getattr(app, "_tuieval_css_applied", None) == app._css_update_count:
        screen._css_update_count = app._css_update_count


def warm(app: "App") -> None:
    """Parse the stylesheet now, so its cache holds every source (see the module docstring)."""
    app.stylesheet.parse()
