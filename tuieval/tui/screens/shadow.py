"""Shadow: a shadow evaluation's candidate beside its baseline (the run report's `shadow` section).

On top, the disagreement rate with its interval and anytime-valid interval, and the gates; then
disagreement per slice, worst first; then the disagreeing prompts. The highlighted prompt is shown
below with both answers side by side, and the pairwise judge's verdict when one was asked.
Everything from the log and the models is shown inert (tuieval.tui.sanitize).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.sanitize import inert
from tuieval.tui.screens.base import AppScreen

#: characters of a prompt shown under the table
PROMPT_SHOWN = 600


def shadow_title(sec: dict[str, Any]) -> Text:
    d = sec["disagreement"]
    s = sec["sampling"]
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append_text(inert(f"{sec['candidate']['model']} vs {sec['baseline']['model']}", "bold", single_line=True))
    t.append(f"  disagreement {fmt.pct(d.get('rate'), 1)} [{fmt.ci(d.get('ci'))}] n={d['n']}")
    t.append(f"  anytime-valid [{fmt.ci(d.get('cs'))}]", style="dim")
    t.append(f"  {s.get('replayed')}/{s.get('planned')} replayed, stop: {s.get('stop')}", style="dim")
    return t


def gates_text(sec: dict[str, Any]) -> Text:
    t = Text()
    for g in sec.get("gates") or []:
        ok = g.get("passed")
        mark = "✓" if ok else ("✗" if ok is False else "?")
        value = fmt.num(g.get("value"))
        shown = f"{value:.3f}" if isinstance(value, float) else "no value"
        t.append(f"{mark} {g['gate']} ≤ {g['threshold']:g}: {shown} (n={g['n']})   ",
                 style="bold" if ok is False else "")
    return t


def pair_text(p: dict[str, Any] | None) -> tuple[Text, Text, Text]:
    """(prompt, baseline answer, candidate answer) of one disagreeing prompt, inert."""
    if p is None:
        return Text("no disagreeing prompt", style="dim"), Text(""), Text("")
    prompt = inert((p.get("prompt") or "")[:PROMPT_SHOWN])
    base = Text("baseline\n", style="bold") + inert(p.get("baseline") or "")
    if p.get("candidate") is None:
        cand = Text("candidate\n", style="bold") + inert(f"(error: {p.get('candidate_error') or 'no answer'})")
    else:
        cand = Text("candidate\n", style="bold") + inert(p["candidate"])
    verdict = p.get("judge")
    if verdict:
        said = {"win": "the candidate's answer is better", "loss": "the baseline's answer is better",
                "tie": "a tie (or it depended on the order)"}.get(verdict, str(verdict))
        cand += Text("\njudge: ", style="bold") + inert(said, single_line=True)
    return prompt, base, cand


class ShadowScreen(AppScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="shadow.back")]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.section: dict[str, Any] | None = None

    def crumb(self) -> str:
        return f"run {self.run_id} › shadow"

    def compose_body(self) -> ComposeResult:
        yield Static(id="sh-title")
        yield Static(id="sh-gates")
        yield DataTable(id="sh-slices", cursor_type="row", zebra_stripes=True)
        yield DataTable(id="sh-prompts", cursor_type="row", zebra_stripes=True)
        yield Static(id="sh-prompt")
        with Horizontal(id="sh-pair"):
            yield Static(id="sh-baseline")
            yield Static(id="sh-candidate")

    def on_mount(self) -> None:
        slices = self.query_one("#sh-slices", DataTable)
        slices.add_columns("slice", "n", "disagreement", "95% CI")
        slices.border_title = "Disagreement per slice — worst first"
        prompts = self.query_one("#sh-prompts", DataTable)
        prompts.add_columns("case", "baseline", "candidate")
        prompts.border_title = "Disagreeing prompts"
        for pane in ("#sh-slices", "#sh-prompts"):
            self.query_one(pane).styles.height = "1fr"
        for pane in ("#sh-baseline", "#sh-candidate"):
            self.query_one(pane).styles.width = "1fr"
        self.query_one("#sh-pair").styles.height = "auto"
        self.tapp.run_changed.subscribe(self, lambda rid: self.load() if rid == self.run_id else None)
        self.load()

    def load(self) -> None:
        data = self.tapp.run_data(self.run_id)
        if data is None:
            self.query_one("#sh-title", Static).update(Text("loading the report…", style="dim"))
            self.tapp.request_analysis(self.run_id)
            return
        sec = data.report.get("shadow")
        if not sec:
            self.query_one("#sh-title", Static).update(Text("this run is not a shadow evaluation", style="bold"))
            return
        self.show(sec)

    def show(self, sec: dict[str, Any]) -> None:
        self.section = sec
        self.query_one("#sh-title", Static).update(shadow_title(sec))
        gates = self.query_one("#sh-gates", Static)
        gates.update(gates_text(sec))
        gates.display = bool(sec.get("gates"))
        slices = self.query_one("#sh-slices", DataTable)
        slices.clear()
        for r in sec.get("slices") or []:
            # cells as Text: a str cell would be read as markup ("[12–30]" is a tag)
            slices.add_row(inert(r["slice"], single_line=True, limit=40), Text(str(r["n"])),
                           Text(fmt.pct(r["rate"], 1)), Text(f"[{fmt.ci(r['ci'])}]"))
        prompts = self.query_one("#sh-prompts", DataTable)
        prompts.clear()
        for i, p in enumerate(sec.get("disagreements") or []):
            cand = p["candidate"] if p.get("candidate") is not None else "(error)"
            prompts.add_row(inert(p["case_id"], single_line=True), inert(p.get("baseline") or "", single_line=True,
                                                                       limit=40),
                            inert(cand, single_line=True, limit=40), key=str(i))
        prompts.border_title = f"Disagreeing prompts ({sec.get('n_disagreements', 0)})"
        self.show_pair(0)
        prompts.focus()

    def show_pair(self, index: int) -> None:
        shown = (self.section or {}).get("disagreements") or []
        p = shown[index] if 0 <= index < len(shown) else None
        prompt, base, cand = pair_text(p)
        self.query_one("#sh-prompt", Static).update(prompt)
        self.query_one("#sh-baseline", Static).update(base)
        self.query_one("#sh-candidate", Static).update(cand)

    @on(DataTable.RowHighlighted, "#sh-prompts")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.show_pair(event.cursor_row)
