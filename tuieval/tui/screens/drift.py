"""Drift: feature by feature, the traffic's distribution beside the suite's (`tuieval drift … --app`).

The left table lists the features with their PSI (suite → traffic, and previous → current
window); the right one shows the highlighted feature's levels, the suite's count and share
beside the traffic's with a bar each, and marks the levels the suite holds fewer than
`--min-cases` cases of (under-covered).  Below: the traffic in under-covered slices and what
to do.  The screen shows a finished tuieval.drift/1 report; it reads nothing itself.
Level names come from the traffic (metadata values): they are shown inert.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.app import TuievalApp
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable

BAR = 6
UNDER = "▲"


def bar(share: float | None, width: int = BAR) -> str:
    """A share as a bar of eighth blocks, `width` cells at 100%."""
    if share is None:
        return ""
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, part = divmod(eighths, 8)
    return "█" * full + (" ▏▎▍▌▋▊▉"[part] if part else "")


def _psi(x: Any) -> str:
    return fmt.DASH if x is None else f"{x:.3f}"


class DriftScreen(AppScreen):
    """One drift report: features left, the highlighted feature's levels right."""

    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="drift.back")]
    DEFAULT_CSS = """
    DriftScreen #drift-title { height: auto; padding: 0 1; }
    DriftScreen #drift-tables { height: 1fr; }
    DriftScreen #drift-features { width: 46; }
    DriftScreen #drift-levels { width: 1fr; }
    DriftScreen #drift-todo { height: auto; max-height: 9; padding: 0 1; }
    """

    def __init__(self, report: dict[str, Any]) -> None:
        super().__init__()
        self.report = report
        self._features = {f["key"]: f for f in report["features"]}
        self._under = {(r["key"], r["value"]) for r in report["coverage"]["under_covered"]}

    def crumb(self) -> str:
        return "drift"

    def compose_body(self) -> ComposeResult:
        yield Static(id="drift-title")
        with Horizontal(id="drift-tables"):
            yield KeyedTable(id="drift-features")
            yield KeyedTable(id="drift-levels")
        yield Static(id="drift-todo")

    def on_mount(self) -> None:
        r = self.report
        win, log = r["window"], r["log"]
        title = Text(no_wrap=True, overflow="ellipsis")
        title.append("Drift ", style="bold")
        title.append_text(inert(f"{r['suite']['name']} ({r['suite']['n_cases']} cases) vs {Path(log['path']).name}",
                                single_line=True, limit=60))
        title.append(f" · traffic n={win['suite_compared_with']['n']}"
                     f" · windows n={win['previous']['n']}→{win['current']['n']}"
                     f" · {log['malformed']} malformed", style="dim")
        self.query_one("#drift-title", Static).update(title)

        features = self.query_one("#drift-features", KeyedTable)
        features.set_columns([("feature", "f", 12), ("PSI", "psi", 6), ("", "band", 8),
                              ("windows", "wpsi", 7)], flex="f", drop=("wpsi",))
        features.border_title = "Features: PSI suite→traffic"
        features.border_subtitle = "windows: previous→current"
        pal = fmt.Palette.of(self.app)
        band_style = {"stable": pal.good, "moderate": pal.warn, "shifted": pal.bad}
        rows = []
        for key, f in self._features.items():
            a, b = f["suite_vs_traffic"], f["between_windows"]
            rows.append((key, [inert(key, single_line=True, limit=30), Text(_psi(a["psi"]), justify="right"),
                               Text(a["psi_band"] or fmt.DASH, style=band_style.get(a["psi_band"], "dim")),
                               Text(_psi(b["psi"]), justify="right", style=band_style.get(b["psi_band"], "dim"))]))
        features.sync(rows)
        levels = self.query_one("#drift-levels", KeyedTable)
        levels.set_columns([("level", "lv", 8), ("suite", "sn", 8), ("", "sbar", BAR),
                            ("traffic", "tn", 9), ("", "tbar", BAR), ("", "mark", 1)], flex="lv", drop=("sbar",))
        levels.border_subtitle = f"{UNDER} fewer than {r['coverage']['min_cases']} suite cases"
        self._todo()
        if rows:
            self.show_feature(rows[0][0])
        features.focus()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "drift-features" and event.row_key is not None:
            self.show_feature(str(event.row_key.value))

    def show_feature(self, key: str) -> None:
        """Fill the levels table with one feature's distribution in the suite and in traffic."""
        f = self._features.get(key)
        if f is None:
            return
        pal = fmt.Palette.of(self.app)
        a = f["suite_vs_traffic"]
        table = self.query_one("#drift-levels", KeyedTable)
        table.border_title = sanitize(f"{key}: suite n={a['n_reference']} · traffic n={a['n_current']}",
                                      single_line=True, limit=60)
        rows = []
        for i, lv in enumerate(a["levels"]):
            under = (key, lv["value"]) in self._under
            style = pal.warn if under else ""
            name = "(missing)" if lv["value"] is None else lv["value"]
            rows.append((f"{i}", [
                inert(name, style=style, single_line=True, limit=40),
                Text(f"{lv['reference']} {fmt.pct(lv['reference_share']):>4}", justify="right", style=style),
                Text(bar(lv["reference_share"]), style="dim"),
                Text(f"{lv['current']} {fmt.pct(lv['current_share']):>4}", justify="right", style=style),
                Text(bar(lv["current_share"]), style=pal.accent),
                Text(UNDER if under else "", style=f"bold {pal.warn}" if under else ""),
            ]))
        table.sync(rows)

    def _todo(self) -> None:
        cov = self.report["coverage"]
        text = Text()
        if cov["n"]:
            text.append(f"{fmt.pct(cov['share'], 1)} [{fmt.ci(cov['share_ci'])}%] of {cov['n']} prompts fall in a slice "
                        f"with fewer than {cov['min_cases']} suite cases.\n", style="bold")
        recs = self.report["recommendations"] or ["nothing stands out: the suite covers this traffic's slices"]
        for line in recs:
            text.append_text(inert(f"• {line}\n", single_line=False))
        self.query_one("#drift-todo", Static).update(text)


class DriftApp(TuievalApp):
    """The app, opened on a Drift screen (Esc goes back to the suites)."""

    # Textual resolves CSS_PATH beside the subclass's module; the app's sheet is one level up
    CSS_PATH = str(Path(__file__).resolve().parents[1] / "tuieval.tcss")

    def __init__(self, report: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("show_welcome", False)
        super().__init__(*args, **kwargs)
        self.drift_report = report

    def on_mount(self) -> None:
        super().on_mount()
        self.push_screen(DriftScreen(self.drift_report))


def make_drift_app(report: dict[str, Any], db_path: str | None = None, **kwargs: Any) -> DriftApp:
    """The app on the Drift screen, for `tuieval drift … --app` and for tests."""
    from tuieval.tui import data

    return DriftApp(report, data.default_suite_paths(), db_path, **kwargs)


def run_drift_app(report: dict[str, Any], db_path: str | None = None) -> None:
    make_drift_app(report, db_path).run()
