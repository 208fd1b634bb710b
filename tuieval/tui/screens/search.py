"""Search the stored answers: a phrase looked up in one run's prompts and responses (`/` in a
run's cases) or in the whole database (the palette's "Search every answer").

The same full-text index and query as `tuieval search` (SQLite FTS5, newest first). Each result
lists run, case, template#sample, verdict and a snippet with the match highlighted; Enter opens
the sample in the inspector. Snippets are model text: they are sanitised and built as Text
objects, the highlight is a style on a span, never markup.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Input, Static

from tuieval.tui import fmt
from tuieval.tui.data import MATCH_MARKS, SearchQueryError, search_answers
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable

#: results listed for one query (newest first)
LIMIT = 100


def snippet_text(snippet: str | None, highlight: str, *, limit: int = 160) -> Text:
    """The snippet as inert text, the parts between `MATCH_MARKS` highlighted by style."""
    start, end = MATCH_MARKS
    plain = sanitize(snippet or "", single_line=True)
    out = Text(no_wrap=True, overflow="ellipsis")
    on_match = False
    i = 0
    while i < len(plain):
        j = plain.find(end if on_match else start, i)
        piece = plain[i:] if j < 0 else plain[i:j]
        out.append(piece, style=highlight if on_match else "")
        if j < 0:
            break
        on_match = not on_match
        i = j + 1
    out.truncate(limit, overflow="ellipsis")
    return out


class SearchScreen(AppScreen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="search.back"),
    ]

    def __init__(self, run_id: str | None = None, query: str = "") -> None:
        super().__init__()
        self.run_id = run_id
        self.query_text = query
        self.results: list[dict[str, Any]] = []
        self.by_key: dict[str, dict[str, Any]] = {}
        self.searched: str | None = None  # the query the table shows the results of

    def crumb(self) -> str:
        return f"run {self.run_id} › search" if self.run_id else "search every answer"

    def compose_body(self) -> ComposeResult:
        scope = f"run {self.run_id}" if self.run_id else "every run"
        yield Input(value=self.query_text, placeholder=f"a phrase in the prompts and responses of {scope}, Enter",
                    id="search-input")
        yield Static(id="search-status")
        yield KeyedTable(id="search-table", zebra_stripes=True, enter_label="Inspect")

    def on_mount(self) -> None:
        table = self.query_one("#search-table", KeyedTable)
        table.set_columns([("run", "run", 20), ("case", "case", 12), ("sample", "sample", 10),
                           ("verdict", "verdict", 7), ("snippet", "snippet", 40)], flex="snippet",
                          drop=("run", "sample") if self.run_id else ("sample",))
        table.border_title = "Matches, newest first — Enter opens the sample"
        self._status(Text("type a phrase and press Enter", style="dim"))
        self.query_one("#search-input", Input).focus()
        if self.query_text.strip():
            self.search(self.query_text)

    def _status(self, text: Text) -> None:
        self.query_one("#search-status", Static).update(text)

    @on(Input.Submitted, "#search-input")
    def _submitted(self, event: Input.Submitted) -> None:
        self.search(event.value)

    def search(self, query: str) -> None:
        if not query.strip():
            self._status(Text("type a phrase to search for", style="dim"))
            return
        self.query_text = query
        self._status(Text.assemble(("searching for ", "dim"), inert(query, single_line=True, limit=60),
                                   ("…", "dim")))
        self._search(query)

    @work(thread=True, exclusive=True, group="search")
    def _search(self, query: str) -> None:
        try:
            rows = search_answers(self.tapp.db_path, query, run_id=self.run_id, limit=LIMIT)
        except SearchQueryError as exc:
            self.app.call_from_thread(self._failed, query, str(exc))
            return
        self.app.call_from_thread(self._show, query, rows)

    def _failed(self, query: str, reason: str) -> None:
        self._status(Text(f"cannot search for that: {sanitize(reason, single_line=True, limit=120)}",
                          style="bold"))

    def _show(self, query: str, rows: list[dict[str, Any]]) -> None:
        if query != self.query_text:
            return  # a newer query is on its way
        pal = fmt.Palette.of(self.app)
        self.results = rows
        self.searched = query
        self.by_key = {str(r["id"]): r for r in rows}
        style = {"correct": pal.good, "wrong": pal.bad, "error": pal.bad}
        table = self.query_one("#search-table", KeyedTable)
        table.sync([(str(r["id"]), [
            inert(r["run_id"], single_line=True),
            inert(r["case_id"], single_line=True, limit=40),
            inert(f"{sanitize(r['template'], single_line=True, limit=20)}#{r['sample_index']}", single_line=True),
            Text(r["verdict"], style=style[r["verdict"]]),
            snippet_text(r.get("snippet"), f"bold reverse {pal.accent}"),
        ]) for r in rows])
        scope = f" in run {self.run_id}" if self.run_id else ""
        status = Text(no_wrap=True, overflow="ellipsis")
        if rows:
            more = f"the newest {LIMIT}" if len(rows) == LIMIT else f"{len(rows)}"
            status.append(f"{more} sample{'s' if len(rows) != 1 else ''} match ")
        else:
            status.append("no sample matches ", style="dim")
        status.append_text(inert(query, "bold", single_line=True, limit=60))
        status.append(scope, style="dim")
        self._status(status)
        if rows:
            table.focus()

    @on(DataTable.RowSelected, "#search-table")
    def _selected(self) -> None:
        self.action_inspect()

    def action_inspect(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#search-table", KeyedTable).cursor_key()
        row = self.by_key.get(key) if key else None
        if row is not None:
            self.app.push_screen(InspectorScreen(row["run_id"], row["case_id"],
                                                 sample=(row["template"], int(row["sample_index"]))))


def open_search(app: App, run_id: str | None = None) -> None:
    """Open the search screen, over one run's samples or (None) every stored sample."""
    app.push_screen(SearchScreen(run_id))
