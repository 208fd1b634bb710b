"""Robustness: what moves a run's score without the model changing.

The perturbation × slice table of the report's `robustness.perturbations` (accuracy on the
original cases and on their perturbed copies, the paired difference with its interval, the flip
rates, p and the Benjamini–Hochberg q, significant rows marked, n on every row), the highlighted
perturbation's severity curve with intervals, and one line each for the template and extraction
sensitivity. Enter opens the pairs of the highlighted row (a perturbed case beside its original);
`x` the run's extractor disagreements. Everything comes from the stored report: opening the
screen costs no query.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.data import RunData
from tuieval.tui.sanitize import sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.charts import Chart
from tuieval.tui.widgets.keyed_table import KeyedTable
from tuieval.tui.widgets.severity import SeverityCurve

#: columns that give way first on a narrow terminal; n, both accuracies, Δ, the flip rate and q stay
DROP = ("fci", "back", "p", "dci")
DOWN, UP = "▼", "▲"


def row_key(r: dict[str, Any]) -> str:
    return f"{r.get('label')}|{r.get('slice')}"


def significance_mark(r: dict[str, Any]) -> str:
    """▼ a significant drop, ▲ a significant rise (q ≤ α across the table), else nothing."""
    if not r.get("significant"):
        return ""
    return DOWN if (fmt.num(r.get("delta")) or 0) < 0 else UP


def pts(x: Any) -> str:
    v = fmt.num(x)
    return fmt.DASH if v is None else f"{v * 100:+.1f}"


def pts_ci(interval: Any) -> str:
    if not interval or len(interval) != 2 or fmt.num(interval[0]) is None or fmt.num(interval[1]) is None:
        return fmt.DASH
    return f"{interval[0] * 100:+.0f}…{interval[1] * 100:+.0f}"


def columns() -> list[tuple[str, str, int]]:
    return [("perturbation", "label", 14), ("slice", "slice", 16), ("n", "n", 4), ("orig", "orig", 4),
            ("pert", "pert", 4), ("Δ pts", "delta", 7), ("Δ 95% CI", "dci", 9), ("c→w", "flip", 4),
            ("c→w CI", "fci", 7), ("w→c", "back", 4), ("p", "p", 6), ("q", "q", 6)]


def table_row(r: dict[str, Any], pal: fmt.Palette) -> list[Any]:
    mark = significance_mark(r)
    style = pal.bad if mark == DOWN else pal.good if mark == UP else ""
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f"{mark or ' '} ", style=f"bold {style}")
    label.append(sanitize(r.get("label"), single_line=True, limit=40), style=style)
    return [
        label,
        Text(sanitize(r.get("slice"), single_line=True, limit=60), no_wrap=True, overflow="ellipsis"),
        fmt.right(str(r.get("n_pairs", fmt.DASH))),
        fmt.acc_text(r.get("accuracy_original"), pal),
        fmt.acc_text(r.get("accuracy_perturbed"), pal),
        fmt.right(pts(r.get("delta")) + (mark or " "), f"bold {style}" if mark else ""),
        fmt.right(pts_ci(r.get("delta_ci")), "dim"),
        fmt.right(fmt.pct(r.get("flip_rate"))),
        fmt.right(fmt.ci(r.get("flip_rate_ci")), "dim"),
        fmt.right(fmt.pct(r.get("flip_back_rate"))),
        fmt.right(fmt.p_cell(r.get("p_value")), "dim"),
        fmt.right(fmt.p_cell(r.get("q_value")), f"bold {style}" if mark else ""),
    ]


def detail_text(r: dict[str, Any] | None, section: dict[str, Any], pal: fmt.Palette) -> Text:
    """Every figure of the highlighted row in words (the table drops some columns at 80 wide)."""
    if r is None:
        return Text("")
    method = section.get("method") or {}
    test = {"mcnemar": "exact McNemar", "sign-flip": "sign-flip"}.get(r.get("test"), r.get("test") or "test")
    t = Text()
    t.append(sanitize(f"{r.get('label')} · {r.get('slice')}", single_line=True, limit=40), style="bold")
    t.append(f"  {r.get('n_pairs')} pairs  {fmt.pct(r.get('accuracy_original'), 1)} "
             f"[{fmt.ci(r.get('accuracy_original_ci'))}] → {fmt.pct(r.get('accuracy_perturbed'), 1)} "
             f"[{fmt.ci(r.get('accuracy_perturbed_ci'))}]  Δ {pts(r.get('delta'))} pts [{pts_ci(r.get('delta_ci'))}]")
    t.append(f"\nc→w {r.get('flips_correct_to_wrong')} ({fmt.pct(r.get('flip_rate'))} [{fmt.ci(r.get('flip_rate_ci'))}])"
             f" · w→c {r.get('flips_wrong_to_correct')} ({fmt.pct(r.get('flip_back_rate'))} "
             f"[{fmt.ci(r.get('flip_back_rate_ci'))}]) · {test} {fmt.p_clause('p', r.get('p_value'))} · "
             f"BH {fmt.p_clause('q', r.get('q_value'))}", style="dim")
    mark = significance_mark(r)
    if mark:
        t.append("  significant " + ("drop" if mark == DOWN else "rise"),
                 style=f"bold {pal.bad if mark == DOWN else pal.good}")
    elif r.get("q_value") is not None:
        t.append(f"  not significant at α = {method.get('alpha', 0.05)}", style="dim")
    return t


def summary_text(report: dict[str, Any], pal: fmt.Palette) -> Text:
    """One line for each hidden variable the report measured: perturbations (worst case),
    templates (spread and test), extraction (points depending, disagreement)."""
    rb = report.get("robustness") or {}
    t = Text(no_wrap=True, overflow="ellipsis")
    pert = rb.get("perturbations")
    if pert:
        w = pert.get("worst_case") or {}
        t.append("perturbations ", style="bold")
        t.append(f"{pert.get('n_perturbed')} copies of {pert.get('n_originals')} cases · worst case "
                 f"{fmt.pct(w.get('accuracy'))} [{fmt.ci(w.get('accuracy_ci'))}] n={w.get('n_cases')}")
        if pert.get("n_unpaired"):
            t.append(f" · {pert['n_unpaired']} unpaired", style=pal.warn)
    else:
        t.append("perturbations ", style="bold")
        t.append("none in this run (tuieval run SUITE --perturb typos:0.05,names,…)", style="dim")
    tm = rb.get("templates")
    if tm and tm.get("spread"):
        sp, test = tm["spread"], tm.get("test") or {}
        t.append("\ntemplates ", style="bold")
        t.append(f"{tm.get('n_templates')} · spread {pts(sp.get('value'))} pts [{pts_ci(sp.get('ci'))}] "
                 f"({sanitize(sp.get('best'), single_line=True, limit=20)} vs "
                 f"{sanitize(sp.get('worst'), single_line=True, limit=20)}) · {fmt.p_clause('p', test.get('p_value'))}"
                 f" · n={tm.get('n_cases')}")
    ex = rb.get("extractors")
    if ex and ex.get("extractors"):
        dep, dis = ex.get("points_depending") or {}, ex.get("disagreement_rate") or {}
        spread = fmt.num(dep.get("spread_points"))
        t.append("\nextraction ", style="bold")
        t.append(f"{ex.get('n_applicable')} extractors · "
                 + (f"{spread:.1f} pts depend on the extractor · " if spread is not None else "")
                 + f"disagree on {dis.get('n_disagree')}/{dis.get('n_samples')} samples "
                 f"({fmt.pct(dis.get('value'))} [{fmt.ci(dis.get('ci'))}])")
    return t


class RobustnessScreen(AppScreen):
    BINDINGS = [
        Binding("x", "extractors", "Extractors", id="robustness.extractors"),
        Binding("escape", "app.pop_screen", "Back", id="robustness.back"),
    ]

    def __init__(self, data: RunData) -> None:
        super().__init__()
        self.data = data
        self.section: dict[str, Any] = ((data.report.get("robustness") or {}).get("perturbations")) or {}
        self.rows: dict[str, dict[str, Any]] = {row_key(r): r for r in self.section.get("rows") or []}

    def crumb(self) -> str:
        return f"run {self.data.run['id']} › robustness"

    def compose_body(self) -> ComposeResult:
        yield Static(id="rb-title")
        yield Static(id="rb-summary")
        yield KeyedTable(id="rb-table", enter_label="Pairs")
        yield Static(id="rb-detail")
        yield Chart(id="rb-curve")

    def on_mount(self) -> None:
        table = self.query_one("#rb-table", KeyedTable)
        table.set_columns(columns(), flex=("slice", "label"), drop=DROP)
        method = self.section.get("method") or {}
        table.border_title = (f"Perturbation × slice — {method.get('test', 'paired test')}, BH across the table · "
                              f"{DOWN} significant drop")
        self._size_curve()
        self.fill()
        table.focus()

    def on_theme_change(self) -> None:
        self.fill()

    def on_resize(self) -> None:
        self._size_curve()

    def _size_curve(self) -> None:
        """One height for every perturbation's curve (the table does not jump as the cursor moves):
        the longest curve's points, the original and the axis inside the border; a short terminal
        gives the table its rows first (the curve then leaves out its axis line)."""
        curves = (self.section.get("severity_curves") or {}).values()
        longest = max([len(c) for c in curves] + [1]) if self.rows else 0
        height = longest + 4 if self.rows else 3
        if self.size.height:
            height = min(height, max(5, self.size.height // 4))
        self.query_one("#rb-curve", Chart).styles.height = height

    def fill(self) -> None:
        from tuieval.tui.screens.scoreboard import run_header

        pal = fmt.Palette.of(self.app)
        self.query_one("#rb-title", Static).update(run_header(self.data.run, self.data.report.get("overall"), pal))
        self.query_one("#rb-summary", Static).update(summary_text(self.data.report, pal))
        self.query_one("#rb-table", KeyedTable).sync([(k, table_row(r, pal)) for k, r in self.rows.items()])
        self.update_detail()

    def highlighted(self) -> dict[str, Any] | None:
        key = self.query_one("#rb-table", KeyedTable).cursor_key()
        return self.rows.get(key) if key else None

    def update_detail(self) -> None:
        pal = fmt.Palette.of(self.app)
        r = self.highlighted()
        self.query_one("#rb-detail", Static).update(detail_text(r, self.section, pal))
        chart = self.query_one("#rb-curve", Chart)
        if r is None:
            chart.border_title = "Severity curve"
            chart.show(Text("no perturbed copies in this run", style="dim"))
            return
        name = r.get("perturbation")
        points = (self.section.get("severity_curves") or {}).get(name)
        if not points:  # a family without severities (options): its one whole-run row
            points = [x for x in self.rows.values() if x.get("perturbation") == name and x.get("slice") == "all"]
        whole = next((x for x in self.rows.values() if x.get("perturbation") == name and x.get("slice") == "all"), r)
        original = {"accuracy": whole.get("accuracy_original"), "ci": whole.get("accuracy_original_ci"),
                    "n": whole.get("n_pairs")}
        chart.border_title = f"Severity curve · {sanitize(name, single_line=True, limit=30)} · all cases"
        chart.show(SeverityCurve(str(name), points, original, alpha=(self.section.get("method") or {}).get("alpha", 0.05),
                                 palette=pal))

    @on(DataTable.RowHighlighted, "#rb-table")
    def _highlighted(self) -> None:
        self.update_detail()

    @on(DataTable.RowSelected, "#rb-table")
    def _selected(self) -> None:
        self.action_pairs()

    def action_pairs(self) -> None:
        from tuieval.tui.screens.perturbed_cases import PerturbedCasesScreen

        r = self.highlighted()
        if r is None:
            self.notify("this run has no perturbed copies of its cases")
            return
        self.app.push_screen(PerturbedCasesScreen(self.data, r))

    def action_extractors(self) -> None:
        from tuieval.tui.screens.extractors import ExtractorsScreen

        if not ((self.data.report.get("robustness") or {}).get("extractors") or {}).get("extractors"):
            self.notify("this run reads answers one way only: `tuieval rescore RUN` compares extractors "
                        "(or name `extractors:` in the suite)")
            return
        self.app.push_screen(ExtractorsScreen(self.data))
