"""Latency drawn with text characters: a histogram and a deadline curve.

Both are column charts built from eighth blocks (▁▂▃▄▅▆▇█) so they render in any terminal
and any theme. The histogram's x axis is logarithmic (latency is heavy-tailed: a linear
axis squeezes the body into one column); the deadline curve plots accuracy within an SLO
against the SLO (docs/statistics.md §6.3), so the question "what does a 500 ms deadline cost?" is read
off the chart.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text
from textual.widget import Widget

from tuieval.tui import fmt

BLOCKS = " ▁▂▃▄▅▆▇█"


def sorted_known(values: np.ndarray) -> np.ndarray:
    """The values without NaN, ascending. The scoreboard's arrays are kept in latency order
    (tuieval.report.stored.by_latency), so a slice's latencies arrive sorted and are only
    checked (one comparison per value), not sorted again on the event loop: at a million
    samples a sort is a tenth of a second per chart."""
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size > 1 and not bool((x[1:] >= x[:-1]).all()):
        x = np.sort(x)
    return x


def log_histogram(ascending: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin of ascending values, each clipped into [edges[0], edges[-1]] first: what
    `np.histogram(np.clip(x, lo, hi), bins=edges)` counts, from a binary search per edge
    instead of a sort (bins [e_i, e_i+1), the last one closed)."""
    inner = np.searchsorted(ascending, edges[1:-1], side="left")
    cum = np.concatenate(([0], inner, [ascending.size]))  # below lo counts in the first bin, above hi in the last
    return np.diff(cum)


def column_chart(values: Sequence[float], height: int, vmax: float | None = None) -> list[str]:
    """Rows (top first) of a column chart of `values`, one column each, `height` rows tall."""
    vmax = vmax if vmax is not None else (max(values) if len(values) else 0.0)
    rows = [[" "] * len(values) for _ in range(height)]
    if vmax <= 0:
        return ["".join(r) for r in rows]
    for x, v in enumerate(values):
        eighths = int(round(max(0.0, v) / vmax * height * 8))
        if v > 0 and eighths == 0:
            eighths = 1  # a non-empty bin is never invisible
        for level in range(height):
            fill = min(8, max(0, eighths - level * 8))
            rows[height - 1 - level][x] = BLOCKS[fill]
    return ["".join(r) for r in rows]


def _marker_line(width: int, marks: list[tuple[int, str]]) -> str:
    line = [" "] * width
    for x, ch in marks:
        if 0 <= x < width:
            line[x] = ch
    return "".join(line)


class LatencyHistogram:
    """A renderable: latency histogram on a log axis, with p50/p99 and SLO marks."""

    def __init__(self, latencies: np.ndarray, *, slo_ms: float | None = None, title: str = "",
                 palette: fmt.Palette | None = None) -> None:
        self.lat = sorted_known(latencies)
        self.slo_ms = slo_ms
        self.title = title
        self.palette = palette
        self.height: int | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(10, options.max_width)
        height = max(2, (self.height or options.height or 6) - 2)
        lat = self.lat
        n = lat.size
        if n == 0:
            yield Text("no latencies yet", style="dim")
            return
        lo, hi = float(lat[0]), float(lat[-1])
        lo = max(lo, 1.0)
        hi = max(hi, lo * 1.01)
        edges = np.geomspace(lo, hi, width + 1)
        counts = log_histogram(lat, edges)
        from tuieval.analysis.latency import nearest_rank_index

        p50, p99 = float(lat[nearest_rank_index(0.5, n)]), float(lat[nearest_rank_index(0.99, n)])

        def col(v: float | None) -> int:
            if v is None or v <= 0:
                return -1
            return int(min(width - 1, max(0, math.log(max(v, lo) / lo) / math.log(hi / lo) * width)))

        rows = column_chart(counts.tolist(), height)
        slo_x = col(self.slo_ms) if self.slo_ms and lo <= self.slo_ms <= hi else -1
        pal = self.palette
        for r in rows:
            t = Text(r)
            if slo_x >= 0 and pal:
                t.stylize(pal.warn, slo_x, slo_x + 1)
            yield t
        marks = [(col(p50), "▲"), (col(p99), "▲")]
        if self.slo_ms and slo_x >= 0:
            marks.append((slo_x, "┃"))
        yield Text(_marker_line(width, marks), style=pal.accent if pal else "")
        p99_note = "≤" if n < 100 else ""
        legend = f"▲p50 {fmt.ms_unit(p50)} ▲p99 {p99_note}{fmt.ms_unit(p99)}"
        if self.slo_ms:
            legend += f" ┃SLO {fmt.ms_unit(self.slo_ms)}"
        legend += f" · n={n} · {fmt.ms_unit(lo)}–{fmt.ms_unit(hi)} log"
        yield Text(legend, style="dim", no_wrap=True, overflow="ellipsis")


class DeadlineCurve:
    """A renderable: accuracy within an SLO as a function of the SLO (log axis)."""

    def __init__(self, latencies: np.ndarray, correct: np.ndarray, *, slo_ms: float | None = None,
                 palette: fmt.Palette | None = None) -> None:
        lat = np.asarray(latencies, dtype=float)
        correct = np.asarray(correct, dtype=bool)
        # what every drawing needs, once: the chart is drawn again at each refresh and resize,
        # and at a million samples each pass over the samples costs tens of milliseconds
        self.n = correct.size
        self.ok = sorted_known(lat[correct])
        known = lat[~np.isnan(lat)]
        self.range = (float(known.min()), float(known.max())) if known.size else None
        self.slo_ms = slo_ms
        self.palette = palette
        self.height: int | None = None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(10, options.max_width)
        height = max(2, (self.height or options.height or 6) - 2)
        n, ok = self.n, self.ok
        if n == 0 or ok.size == 0:
            yield Text("no correct answers yet", style="dim")
            return
        lo, hi = max(1.0, self.range[0]), self.range[1]
        hi = max(hi, lo * 1.01)
        grid = np.geomspace(lo, hi, width)
        acc = np.searchsorted(ok, grid, side="right") / n
        rows = column_chart(acc.tolist(), height, vmax=1.0)
        pal = self.palette
        slo_x = -1
        if self.slo_ms and lo <= self.slo_ms <= hi:
            slo_x = int(min(width - 1, math.log(self.slo_ms / lo) / math.log(hi / lo) * (width - 1)))
        for r in rows:
            t = Text(r, style=pal.good if pal else "")
            if slo_x >= 0 and pal:
                t.stylize(pal.warn, slo_x, slo_x + 1)
            yield t
        yield Text(_marker_line(width, [(slo_x, "┃")] if slo_x >= 0 else []), style=pal.warn if pal else "")
        final = ok.size / n
        legend = f"right and on time vs deadline · {fmt.ms_unit(lo)}–{fmt.ms_unit(hi)} log · max {fmt.pct(final)}"
        if self.slo_ms:
            at = float(np.searchsorted(ok, self.slo_ms, side="right") / n)
            legend = f"┃{fmt.ms_unit(self.slo_ms)}: {fmt.pct(at)} · " + legend
        yield Text(legend, style="dim", no_wrap=True, overflow="ellipsis")


class Chart(Widget):
    """Shows one of the chart renderables, drawn to the widget's current height."""

    DEFAULT_CSS = "Chart { height: 1fr; }"

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.chart: Any = Text("")

    def show(self, chart: Any) -> None:
        self.chart = chart
        self.refresh()

    def render(self) -> Any:
        if hasattr(self.chart, "height"):
            self.chart.height = self.content_size.height
        return self.chart
