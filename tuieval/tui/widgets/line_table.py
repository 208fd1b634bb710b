"""A row-cursor table drawn with Textual's Line API, for lists too long to hold as widgets.

A DataTable keeps every row (its cells, their measured widths) in memory, so listing a
million-sample run's 100,000 cases costs seconds before the first paint. `LineTable` is a
ScrollView whose virtual height is the row count: `render_line` draws only the lines on screen,
asking its `RowSource` for the window of rows they fall in (a page at a time, a few pages kept),
as Toolong draws a log file's lines from file offsets. The source is usually SQL paged by offset
(tuieval.tui.case_rows), so scrolling to the end of a 100,000-row list reads one page.

Keys are the DataTable's: up/down, page up/down, home/end (and ctrl+home/ctrl+end), Enter
selects; a click moves the cursor, a click on the cursor row selects it. The header line stays
on top. Columns fit the width as KeyedTable's do (`drop` columns give way first, `flex` columns
share what is left).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Protocol, Sequence

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from tuieval.tui.widgets.keyed_table import fit_columns


class RowSource(Protocol):
    """Rows by position: `n` of them; `window(start, stop)` gives (key, payload) for each."""

    n: int

    def window(self, start: int, stop: int) -> list[tuple[str, Any]]: ...


class _Empty:
    n = 0

    def window(self, start: int, stop: int) -> list[tuple[str, Any]]:
        return []


#: padding each side of a cell, as DataTable's cell_padding
PAD = 1


class LineTable(ScrollView, can_focus=True):
    """Rows from a RowSource, drawn a line at a time; `format_row(payload)` makes a row's cells."""

    COMPONENT_CLASSES = {"line-table--header", "line-table--cursor", "line-table--even-row"}

    DEFAULT_CSS = """
    LineTable {
        height: 1fr;
        border: round $foreground 25%;
        border-title-color: $foreground 70%;
        border-subtitle-color: $foreground 70%;
        background: $background;
        color: $foreground;
        scrollbar-size-vertical: 1;
        overflow-x: hidden;
        & > .line-table--header { text-style: bold; background: $panel; color: $foreground; }
        & > .line-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
        }
        &:dark > .line-table--even-row { background: $surface-darken-1 40%; }
        & > .line-table--even-row { background: $surface-lighten-1 50%; }
        &:focus {
            border: round $primary;
            border-title-color: $text;
            & > .line-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
    }
    """

    BINDINGS = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "first", "First", show=False),
        Binding("end,ctrl+end", "last", "Last", show=False),
    ]

    class Highlighted(Message):
        """The cursor moved to `row` (its `key`)."""

        def __init__(self, table: "LineTable", row: int, key: str | None) -> None:
            super().__init__()
            self.table, self.row, self.key = table, row, key

        @property
        def control(self) -> "LineTable":
            return self.table

    class Selected(Highlighted):
        """Enter (or a click on the cursor row) on `row`."""

    def __init__(self, format_row: Callable[[Any], Sequence[Any]], *, id: str | None = None,
                 zebra_stripes: bool = False, enter_label: str = "Select", page: int = 100,
                 pages_kept: int = 8) -> None:
        super().__init__(id=id)
        self.format_row = format_row
        self.zebra_stripes = zebra_stripes
        # Enter names what it does here, in the footer
        self._bindings.key_to_bindings["enter"] = [Binding("enter", "select", enter_label, show=True)]
        self.page = page
        self.pages_kept = pages_kept
        self.source: RowSource = _Empty()
        self.cursor_row = 0
        self._pages: OrderedDict[int, list[tuple[str, Any]]] = OrderedDict()
        self._cells: dict[int, Sequence[Any]] = {}
        self._spec: list[tuple[str, str, int]] = []
        self._flex: tuple[str, ...] = ()
        self._drop: tuple[str, ...] = ()
        #: pages read from the source since it was set (what the tests and benchmarks count)
        self.pages_read = 0

    # -- data ------------------------------------------------------------------------------------------

    def set_columns(self, columns: Sequence[tuple[str, str, int]], *, flex: Sequence[str] = (),
                    drop: Sequence[str] = ()) -> None:
        """(label, key, width) per column, in the order `format_row` gives cells."""
        self._spec, self._flex, self._drop = list(columns), tuple(flex), tuple(drop)
        self.refresh()

    def set_source(self, source: RowSource) -> None:
        """Show `source`'s rows from the first, the cursor on it."""
        self.source = source
        self._pages.clear()
        self._cells.clear()
        self.pages_read = 0
        self.cursor_row = 0
        self._resize_virtual()
        self.scroll_to(y=0, animate=False)
        self.refresh()
        self._announce()

    def invalidate(self) -> None:
        """Format the rows again (the theme changed); what was read is kept."""
        self._cells.clear()
        self.refresh()

    @property
    def row_count(self) -> int:
        return self.source.n

    def row(self, index: int) -> tuple[str, Any] | None:
        """(key, payload) of row `index`, read with its page when not kept."""
        if not 0 <= index < self.source.n:
            return None
        number = index // self.page
        rows = self._pages.get(number)
        if rows is None:
            start = number * self.page
            rows = self.source.window(start, min(self.source.n, start + self.page))
            self.pages_read += 1
            self._pages[number] = rows
            while len(self._pages) > self.pages_kept:
                gone, _ = self._pages.popitem(last=False)
                for i in range(gone * self.page, (gone + 1) * self.page):
                    self._cells.pop(i, None)
        else:
            self._pages.move_to_end(number)
        offset = index - number * self.page
        return rows[offset] if offset < len(rows) else None

    def cursor_key(self) -> str | None:
        got = self.row(self.cursor_row)
        return got[0] if got else None

    def cursor_payload(self) -> Any:
        got = self.row(self.cursor_row)
        return got[1] if got else None

    # -- layout ----------------------------------------------------------------------------------------

    def _body_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)  # the header line is not scrolled

    def _resize_virtual(self) -> None:
        # no width of its own: the columns fit the view, which never scrolls sideways
        self.virtual_size = Size(0, self.source.n + 1)

    def on_resize(self) -> None:
        self._resize_virtual()
        self._cells.clear()

    def _layout(self, width: int) -> list[tuple[int, int]]:
        """(column position, width) of the columns shown at `width` cells."""
        widths = [(key, w) for _, key, w in self._spec]
        shown = fit_columns(widths, width, padding=PAD, drop=self._drop)
        spare = width - sum(w + 2 * PAD for w in shown.values())
        flex = [k for k in self._flex if k in shown]
        # the spare width goes to the flex columns, the first taking the larger share
        for n, key in enumerate(flex):
            share = spare if n == len(flex) - 1 else spare * 3 // 5
            shown[key] += max(0, share)
            spare -= max(0, share)
        return [(i, shown[key]) for i, (_, key, _) in enumerate(self._spec) if key in shown]

    # -- drawing ---------------------------------------------------------------------------------------

    def _line(self, cells: Sequence[Any], layout: list[tuple[int, int]], width: int, style: Style,
              over: bool = False) -> Strip:
        """One line of cells; `style` under the cells' own styles, or over them (`over`: the
        cursor row takes the cursor's colours, so coloured figures stay readable on it)."""
        line = Text(no_wrap=True, end="")
        for position, w in layout:
            cell = cells[position] if position < len(cells) else ""
            text = cell.copy() if isinstance(cell, Text) else Text(str(cell))
            text.no_wrap = True
            text.end = ""
            text.truncate(w, overflow="ellipsis")
            gap = w - text.cell_len
            line.append(" " * PAD)
            if getattr(cell, "justify", None) == "right":
                line.append(" " * gap)
                line.append_text(text)
            else:
                line.append_text(text)
                line.append(" " * gap)
            line.append(" " * PAD)
        # every segment gets the widget's own colours beneath it: the line filters (dimming)
        # need a background on each one
        base = self.rich_style + style if not over else self.rich_style
        segments = [Segment(s.text, s.style) for s in line.render(self.app.console) if s.text != "\n"]
        if over:
            strip = Strip([Segment(s.text, base + (s.style or Style()) + style) for s in segments])
            base = base + style
        else:
            strip = Strip(segments).apply_style(base)
        return strip.extend_cell_length(width, base).crop(0, width)

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        layout = self._layout(width)
        if y == 0:
            return self._line([Text(label) for label, _, _ in self._spec], layout, width,
                              self.get_component_rich_style("line-table--header"))
        index = int(self.scroll_offset.y) + y - 1
        got = self.row(index)
        if got is None:
            return Strip.blank(width, self.rich_style)
        cells = self._cells.get(index)
        if cells is None:
            cells = self._cells[index] = self.format_row(got[1])
        if index == self.cursor_row:
            return self._line(cells, layout, width, self.get_component_rich_style("line-table--cursor"), over=True)
        style = Style()
        if self.zebra_stripes and index % 2:
            style = self.get_component_rich_style("line-table--even-row")
        return self._line(cells, layout, width, style)

    # -- the cursor ------------------------------------------------------------------------------------

    def move_cursor(self, row: int) -> None:
        """Put the cursor on `row` (clamped) and scroll it into view."""
        n = self.source.n
        row = max(0, min(row, n - 1)) if n else 0
        if row == self.cursor_row:
            return
        self.cursor_row = row
        top, height = int(self.scroll_offset.y), self._body_height()
        if row < top:
            self.scroll_to(y=row, animate=False)
        elif row >= top + height:
            self.scroll_to(y=row - height + 1, animate=False)
        self.refresh()
        self._announce()

    def _announce(self) -> None:
        self.post_message(self.Highlighted(self, self.cursor_row, self.cursor_key()))

    def action_cursor_up(self) -> None:
        self.move_cursor(self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(self.cursor_row + 1)

    def action_page_up(self) -> None:
        self.move_cursor(self.cursor_row - self._body_height())

    def action_page_down(self) -> None:
        self.move_cursor(self.cursor_row + self._body_height())

    def action_first(self) -> None:
        self.move_cursor(0)

    def action_last(self) -> None:
        self.move_cursor(self.source.n - 1)

    def action_select(self) -> None:
        if self.source.n:
            self.post_message(self.Selected(self, self.cursor_row, self.cursor_key()))

    def on_click(self, event: events.Click) -> None:
        y = event.get_content_offset(self)
        if y is None or y.y < 1:
            return
        row = int(self.scroll_offset.y) + y.y - 1
        if row >= self.source.n:
            return
        if row == self.cursor_row:
            self.action_select()
        else:
            self.move_cursor(row)

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()
