"""A DataTable kept in sync with a list of keyed rows by diffing, not by clear-and-refill.

`sync(rows)` adds new rows, removes gone ones, calls `update_cell` only on cells whose
content changed, and reorders only when the order changed, keeping the cursor on the
same row (Dolphie's pattern). Columns have fixed widths so an update never re-measures.

The columns fit the table's width: when they do not all fit, the ones named in `drop` give
way first (in that order); when there is room to spare, the `flex` column (a name column)
grows up to its longest cell so names are not cut short while free columns remain. The
layout is recomputed only when the width or the longest name changes.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


def _sig(cell: Any) -> Any:
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple((s.start, s.end, str(s.style)) for s in cell.spans))
    return cell


def _cell_len(cell: Any) -> int:
    return cell.cell_len if isinstance(cell, Text) else len(str(cell))


def fit_columns(widths: Sequence[tuple[str, int]], available: int, *, padding: int = 1,
                flex: dict[str, int] | None = None, drop: Sequence[str] = ()) -> dict[str, int]:
    """The columns to show and their widths within `available` cells (each column costs
    its width plus `padding` on each side). Columns in `drop` go first, in order; the `flex`
    columns (key → longest cell) then take what is left, in order, each up to its longest cell."""
    shown = dict(widths)
    total = lambda: sum(w + 2 * padding for w in shown.values())  # noqa: E731
    for key in drop:
        if total() <= available:
            break
        shown.pop(key, None)
    for key, longest in (flex or {}).items():
        if key in shown and longest > shown[key]:
            shown[key] += max(0, min(longest - shown[key], available - total()))
    return shown


class KeyedTable(DataTable):
    """A row-cursor DataTable whose rows are identified by string keys."""

    def __init__(self, *, id: str | None = None, classes: str | None = None, zebra_stripes: bool = False,
                 enter_label: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=zebra_stripes)
        # the highlighted row takes the cursor's colours, so coloured figures stay readable on it
        self.cursor_foreground_priority = "css"
        if enter_label:
            # DataTable's own Enter binding is hidden; name what Enter does here, in the footer
            self._bindings.key_to_bindings["enter"] = [Binding("enter", "select_cursor", enter_label, show=True)]
        self._sigs: dict[str, list[Any]] = {}
        self._order: list[str] = []
        self._col_keys: list[str] = []
        self._spec: list[tuple[Any, str, int | None]] = []
        self._flex: tuple[str, ...] = ()
        self._drop: tuple[str, ...] = ()
        self._layout: dict[str, int] = {}
        self._rows: list[tuple[str, list[Any]]] = []
        self._flex_max: dict[str, int] = {}
        self._pending_cursor: str | None = None

    def set_columns(self, columns: Iterable[tuple[Any, str, int | None]], *, flex: str | Sequence[str] = (),
                    drop: Sequence[str] = ()) -> None:
        """(label, key, width) per column; clears the table. `flex` grow (in order), `drop` give way (in order)."""
        self._spec = list(columns)
        self._flex = (flex,) if isinstance(flex, str) else tuple(flex)
        self._drop = tuple(drop)
        self._rows = []
        self._flex_max = {}
        self._apply_layout(self._compute_layout())

    @property
    def shown_columns(self) -> list[str]:
        """The keys of the columns on screen, left to right."""
        return list(self._col_keys)

    def _available(self) -> int:
        # the vertical scrollbar's column is kept free whether it shows yet or not
        width = self.content_region.width - 1 if self.is_mounted else 0
        return width if width > 0 else 10_000  # not laid out yet: everything, until the first resize

    def _compute_layout(self) -> dict[str, int]:
        widths = [(key, width or len(str(label))) for label, key, width in self._spec]
        return fit_columns(widths, self._available(), padding=self.cell_padding, flex=self._flex_max,
                           drop=self._drop)

    def _apply_layout(self, layout: dict[str, int]) -> None:
        self._layout = layout
        self.clear(columns=True)
        self._sigs.clear()
        self._order = []
        self._col_keys = []
        for label, key, _ in self._spec:
            if key in layout:
                self.add_column(label, key=key, width=layout[key])
                self._col_keys.append(key)

    def _relayout(self) -> None:
        if not self._spec:
            return
        layout = self._compute_layout()
        if layout != self._layout:
            rows, cursor = self._rows, self.cursor_key()
            self._apply_layout(layout)
            if rows:
                self.sync(rows)
                if cursor in self._order:
                    self.move_cursor(row=self._order.index(cursor), animate=False)

    def on_resize(self) -> None:
        self._relayout()

    @property
    def keys_in_order(self) -> list[str]:
        return list(self._order)

    def cursor_key(self) -> str | None:
        if not self._order or not (0 <= self.cursor_row < self.row_count):
            return None
        try:
            return self.coordinate_to_cell_key((self.cursor_row, 0)).row_key.value
        except Exception:
            return None

    def sync(self, rows: list[tuple[str, list[Any]]]) -> None:
        """Make the table show `rows` (key, one cell per column given to set_columns), touching only what changed."""
        self._rows = rows
        if self._flex:
            position = {key: n for n, (_, key, _) in enumerate(self._spec)}
            longest = {key: max((_cell_len(cells[position[key]]) for _, cells in rows), default=0)
                       for key in self._flex if key in position}
            if longest != self._flex_max:
                self._flex_max = longest
                layout = self._compute_layout()
                if layout != self._layout:
                    cursor = self.cursor_key()
                    self._apply_layout(layout)
                    self._pending_cursor = cursor
        index = [n for n, (_, key, _) in enumerate(self._spec) if key in self._layout] if self._spec else None
        wanted = [k for k, _ in rows]
        keep_cursor = self.cursor_key()
        with self.app.batch_update():
            gone = set(self._sigs) - set(wanted)
            for key in gone:
                self.remove_row(key)
                del self._sigs[key]
            appended: list[str] = []
            for key, all_cells in rows:
                cells = [all_cells[n] for n in index] if index is not None else all_cells
                sigs = [_sig(c) for c in cells]
                old = self._sigs.get(key)
                if old is None:
                    self.add_row(*cells, key=key)
                    appended.append(key)
                else:
                    for col, cell, new, prev in zip(self._col_keys, cells, sigs, old):
                        if new != prev:
                            self.update_cell(key, col, cell)
                self._sigs[key] = sigs
            current = [k for k in self._order if k not in gone] + appended
            if current != wanted:
                rank = {k: i for i, k in enumerate(wanted)}
                first = self._col_keys[0]
                by_cell = {id(self.get_cell(k, first)): rank[k] for k in wanted}
                self.sort(first, key=lambda cell: by_cell.get(id(cell), len(rank)))
                if keep_cursor in rank:
                    self.move_cursor(row=rank[keep_cursor], animate=False)
            self._order = wanted
            pending, self._pending_cursor = self._pending_cursor, None
            if pending is not None and pending in wanted:
                self.move_cursor(row=wanted.index(pending), animate=False)

    def reset(self) -> None:
        self.clear()
        self._sigs.clear()
        self._order = []
        self._rows = []
