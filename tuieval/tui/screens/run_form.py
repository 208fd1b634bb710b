"""The small form that starts a run: model, samples, temperature, concurrency, SLO, limit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static

from tuieval.tui.sanitize import sanitize

MODEL_SUGGESTIONS = [
    "demo/steady", "demo/brittle", "demo/flaky",
    "openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "ollama/llama3.1", "vllm/", "openai-compatible/",
]


@dataclass
class RunRequest:
    """What the run form asks for; None means the suite's own setting."""

    model: str
    samples: int | None = None
    temperature: float | None = None
    concurrency: int = 8
    slo_ms: float | None = None
    limit: int | None = None
    base_url: str | None = None


class FormError(ValueError):
    pass


def _number(raw: str, kind: type, name: str, *, low: float | None = None, high: float | None = None,
            low_open: bool = False) -> Any:
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = kind(raw)
    except ValueError:
        raise FormError(f"{name}: expected a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if low is not None and (value < low or (low_open and value == low)):
        raise FormError(f"{name}: must be {'>' if low_open else '≥'} {low:g}")
    if high is not None and value > high:
        raise FormError(f"{name}: must be ≤ {high:g}")
    return value


def parse_form(values: dict[str, str]) -> RunRequest:
    """Validate the form's strings into a RunRequest (FormError names the field)."""
    model = values.get("model", "").strip()
    if "/" not in model or model.endswith("/") or model.startswith("/"):
        raise FormError("model: expected provider/model, e.g. demo/steady or openai/gpt-4o-mini")
    concurrency = _number(values.get("concurrency", ""), int, "concurrency", low=1, high=1024) or 8
    return RunRequest(
        model=model,
        samples=_number(values.get("samples", ""), int, "samples", low=1, high=1000),
        temperature=_number(values.get("temperature", ""), float, "temperature", low=0, high=2),
        concurrency=concurrency,
        slo_ms=_number(values.get("slo_ms", ""), float, "SLO", low=0, low_open=True),
        limit=_number(values.get("limit", ""), int, "limit", low=1),
        base_url=values.get("base_url", "").strip() or None,
    )


class RunFormScreen(ModalScreen[RunRequest | None]):
    """Returns a RunRequest, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Start", show=True),
    ]

    def __init__(self, suite: Any, model: str = "demo/steady") -> None:
        super().__init__()
        self.suite = suite
        self.model = model

    def compose(self) -> ComposeResult:
        s = self.suite
        with Vertical(id="run-form"):
            yield Static(Text.assemble(("Run ", "bold"), (sanitize(s.name, single_line=True), "bold"),
                                       (f"  {len(s.cases)} cases × {len(s.templates)} template(s)", "dim")),
                         id="run-form-title")
            with Grid(id="run-form-grid"):
                yield Label("model")
                yield Input(self.model, id="model", compact=True, suggester=SuggestFromList(MODEL_SUGGESTIONS),
                            tooltip="provider/model; demo/* are simulated models (no key, no network)")
                yield Label("samples")
                yield Input(str(s.sampling.samples), id="samples", compact=True, type="integer")
                yield Label("temperature")
                yield Input(f"{s.sampling.temperature:g}", id="temperature", compact=True, type="number")
                yield Label("concurrency")
                yield Input("8", id="concurrency", compact=True, type="integer")
                yield Label("SLO ms")
                yield Input("" if s.slo_ms is None else f"{s.slo_ms:g}", id="slo_ms", compact=True, type="number",
                            placeholder="none")
                yield Label("limit")
                yield Input("", id="limit", compact=True, type="integer", placeholder=f"all {len(s.cases)} cases")
                yield Label("base URL")
                yield Input("", id="base_url", compact=True, placeholder="for openai-compatible/, vllm/, ollama/")
            yield Static("", id="run-form-error")
            with Horizontal(id="run-form-buttons"):
                yield Button("Start run", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#run-form").border_title = "New run"
        if getattr(self.app, "snapshot", False):
            for field in self.query(Input):
                field.cursor_blink = False  # a blinking cursor would make snapshots flaky
        self.query_one("#model", Input).focus()

    def values(self) -> dict[str, str]:
        return {i.id or "": i.value for i in self.query(Input)}

    def action_submit(self) -> None:
        try:
            request = parse_form(self.values())
        except FormError as exc:
            self.query_one("#run-form-error", Static).update(Text(str(exc), style="bold"))
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_submit()

    @on(Button.Pressed, "#cancel")
    def _cancel(self) -> None:
        self.action_cancel()
