"""Make untrusted text (model output, case data) inert before it reaches the screen.

Two things could go wrong when a string from a model is shown: Rich/Textual markup in it
(`[bold red]`, `[@click=...]`) could be interpreted, and terminal control sequences in it
(`ESC [2J` clears the screen, `ESC ] 52 ; c ; ... BEL` writes the clipboard) could reach the
terminal. `sanitize` (shared with the headless reports, tuieval.textsafe) removes every
control sequence and control character except newline and tab; `inert` wraps the result in a
`rich.text.Text`, which is never parsed as markup. Every widget in tuieval.tui that shows
model or case text goes through one of them.
"""

from __future__ import annotations

from rich.text import Text

from tuieval.textsafe import sanitize

__all__ = ["inert", "sanitize"]


def inert(text: object, style: str = "", *, single_line: bool = False, limit: int | None = None) -> Text:
    """A `Text` that shows `text` literally: markup is not parsed, control sequences removed."""
    return Text(sanitize(text, single_line=single_line, limit=limit), style=style, no_wrap=single_line,
                overflow="ellipsis" if single_line else "fold")
