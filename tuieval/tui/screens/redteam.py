"""A red-team run: attack success per strategy × slice, and each successful attack beside its seed.

Opened with `4` (the newest red-team run of the database). The figures are the report's
`redteam` section (tuieval.report.redteam), so the app and `tuieval report` never disagree;
`t` switches between the two targets of a paired run. Model text is shown inert.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen

#: slice columns shown in the strategy × slice table (the rest are in `tuieval report`)
MAX_SLICE_COLUMNS = 6


def load_sections(store, redteam_id: str | None) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """(the red-team record, one report section per target), or (None, []) without red-team runs."""
    from tuieval.report.redteam import redteam_section
    from tuieval.store.redteam import RedTeamNotFound, RedTeamStore

    rts = RedTeamStore(store)
    try:
        record = rts.get(rts.resolve(redteam_id or "latest"))
    except RedTeamNotFound:
        return None, []
    sections = [redteam_section(store, store.get_run(r), record=record) for r in record["run_ids"]]
    return record, [s for s in sections if s is not None]


def _rate(r: dict[str, Any] | None) -> str:
    if not r or not r.get("n"):
        return "—"
    return f"{fmt.pct(r['asr'], 1)} {r['n_broken']}/{r['n']}"


class RedTeamScreen(AppScreen):
    BINDINGS = [
        Binding("t", "next_target", "Target", id="redteam.target"),
        Binding("escape", "app.pop_screen", "Back", id="redteam.back"),
    ]

    def __init__(self, redteam_id: str | None = None) -> None:
        super().__init__()
        self.redteam_id = redteam_id
        self.record: dict[str, Any] | None = None
        self.sections: list[dict[str, Any]] = []
        self.index = 0

    def crumb(self) -> str:
        return f"red team {self.record['id']}" if self.record else "red team"

    def compose_body(self) -> ComposeResult:
        yield Static(id="rt-title")
        yield DataTable(id="rt-table", zebra_stripes=True, cursor_type="row")
        yield DataTable(id="rt-attacks", zebra_stripes=True, cursor_type="row")
        with Horizontal(id="rt-pair"):
            with VerticalScroll(id="rt-seed") as seed:
                seed.border_title = "Seed"
                yield Static(id="rt-seed-body")
            with VerticalScroll(id="rt-attack") as attack:
                attack.border_title = "Attack"
                yield Static(id="rt-attack-body")

    DEFAULT_CSS = """
    RedTeamScreen #rt-title { height: auto; padding: 0 1; }
    RedTeamScreen #rt-table { height: auto; max-height: 12; }
    RedTeamScreen #rt-attacks { height: 1fr; min-height: 5; }
    RedTeamScreen #rt-pair { height: 1fr; }
    RedTeamScreen #rt-seed, RedTeamScreen #rt-attack { width: 1fr; border: round $primary; }
    """

    def on_mount(self) -> None:
        self.record, self.sections = load_sections(self.tapp.store, self.redteam_id)
        self.fill()
        self.query_one("#rt-attacks", DataTable).focus()

    def on_theme_change(self) -> None:
        self.fill()

    @property
    def section(self) -> dict[str, Any] | None:
        return self.sections[self.index] if self.sections else None

    def fill(self) -> None:
        title = self.query_one("#rt-title", Static)
        sec = self.section
        table = self.query_one("#rt-table", DataTable)
        attacks = self.query_one("#rt-attacks", DataTable)
        table.clear(columns=True)
        attacks.clear(columns=True)
        if sec is None:
            title.update(Text("No red-team runs in this database. Start one with "
                              "`tuieval redteam SUITE --target SPEC --attacker demo/attacker`.", style="dim"))
            self._show(None)
            return
        pal = fmt.Palette.of(self.app)
        budget = "no budget" if sec["budget"] is None else f"budget {sec['budget']}"
        t = Text.assemble((sanitize(sec["target"]["model"], single_line=True), "bold"),
                          f"  attacked by {sanitize(sec['attacker'], single_line=True)}, decided by "
                          f"{sanitize(sec['decider'], single_line=True)}  ·  ",
                          (f"attack success {_rate(sec['overall'])}", pal.bad if sec["overall"]["n_broken"] else ""),
                          f"  [{fmt.pct(sec['overall']['ci'][0], 1)}, {fmt.pct(sec['overall']['ci'][1], 1)}]"
                          f"  ·  requests {sec['requests_used']} ({budget})  ·  {sec['status']}")
        if len(self.sections) > 1:
            t.append(f"  ·  target {self.index + 1} of {len(self.sections)} (t switches)", style="dim")
        title.update(t)
        levels = sorted({r["slice"] for r in sec["slices"]})[:MAX_SLICE_COLUMNS]
        cells = {(r["slice"], r["strategy"]): r for r in sec["slices"]}
        # slice names come from the dataset: shown inert, never read as markup
        table.add_columns("strategy", "attack success", "95% CI", "cases broken",
                          *[inert(lv, single_line=True, limit=24) for lv in levels])
        table.border_title = "Attack success: strategy × slice (broken/n)"
        for s in sec["strategies"]:
            table.add_row(s["strategy"], _rate(s), f"[{fmt.pct(s['ci'][0], 1)}, {fmt.pct(s['ci'][1], 1)}]",
                          f"{s['n_cases_broken']}/{s['n_cases']}",
                          *[_rate(cells.get((lv, s["strategy"]))) for lv in levels])
        o = sec["overall"]
        table.add_row("all", _rate(o), f"[{fmt.pct(o['ci'][0], 1)}, {fmt.pct(o['ci'][1], 1)}]", "",
                      *[_rate(cells.get((lv, "all"))) for lv in levels])
        attacks.add_columns("case", "strategy", "try", "answer under attack")
        attacks.border_title = f"Successful attacks ({len(sec['successful'])})"
        for i, a in enumerate(sec["successful"]):
            attacks.add_row(inert(a["case_id"], single_line=True, limit=16), a["strategy"], str(a["try_index"] + 1),
                            inert(a["answer"], single_line=True, limit=60), key=str(i))
        self._show(sec["successful"][0] if sec["successful"] else None)

    def _show(self, attack: dict[str, Any] | None) -> None:
        seed = self.query_one("#rt-seed-body", Static)
        body = self.query_one("#rt-attack-body", Static)
        if attack is None:
            seed.update(Text("no successful attack", style="dim"))
            body.update(Text(""))
            return
        s = Text()
        s.append(sanitize(attack["case_id"], single_line=True), style="bold")
        s.append("\n")
        s.append(sanitize(attack.get("seed_prompt") or "", limit=800))
        s.append("\n\nanswer: ", style="dim")
        s.append(sanitize(attack.get("seed_answer") or "", limit=400))
        seed.update(s)
        b = Text()
        b.append(f"{attack['strategy']} · try {attack['try_index'] + 1}", style="bold")
        for i, turn in enumerate(attack.get("attack_turns") or []):
            b.append(f"\nturn {i + 1}: " if len(attack["attack_turns"]) > 1 else "\n", style="dim")
            b.append(sanitize(turn, limit=800))
        b.append("\n\nanswer: ", style="dim")
        b.append(sanitize(attack.get("answer") or "", limit=400))
        body.update(b)

    @on(DataTable.RowHighlighted, "#rt-attacks")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        sec = self.section
        if sec and event.row_key is not None and event.row_key.value is not None:
            self._show(sec["successful"][int(event.row_key.value)])

    def action_next_target(self) -> None:
        if len(self.sections) > 1:
            self.index = (self.index + 1) % len(self.sections)
            self.fill()
