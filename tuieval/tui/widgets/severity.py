"""A perturbation's severity curve drawn with text: accuracy at each severity, with its interval.

One line per point, the original cases' accuracy first as the reference, then the perturbed
accuracy at each severity in increasing order, each as an interval track on a shared 0–100%
axis (`fmt.interval_track`, as the live slices draw theirs) followed by the figure, its interval
and its n; the axis line last, when there is room for it. Read down the lines, the curve is the dots' drift away from the first line. Shown in a
`charts.Chart`.
"""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from tuieval.tui import fmt

LABEL = 9
FIGURES = 20


class SeverityCurve:
    """A renderable: `points` ({severity, accuracy_perturbed, accuracy_perturbed_ci, n_pairs, q_value,
    delta}) against the original accuracy `original` ({accuracy, ci, n})."""

    def __init__(self, name: str, points: Sequence[dict[str, Any]], original: dict[str, Any] | None, *,
                 alpha: float = 0.05, palette: fmt.Palette | None = None) -> None:
        self.name = name
        self.points = sorted(points, key=lambda p: -1.0 if p.get("severity") is None else float(p["severity"]))
        self.original = original
        self.alpha = alpha
        self.palette = palette
        self.height: int | None = None

    def _line(self, label: str, acc: Any, ci: Any, n: Any, width: int, mark: str = "") -> Text:
        pal = self.palette or fmt.Palette("green", "red", "yellow", "cyan")
        track = max(3, width - LABEL - FIGURES - 1)
        lo, hi = (ci or [None, None])[:2] if ci else (None, None)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(label[:LABEL - 1].ljust(LABEL))
        t.append_text(fmt.interval_track(lo, hi, acc, track, pal))
        t.append(f" {fmt.pct(acc):>4} {fmt.ci(ci):>7} n={n}")
        if mark:
            t.append(f" {mark}", style=f"bold {pal.bad}")
        return t

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(LABEL + FIGURES + 8, options.max_width)
        if not self.points:
            yield Text("no severities for this perturbation", style="dim")
            return
        if self.original:
            o = self.original
            yield self._line("original", o.get("accuracy"), o.get("ci"), o.get("n"), width)
        for p in self.points:
            sev = p.get("severity")
            label = "—" if sev is None else f"{float(sev):g}"
            sig = fmt.num(p.get("q_value")) is not None and p["q_value"] <= self.alpha
            drop = (fmt.num(p.get("delta")) or 0) < 0
            yield self._line(label, p.get("accuracy_perturbed"), p.get("accuracy_perturbed_ci"), p.get("n_pairs"),
                             width, ("▼" if drop else "▲") if sig else "")
        if self.height is not None and self.height < len(self.points) + 1 + bool(self.original):
            return  # no room for the axis: the lines above already say their figures
        track = max(3, width - LABEL - FIGURES - 1)
        axis = "0%".ljust(track - 4) + "100%"
        yield Text(" " * LABEL + axis, style="dim", no_wrap=True, overflow="ellipsis")
