"""The inspector's side panel: one case's samples as each of the run's extractors read them.

Per sample (template and index), one line per extractor: its verdict (✓/✗) and what it read
(a dash when it found nothing). Samples on which the extractors disagree come first, marked ≠.
The readings come from `robustness_data.load_case_extractions` (stored responses re-read, no
model call); model text is inert.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from tuieval.tui import fmt
from tuieval.tui.robustness_data import ExtractorReading
from tuieval.tui.sanitize import inert, sanitize


def readings_text(readings: list[ExtractorReading], palette: fmt.Palette) -> Text:
    if not readings:
        return Text("no samples", style="dim")
    ordered = sorted(readings, key=lambda r: (not r.disagree, r.template, r.sample_index))
    n_dis = sum(r.disagree for r in readings)
    t = Text()
    t.append(f"{n_dis} of {len(readings)} samples read differently", style=f"bold {palette.warn}" if n_dis else "dim")
    width = max((len(n) for r in readings for n in r.correct), default=6)
    for r in ordered:
        t.append("\n\n")
        t.append("≠ " if r.disagree else "= ", style=f"bold {palette.warn}" if r.disagree else "dim")
        t.append(sanitize(f"{r.template} #{r.sample_index}", single_line=True, limit=40), style="bold")
        if r.error:
            t.append("  error (wrong under every extractor)", style=palette.bad)
        for name, ok in r.correct.items():
            t.append("\n")
            t.append("✓ " if ok else "✗ ", style=f"bold {palette.good if ok else palette.bad}")
            t.append(sanitize(name, single_line=True, limit=30).ljust(width) + " ", style="dim")
            value = r.extracted.get(name)
            if value is None:
                t.append(fmt.DASH, style="dim")
            else:
                t.append_text(inert(value, single_line=True, limit=60))
    return t


class ExtractorPanel(VerticalScroll):
    """A scrolling pane showing `readings_text`."""

    def compose(self) -> ComposeResult:
        yield Static(Text("loading…", style="dim"), id=f"{self.id}-body" if self.id else None)

    def show(self, content: Text) -> None:
        self.query_one(Static).update(content)
