"""A DataTable kept in sync with a list of keyed rows by diffing, not by clear-and-refill.

`sync(rows)` adds new rows, removes gone ones, calls `update_cell` only on cells whose
content changed, and reorders only when the order changed, keeping the cursor on the
same row (Dolphie's pattern). Columns have fixed widths so an update never re-measures.
"""

from __future__ import annotations

from typing import Any, Iterable

from rich.text import Text
from textual.binding import Binding
from textual.widgets import DataTable


def _sig(cell: Any) -> Any:
    if isinstance(cell, Text):
        return (cell.plain, str(cell.style), tuple((s.start, s.end, str(s.style)) for s in cell.spans))
    return cell


class KeyedTable(DataTable):
    """A row-cursor DataTable whose rows are identified by string keys."""

    def __init__(self, *, id: str | None = None, classes: str | None = None, zebra_stripes: bool = False,
                 enter_label: str | None = None) -> None:
        super().__init__(id=id, classes=classes, cursor_type="row", zebra_stripes=zebra_stripes)
        if enter_label:
            # DataTable's own Enter binding is hidden; name what Enter does here, in the footer
            self._bindings.key_to_bindings["enter"] = [Binding("enter", "select_cursor", enter_label, show=True)]
        self._sigs: dict[str, list[Any]] = {}
        self._order: list[str] = []
        self._col_keys: list[str] = []

    def set_columns(self, columns: Iterable[tuple[Any, str, int | None]]) -> None:
        """(label, key, width) per column; clears the table."""
        self.clear(columns=True)
        self._sigs.clear()
        self._order = []
        self._col_keys = []
        for label, key, width in columns:
            self.add_column(label, key=key, width=width)
            self._col_keys.append(key)

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
        """Make the table show `rows` (key, cells) in this order, touching only what changed."""
        wanted = [k for k, _ in rows]
        keep_cursor = self.cursor_key()
        with self.app.batch_update():
            gone = set(self._sigs) - set(wanted)
            for key in gone:
                self.remove_row(key)
                del self._sigs[key]
            appended: list[str] = []
            for key, cells in rows:
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

    def reset(self) -> None:
        self.clear()
        self._sigs.clear()
        self._order = []
