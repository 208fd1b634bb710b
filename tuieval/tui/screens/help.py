"""The help screen: the screens, their keys, and what the numbers mean."""

from __future__ import annotations

import re

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
# tuieval

Evaluate a model on its **tails**: the slices it fails, the answers that change from one
sample to the next, and what p99 latency does to correctness.

## Screens

| key | screen | what it shows |
|---|---|---|
| `1` | **Suites** | suites → templates and cases; `/` filters (words, or `key=value` on metadata); `n` starts a run; `d` runs the demo |
| `2` | **Live** | the run in progress: progress, throughput, ETA, errors, retries, samples in flight, the focused sample streaming, live slices. `c` cancels (asks first; the run is kept as *partial*), `f` follows the newest sample, Enter on an in-flight row pins it, `[` `]` switch runs, `b` opens the scoreboard |
| `3` | **Runs** | every run in the database, also those written by `tuieval run` in another terminal (refreshed every 2 s). Enter opens, `l` watches live, space marks two runs and `c` compares them, `e` exports the report, `t` shows the trend of the run's suite for its model |

From a run: **Scoreboard** (slices × metrics, worst first; `o` changes the sort, a click on a
column header sorts by it) → Enter → **cases of the slice** (worst first) → Enter → **variance
inspector** (the case's answers in clusters; Enter expands a cluster, `x` pins one on the right to
compare; a judged answer shows the judge's grade and reasoning beside it). On a run with a judge
scorer, `j` opens **Judge**: its reliability, and the responses it is unsure of. `Esc` goes back.

`Ctrl+P` opens the command palette (run a suite, open a run, export a report, theme),
`F2` switches dark/light, `?` shows this help, `q` quits (asking first while a run is going).
`1` `2` `3` always go to the screen itself, whatever was opened on top of it.

## The numbers

- **n** is the number of cases (the unit of every interval); samples are in the detail line.
- **acc** mean per-sample correctness, **95% CI** its Wilson interval. Errors count as wrong.
- **cons** consistency: the share of a case's answers in its largest cluster.
- **SE** discrete semantic entropy of the clusters, in nats (0 = always the same answer).
- **pass^k** the chance that *all* k samples of a case are right.
- **err** share of requests that failed after their retries.
- **p50 / p99** nearest-rank latency percentiles; `≤` marks a p99 over fewer than 100
  samples, which is just the maximum.
- **@SLO** accuracy within the latency SLO: right *and* on time.
- **⚑** a slice that fails significantly more than the rest (q-value after multiple-testing control).
- **Live** intervals are wider on purpose: they stay valid while you watch them.

Models named `demo/…` are **simulated**: no key, no network.
Model output is shown as plain text: markup and terminal escape sequences are not interpreted.
"""


def _inline(line: str) -> Text:
    """`code` and **bold** as bold, *emphasis* as italic; colours are left to the theme."""
    out = Text()
    for part in re.split(r"(`[^`]+`|\*\*[^*]+\*\*|\*[^*]+\*)", line):
        if part.startswith("`") or part.startswith("**"):
            out.append(part.strip("`*"), style="bold")
        elif part.startswith("*") and len(part) > 1:
            out.append(part.strip("*"), style="italic")
        else:
            out.append(part)
    return out


def render_help(markdown: str) -> RenderableType:
    """The help text's small Markdown subset (headings, paragraphs, bullets, one table) drawn by Rich
    in the theme's text colours."""
    blocks: list[RenderableType] = []
    para: list[str] = []
    table: Table | None = None

    def flush() -> None:
        if para:
            blocks.append(_inline(" ".join(para)))
            blocks.append(Text(""))
            para.clear()

    for line in markdown.splitlines():
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if all(set(c) <= {"-", ":"} for c in cells):
                continue
            if table is None:
                flush()
                table = Table(box=box.SIMPLE_HEAD, header_style="bold", expand=True, show_edge=False)
                for c in cells:
                    table.add_column(_inline(c))
            else:
                table.add_row(*[_inline(c) for c in cells])
            continue
        if table is not None:
            blocks.append(table)
            blocks.append(Text(""))
            table = None
        if line.startswith("#"):
            flush()
            level, title = len(line) - len(line.lstrip("#")), line.lstrip("#").strip()
            blocks.append(Text(title, style="bold underline" if level == 1 else "bold"))
            blocks.append(Text(""))
        elif line.startswith("- "):
            flush()
            blocks.append(Text("• ").append_text(_inline(line[2:])))
        elif not line.strip():
            flush()
        elif blocks and para == [] and isinstance(blocks[-1], Text) and blocks[-1].plain.startswith("• "):
            blocks[-1].append(" ").append_text(_inline(line.strip()))  # a bullet's continuation
        else:
            para.append(line.strip())
    flush()
    if table is not None:
        blocks.append(table)
    return Group(*blocks)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        # one widget drawn by Rich; Textual's Markdown widget mounts one per block and table
        # cell and took over a second to open (benchmarks/README.md)
        with VerticalScroll(id="help"):
            yield Static(render_help(HELP), id="help-body")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help — Esc closes"

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
