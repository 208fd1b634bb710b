"""Command palette commands: run a suite, open a run, watch or cancel a run, export a report, search every answer."""

from __future__ import annotations

from functools import partial
from typing import Any

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tuieval.tui.sanitize import sanitize


def _open_search(app: Any) -> None:
    from tuieval.tui.screens.search import open_search

    open_search(app, None)


class TuievalCommands(Provider):
    """Commands built from the loaded suites and the runs in the database."""

    def _commands(self) -> list[tuple[str, Any, str]]:
        app: Any = self.app
        out: list[tuple[str, Any, str]] = []
        for entry in getattr(app, "suites", []):
            if entry.suite is not None:
                name = sanitize(entry.name, single_line=True, limit=40)
                out.append((f"Run suite: {name}", partial(app.request_run, entry),
                            f"{len(entry.suite.cases)} cases · opens the run form"))
        out.append(("Run the demo: steady vs brittle (simulated)", app.action_demo,
                    "same mean, different tails, side by side"))
        out.append(("Search every answer", partial(_open_search, app),
                    "full-text search of every stored prompt and response"))
        for run in getattr(app, "runs", [])[:50]:
            rid = run["id"]
            label = sanitize(f"{run['suite']} · {run['model']}", single_line=True, limit=50)
            out.append((f"Open run: {rid} {label}", partial(app.open_run, rid), run["status"]))
            out.append((f"Export report (JSON): {rid} {label}", partial(app.export_report, rid, "json"),
                        "writes <run>.report.json beside the database"))
            out.append((f"Export report (Markdown): {rid} {label}", partial(app.export_report, rid, "md"),
                        "writes <run>.report.md beside the database"))
        for rid, live in getattr(app, "live_runs", {}).items():
            if not live.finished and not live.external:
                out.append((f"Cancel run: {rid}", partial(app.confirm_cancel, rid), "asks first; keeps it as partial"))
            out.append((f"Watch live: {rid}", partial(app.watch_live, rid), sanitize(live.label(), single_line=True)))
        return out

    async def discover(self) -> Hits:
        for name, callback, help_text in self._commands():
            if name.startswith(("Run suite", "Run the demo", "Search every answer")):
                yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
