"""Variance inspector: one case's N answers grouped into semantic clusters.

Per template: consistency (modal share) and discrete semantic entropy. The tree lists each
cluster (size, correct or not, representative) with every member on expand; the two panes
below show two clusters side by side — the highlighted one on the left, the pinned one
(`x`, by default the runner-up) on the right. When the run reads its answers with several
extractors, a panel beside the clusters shows what each one read from this case's samples
(open at first when they disagree on the case; `d` hides or shows it). All answer text is rendered inert.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static, Tree

from tuieval.tui import fmt
from tuieval.tui.data import CaseDetail, ClusterView, TemplateGroup, load_case
from tuieval.tui.sanitize import inert, sanitize
from tuieval.tui.robustness_data import ExtractorReading, load_case_extractions
from tuieval.tui.screens.base import AppScreen
from tuieval.tui.widgets.extractor_panel import ExtractorPanel, readings_text


def _json(v: Any) -> str:
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


class InspectorScreen(AppScreen):
    BINDINGS = [
        Binding("x", "pin", "Compare →", id="inspector.pin"),
        Binding("e", "expand_all", "Expand all", id="inspector.expand"),
        Binding("d", "toggle_extractors", "Extractors", id="inspector.extractors"),
        Binding("escape", "app.pop_screen", "Back", id="inspector.back"),
    ]

    def __init__(self, run_id: str, case_id: str, sample: tuple[str, int] | None = None) -> None:
        super().__init__()
        self.run_id = run_id
        self.case_id = case_id
        #: (template, sample index) to put the cursor on once loaded (a search result)
        self.sample = sample
        self.detail: CaseDetail | None = None
        self.pinned: tuple[TemplateGroup, ClusterView] | None = None
        #: (template, sample index) → the judge's verdicts on that answer (tui.judge_data)
        self.judgements: dict[tuple[str, int], list[dict[str, Any]]] = {}
        self._extractor_names: list[str] = []
        self._readings: list[ExtractorReading] | None = None

    def crumb(self) -> str:
        return f"run {self.run_id} › case {self.case_id}"

    def compose_body(self) -> ComposeResult:
        yield Static(id="insp-title")
        with Horizontal(id="insp-top"):
            yield Tree("answers", id="insp-tree")
            yield ExtractorPanel(id="insp-extract", classes="pane")
        with Horizontal(id="insp-compare"):
            with VerticalScroll(id="pane-a", classes="pane"):
                yield Static(id="pane-a-body")
            with VerticalScroll(id="pane-b", classes="pane"):
                yield Static(id="pane-b-body")

    def on_mount(self) -> None:
        tree = self.query_one("#insp-tree", Tree)
        tree.show_root = False
        tree.border_title = "Clusters — Enter expands, x pins for comparison"
        self.query_one("#insp-title", Static).update(Text("loading…", style="dim"))
        self.load()
        self._extractor_names = self._run_extractors()
        panel = self.query_one("#insp-extract", ExtractorPanel)
        panel.display = False  # until the readings show that the extractors disagree on this case
        panel.border_title = "Extractors on this case"
        if self._extractor_names:
            self.load_extractions(self._extractor_names)

    def on_theme_change(self) -> None:
        if self.detail is not None:
            self.show(self.detail)
        if self._readings is not None:
            self._show_extractions(self._readings)

    def _run_extractors(self) -> list[str]:
        """The extractors the run's report compares (those that read something), if any."""
        from tuieval.tui.screens.extractors import applicable_names

        data = self.tapp.run_data(self.run_id)
        section = ((data.report.get("robustness") or {}).get("extractors") if data is not None else None) or {}
        names = applicable_names(section)
        return names if len(names) >= 2 else []

    @work(thread=True, exclusive=True, group="inspector-extractors")
    def load_extractions(self, names: list[str]) -> None:
        readings = load_case_extractions(self.tapp.db_path, self.run_id, self.case_id, names)
        self.app.call_from_thread(self._show_extractions, readings)

    def _show_extractions(self, readings: list[ExtractorReading]) -> None:
        if self._readings is None:  # first shown: open beside the clusters when the readings differ
            self.query_one("#insp-extract", ExtractorPanel).display = any(r.disagree for r in readings)
        self._readings = readings
        self.query_one("#insp-extract", ExtractorPanel).show(readings_text(readings, fmt.Palette.of(self.app)))

    def action_toggle_extractors(self) -> None:
        if not self._extractor_names:
            self.notify("this run reads its answers one way: `tuieval rescore RUN` compares extractors")
            return
        panel = self.query_one("#insp-extract", ExtractorPanel)
        panel.display = not panel.display

    @work(thread=True, exclusive=True, group="inspector")
    def load(self) -> None:
        from tuieval.tui.judge_data import load_case_judgements

        detail = load_case(self.tapp.db_path, self.run_id, self.case_id)
        self.judgements = load_case_judgements(self.tapp.db_path, self.run_id, self.case_id)
        self.app.call_from_thread(self.show, detail)

    # -- painting ------------------------------------------------------------------------------------------------

    def show(self, detail: CaseDetail) -> None:
        self.detail = detail
        pal = fmt.Palette.of(self.app)
        case = detail.case
        n = sum(g.n for g in detail.groups)
        t = Text()
        t.append(sanitize(self.case_id, single_line=True), style="bold")
        t.append(f"  {n} answers · {len(detail.groups)} template(s) · clusters by {detail.method}", style="dim")
        for k, v in (case.get("metadata") or {}).items():
            t.append("  ")
            t.append(sanitize(f"{k}={v}", single_line=True, limit=40), style="dim")
        t.append("\ntarget ", style=f"bold {pal.good}")
        t.append(sanitize(", ".join(_json(x) for x in case.get("targets") or []), single_line=True, limit=200) or "(none)")
        self.query_one("#insp-title", Static).update(t)

        tree = self.query_one("#insp-tree", Tree)
        tree.clear()
        first_cluster = None
        for g in detail.groups:
            label = Text(no_wrap=True, overflow="ellipsis")
            label.append(f"template {sanitize(g.template, single_line=True, limit=20)}", style="bold")
            label.append(f" · {g.n} answers · consistency {fmt.pct(g.consistency)} · "
                         f"sem. entropy {fmt.dec(g.semantic_entropy)}", style="")
            if g.semantic_entropy_normalized is not None:
                label.append(f" ({fmt.pct(g.semantic_entropy_normalized)} of max)", style="dim")
            label.append(f" · acc {fmt.pct(g.accuracy)}", style=fmt.acc_style(g.accuracy, pal))
            node = tree.root.add(label, data=("template", g, None, None), expand=True)
            for c in g.clusters:
                cl = Text(no_wrap=True, overflow="ellipsis")
                share = c.size / max(1, g.n - g.n_errors)
                cl.append(f"{c.size:>3}× {share:>4.0%} ", style="bold")
                cl.append("✓ " if c.correct else "✗ ", style=pal.good if c.correct else pal.bad)
                cl.append_text(inert(c.representative, single_line=True, limit=120))
                cnode = node.add(cl, data=("cluster", g, c, None))
                for s in c.members:
                    cnode.add_leaf(self._member_label(s, pal), data=("member", g, c, s))
                if first_cluster is None:
                    first_cluster = (g, c)
            if g.errors:
                enode = node.add(Text(f"{g.n_errors}× errors (excluded from clusters, counted as wrong)",
                                      style=pal.bad), data=("errors", g, None, None))
                for s in g.errors:
                    enode.add_leaf(self._member_label(s, pal), data=("member", g, None, s))
        # Default comparison: the two largest clusters of the first template that has two.
        second = None
        for g in detail.groups:
            if len(g.clusters) >= 2:
                first_cluster, second = (g, g.clusters[0]), (g, g.clusters[1])
                break
        self.pinned = second
        tree.focus()
        if tree.root.children:
            tree.move_cursor(tree.root.children[0].children[0] if tree.root.children[0].children else tree.root.children[0])
        self.paint_panes(first_cluster)
        if self.sample is not None:
            self._focus_sample(tree, self.sample)

    def _focus_sample(self, tree: Tree, sample: tuple[str, int]) -> None:
        """Expand the sample's cluster (or the errors) and put the cursor on the sample."""
        for template in tree.root.children:
            for group in template.children:
                for leaf in group.children:
                    s = leaf.data[3] if leaf.data else None
                    if s is not None and (s.get("template"), int(s.get("sample_index", -1))) == sample:
                        group.expand()
                        # the expanded lines are laid out on the next refresh
                        self.call_after_refresh(tree.move_cursor, leaf)
                        return

    def _member_label(self, s: dict[str, Any], pal: fmt.Palette) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"#{s.get('sample_index')} ", style="dim")
        if s.get("error"):
            t.append("error ", style=pal.bad)
            t.append_text(inert(s.get("error"), single_line=True, limit=80))
            return t
        t.append("✓ " if s.get("correct") else "✗ ", style=pal.good if s.get("correct") else pal.bad)
        t.append(f"{fmt.ms(s.get('latency_ms')):>6} ", style="dim")
        t.append_text(inert(s.get("response"), single_line=True, limit=120))
        return t

    def _cluster_pane(self, which: str, item: tuple[TemplateGroup, ClusterView] | None,
                      member: dict[str, Any] | None = None) -> Text:
        pal = fmt.Palette.of(self.app)
        t = Text()
        if item is None:
            t.append("only one cluster: every answer to this case means the same thing" if which == "B"
                     else "", style="dim")
            return t
        g, c = item
        rank = g.clusters.index(c) + 1 if c in g.clusters else 0
        t.append(f"{which} · cluster {rank} of {len(g.clusters)}", style="bold")
        t.append(f" · {c.size} of {g.n - g.n_errors} answers · ", style="dim")
        t.append("correct" if c.correct else "wrong", style=f"bold {pal.good if c.correct else pal.bad}")
        if len({x.template for x in (self.detail.groups if self.detail else [])}) > 1:
            t.append(f" · template {sanitize(g.template, single_line=True)}", style="dim")
        t.append("\n\n")
        shown = member or (c.members[0] if c.members else None)
        if member is not None:
            t.append(f"sample #{member.get('sample_index')}\n", style="dim")
        else:
            t.append("representative\n", style="dim")
        t.append_text(inert(shown.get("response") if shown else c.representative))
        if shown is not None and shown.get("extracted") not in (None, shown.get("response")):
            t.append("\nextracted ", style="dim")
            t.append_text(inert(shown.get("extracted"), single_line=True, limit=200))
        if shown is not None:  # the judge's reasoning next to the answer it judged
            from tuieval.tui.screens.judge import judgements_text

            t.append_text(judgements_text(self.judgements.get((g.template, shown.get("sample_index")), []), pal))
        t.append("\n\nmembers ", style="dim")
        lat = [s.get("latency_ms") for s in c.members]
        t.append(", ".join(f"#{s.get('sample_index')} ({fmt.ms(x)})" for s, x in zip(c.members, lat)), style="dim")
        return t

    def paint_panes(self, a: tuple[TemplateGroup, ClusterView] | None, member: dict[str, Any] | None = None) -> None:
        self.query_one("#pane-a-body", Static).update(self._cluster_pane("A", a, member))
        b = self.pinned if self.pinned is not None and (a is None or self.pinned[1] is not a[1]) else None
        if b is None and a is not None:
            g = a[0]
            b = next(((g, c) for c in g.clusters if c is not a[1]), None)
        self.query_one("#pane-b-body", Static).update(self._cluster_pane("B", b))

    @on(Tree.NodeHighlighted, "#insp-tree")
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        kind, g, c, s = event.node.data or (None, None, None, None)
        if kind == "cluster":
            self.paint_panes((g, c))
        elif kind == "member" and c is not None:
            self.paint_panes((g, c), s)
        elif kind == "member" and s is not None:
            t = Text()
            t.append(f"sample #{s.get('sample_index')} · error\n\n", style="bold")
            t.append_text(inert(s.get("error")))
            if s.get("response"):
                t.append("\n\npartial response\n", style="dim")
                t.append_text(inert(s.get("response")))
            self.query_one("#pane-a-body", Static).update(t)
        elif kind == "template" and g is not None and g.clusters:
            self.paint_panes((g, g.clusters[0]))

    def action_pin(self) -> None:
        node = self.query_one("#insp-tree", Tree).cursor_node
        if node is None or not node.data:
            return
        kind, g, c, _ = node.data
        if c is None:
            return
        self.pinned = (g, c)
        self.query_one("#pane-b-body", Static).update(self._cluster_pane("B", self.pinned))
        self.notify("pinned on the right; move the cursor to compare", timeout=2)

    def action_expand_all(self) -> None:
        tree = self.query_one("#insp-tree", Tree)
        for node in tree.root.children:
            node.expand_all()
