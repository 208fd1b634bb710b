"""Judge reliability: how far a run's judge scorer can be trusted (the report's `judge` section).

Per judge scorer: accuracy judged once and as the majority of N with their intervals and n, the
unparsed replies (counted, never correct), request cost and latency, each judge's consistency over
its own N samples, the panel's agreement (Fleiss' κ, Krippendorff's α), Cohen's κ and the confusion
matrix against human labels, pairwise wins and order-dependent ties — and the flagged responses
(judges or samples disagreeing, unparsed replies) in a table: Enter opens the case in the
inspector, where each answer shows the judge's reasoning beside it. Reached from the scoreboard (`j`).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from tuieval.tui import fmt
from tuieval.tui.judge_data import load_judge_section
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.keyed_table import KeyedTable


def _rate(t: Text, label: str, r: dict[str, Any] | None, pal: fmt.Palette) -> None:
    """`label 62% [31–86] k/n` — a rate always with its interval and n."""
    t.append(f"{label} ", style="dim")
    if not r or r.get("value") is None:
        t.append("— (nothing judged yet)", style="dim")
        return
    t.append(fmt.pct(r["value"], 1), style=f"bold {fmt.acc_style(r['value'], pal)}")
    t.append(f" [{fmt.ci(r.get('ci'))}] {r.get('k')}/{r.get('n')}", style="")


def _stat(x: Any) -> str:
    return "undefined" if x is None else f"{x:+.3f}"


def scorer_text(sec: dict[str, Any], pal: fmt.Palette) -> Text:
    """Everything but the flagged cases of one judge scorer, as inert text."""
    t = Text()
    t.append(f"judge `{sanitize(sec.get('name'), single_line=True)}`", style="bold")
    t.append(f" · {sanitize(sec.get('mode'), single_line=True)} · {sec.get('samples_per_response')} judge sample(s) "
             f"per response · {', '.join(sanitize(m, single_line=True) for m in sec.get('models') or [])}", style="dim")
    criteria = (sec.get("rubric") or {}).get("criteria")
    if criteria:
        t.append("\ncriteria ", style="dim")
        t.append_text(inert(criteria, single_line=True, limit=160))
    t.append(f"\n{sec.get('n_samples')} samples judged", style="")
    if sec.get("n_pending"):
        t.append(f", {sec['n_pending']} still waiting for their judgements", style=pal.warn)
    acc = sec.get("accuracy") or {}
    t.append("\n")
    _rate(t, "accuracy judged once", acc.get("once"), pal)
    t.append("\n")
    _rate(t, "accuracy, majority of N", acc.get("majority"), pal)
    req = sec.get("requests") or {}
    lat = req.get("latency_ms") or {}
    t.append(f"\nrequests {req.get('n', 0)} · ", style="dim")
    t.append(f"unparsed {req.get('n_unparsed', 0)} ({fmt.pct(req.get('unparsed_rate'), 1)})",
             style=pal.bad if req.get("n_unparsed") else "")
    t.append(f" · errors {req.get('n_errors', 0)} · tokens {req.get('input_tokens', 0)} in / "
             f"{req.get('output_tokens', 0)} out · latency p50 {fmt.ms(lat.get('p50'))} p99 {fmt.ms(lat.get('p99'))} "
             f"n={lat.get('n', 0)}", style="dim")
    for j in sec.get("per_judge") or []:
        t.append("\n  ")
        t.append(sanitize(j.get("judge"), single_line=True, limit=40), style="bold")
        t.append("  ")
        _rate(t, "once", j.get("accuracy_once"), pal)
        t.append("  ")
        _rate(t, "majority", j.get("accuracy_majority"), pal)
        t.append(f"  consistency {fmt.pct(j.get('consistency'), 1)} · sem. entropy {fmt.dec(j.get('semantic_entropy'))}"
                 f" · unstable {j.get('n_unstable', 0)} · unparsed {j.get('n_unparsed', 0)}", style="dim")
    ag = sec.get("agreement")
    if ag:
        t.append("\npanel agreement ", style="dim")
        t.append(f"Fleiss κ {_stat(ag.get('fleiss_kappa'))} · Krippendorff α {_stat(ag.get('krippendorff_alpha'))}",
                 style="bold")
        t.append(f" · {ag.get('n_items')} responses, {ag.get('n_complete')} graded by every judge, "
                 f"{fmt.pct(ag.get('share_agreeing'), 1)} unanimous", style="dim")
    hu = sec.get("human")
    if hu:
        t.append("\nagainst human labels ", style="dim")
        t.append(f"Cohen κ {_stat(hu.get('cohen_kappa'))}", style="bold")
        t.append(f" · agreement {fmt.pct(hu.get('agreement_rate'), 1)} · n={hu.get('n')}", style="dim")
        m = (hu.get("confusion") or {}).get("matrix") or [[0, 0], [0, 0]]
        t.append("\n  human ↓ / judge →   correct  incorrect", style="dim")
        for label, row in zip(("correct", "incorrect"), m):
            t.append(f"\n  {label:<18} {row[0]:>8} {row[1]:>10}")
    pw = sec.get("pairwise")
    if pw:
        t.append(f"\npairwise (both orders) win {pw.get('win')} · tie {pw.get('tie')} · loss {pw.get('loss')} · "
                 f"unparsed {pw.get('unparsed')} · ", style="")
        t.append(f"order-dependent ties {pw.get('n_order_dependent')}",
                 style=pal.warn if pw.get("n_order_dependent") else "")
    return t


def judgements_text(judgements: list[dict[str, Any]], pal: fmt.Palette) -> Text:
    """A sample's judgements for the inspector, beside the answer: judge, sample, grade, reasoning."""
    t = Text()
    if not judgements:
        return t
    t.append(f"\n\njudged {len(judgements)}×", style="bold")
    for j in judgements:
        t.append("\n")
        t.append(f"{sanitize(j.get('judge'), single_line=True, limit=40)} #{j.get('judge_sample')}", style="dim")
        if j.get("orientation"):
            t.append(f" {sanitize(j['orientation'], single_line=True)}", style="dim")
        t.append(" ")
        if j.get("error"):
            t.append("error ", style=pal.bad)
            t.append_text(inert(j.get("error"), single_line=True, limit=120))
            continue
        if not j.get("parsed"):
            t.append("unparsed ", style=f"bold {pal.bad}")
            t.append_text(inert(j.get("problem"), single_line=True, limit=120))
            t.append("\n")
            t.append_text(inert(j.get("reply"), style="dim"))
            continue
        t.append("GRADE ", style="dim")
        t.append_text(inert(j.get("grade"), style="bold", single_line=True, limit=40))
        t.append(f" (score {fmt.dec(j.get('score'))})", style="dim")
        if j.get("reasoning"):
            t.append("\n")
            t.append_text(inert(j.get("reasoning")))
    return t


class JudgeScreen(AppScreen):
    BINDINGS = [Binding("escape", "app.pop_screen", "Back", id="judge.back")]

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id
        self.section: dict[str, Any] | None = None
        self.flagged: dict[str, str] = {}  # row key → case id

    def crumb(self) -> str:
        return f"run {self.run_id} › judge"

    def compose_body(self) -> ComposeResult:
        with VerticalScroll(id="judge-body"):
            yield Static(id="judge-summary")
        yield KeyedTable(id="judge-flagged", zebra_stripes=True, enter_label="Inspect")

    def on_mount(self) -> None:
        self.query_one("#judge-summary", Static).update(Text("loading…", style="dim"))
        table = self.query_one("#judge-flagged", KeyedTable)
        table.border_title = "Flagged — judges or judge samples disagree, or the reply had no grade"
        table.set_columns([("case", "case", 14), ("template#", "sample", 12), ("why", "why", 10),
                           ("verdicts", "verdicts", 30)], flex="verdicts")
        self.load()

    def on_theme_change(self) -> None:
        if self.section is not None:
            self.show(self.section)

    @work(thread=True, exclusive=True, group="judge")
    def load(self) -> None:
        try:
            run, section = load_judge_section(self.tapp.db_path, self.run_id)
        except Exception as exc:  # noqa: BLE001 — shown on screen, one line
            self.app.call_from_thread(self.query_one("#judge-summary", Static).update,
                                      Text(f"cannot load the judge section: {sanitize(exc, single_line=True)}"))
            return
        self.run_id = run["id"]
        self.app.call_from_thread(self.show, section or {})

    def show(self, section: dict[str, Any]) -> None:
        self.section = section
        pal = fmt.Palette.of(self.app)
        scorers = section.get("scorers") or []
        summary = Text()
        if not scorers:
            summary.append("This run's suite has no judge scorer (scorers: - {type: judge, model: …}).", style="dim")
        for i, sec in enumerate(scorers):
            if i:
                summary.append("\n\n")
            summary.append_text(scorer_text(sec, pal))
        self.query_one("#judge-summary", Static).update(summary)
        rows = []
        self.flagged = {}
        for sec in scorers:
            name = sec.get("name")
            for d in sec.get("disagreements") or []:
                verdicts = ", ".join(f"{j}: {v}" for j, v in (d.get("verdicts") or {}).items())
                rows.append(self._row(name, d, d.get("reason") or "", verdicts))
            for u in sec.get("unparsed") or []:
                rows.append(self._row(name, u, "unparsed", f"{u.get('judge')}: {u.get('problem')}"))
            for o in (sec.get("pairwise") or {}).get("order_dependent") or []:
                rows.append(self._row(name, o, "order", "the verdict changed with the answers' order: a tie"))
        table = self.query_one("#judge-flagged", KeyedTable)
        table.sync(rows)
        table.display = bool(rows)
        if rows:
            table.focus()

    def _row(self, scorer: Any, d: dict[str, Any], why: str, verdicts: str) -> tuple[str, list[Any]]:
        key = f"{scorer}|{why}|{d.get('case_id')}|{d.get('template')}|{d.get('sample_index')}|{len(self.flagged)}"
        self.flagged[key] = str(d.get("case_id"))
        return key, [inert(d.get("case_id"), single_line=True),
                     inert(f"{d.get('template')}#{d.get('sample_index')}", single_line=True),
                     Text(why), inert(verdicts, single_line=True, limit=200)]

    @on(DataTable.RowSelected, "#judge-flagged")
    def _selected(self) -> None:
        from tuieval.tui.screens.inspector import InspectorScreen

        key = self.query_one("#judge-flagged", KeyedTable).cursor_key()
        if key in self.flagged:
            self.app.push_screen(InspectorScreen(self.run_id, self.flagged[key]))
