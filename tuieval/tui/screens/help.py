"""The help screen: the screens, their keys, and what the numbers mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# tuieval

Evaluate a model on its **tails**: the slices it fails, the answers that change from one
sample to the next, and what p99 latency does to correctness.

## Screens

| key | screen | what it shows |
|---|---|---|
| `1` | **Suites** | suites → templates and cases; `/` filters (words, or `key=value` on metadata); `n` starts a run; `d` runs the demo |
| `2` | **Live** | the run in progress: progress, throughput, ETA, errors, retries, samples in flight, the focused sample streaming, live slices. `c` cancels (the run is kept as *partial*), `f` follows the newest sample, Enter on an in-flight row pins it, `[` `]` switch runs, `b` opens the scoreboard |
| `3` | **Runs** | every run in the database, also those written by `tuieval run` in another terminal (refreshed every 2 s). Enter opens, `l` watches live, space marks two runs and `c` compares them, `e` exports the report |

From a run: **Scoreboard** (slices × metrics, worst first; `o` changes the sort, a click on a
column header sorts by it) → Enter → **cases of the slice** (worst first) → Enter → **variance
inspector** (the case's answers in clusters; Enter expands a cluster, `x` pins one on the right to
compare). `Esc` goes back.

`Ctrl+P` opens the command palette (run a suite, open a run, export a report, theme),
`F2` switches dark/light, `?` shows this help, `q` quits.

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


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Help — Esc closes"

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(None)
