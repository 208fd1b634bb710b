"""The scoreboard's template pivot: its slices × the run's templates.

Each cell is the slice's accuracy under one template with its interval (the case as the unit,
tuieval.analysis.robustness.pivot) and, when it differs from the row's, its own n; the row's
n is the number of the slice's cases. The cells are computed in a thread the first time the
pivot is shown (`pivot_cells`), from the same slices as the scoreboard's rows.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tuieval.analysis.robustness.pivot import TemplateScores
from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.sanitize import sanitize
from tuieval.tui.slices import slice_key, slice_label

CELL = 11


def pivot_cells(data: RunData, scores: TemplateScores, slices: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """slice key → one cell per template, for the scoreboard's `slices` (overall: every case)."""
    out = {}
    for sl in slices:
        members = None if sl.get("key") == "overall" else data.slice_case_ids(sl)
        out[slice_key(sl)] = scores.cells(members)
    return out


def pivot_columns(templates: list[str]) -> list[tuple[str, str, int]]:
    return [("slice", "slice", 20), ("n", "n", 4)] + [
        (sanitize(t, single_line=True, limit=CELL), f"t{i}", CELL) for i, t in enumerate(templates)]


def pivot_cell(cell: dict[str, Any], n_row: Any, palette: fmt.Palette) -> Text:
    """`82% 70–89`, then `n=12` when the cell has fewer cases than its row."""
    acc = fmt.num(cell.get("accuracy"))
    t = Text(justify="right", no_wrap=True, overflow="ellipsis")
    t.append(fmt.pct(acc), style=fmt.acc_style(acc, palette))
    t.append(f" {fmt.ci(cell.get('accuracy_ci'))}", style="dim")
    if cell.get("n_cases") != n_row:
        t.append(f" n={cell.get('n_cases')}", style="dim")
    return t


def pivot_row(sl: dict[str, Any], cells: list[dict[str, Any]], palette: fmt.Palette) -> list[Any]:
    n = sl.get("n_cases")
    return [slice_label(sl, palette), fmt.right(str(n if n is not None else fmt.DASH))] + [
        pivot_cell(c, n, palette) for c in cells]
