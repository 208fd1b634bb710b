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
    """A rejected value: `field` is the input's id, the message names it as the form labels it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


#: the label each field has on the form, used in its error message
LABELS = {"model": "model", "samples": "samples", "temperature": "temperature", "concurrency": "concurrency",
          "slo_ms": "SLO ms", "limit": "limit", "base_url": "base URL"}


def _number(values: dict[str, str], field: str, kind: type, *, low: float | None = None,
            high: float | None = None, low_open: bool = False, optional: bool = False) -> Any:
    """The field's value as `kind`; empty is None only where the form says what empty means."""
    name = LABELS[field]
    raw = values.get(field, "").strip()
    if not raw:
        if optional:
            return None
        raise FormError(field, f"{name}: required (a {'whole ' if kind is int else ''}number)")
    try:
        value = kind(raw)
    except ValueError:
        raise FormError(field, f"{name}: expected a {'whole ' if kind is int else ''}number, got {raw!r}") from None
    if kind is float and value != value:  # NaN compares false with every bound
        raise FormError(field, f"{name}: expected a number, got {raw!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise FormError(field, f"{name}: must be {'>' if low_open else '≥'} {low:g}, got {raw}")
    if high is not None and value > high:
        raise FormError(field, f"{name}: must be ≤ {high:g}, got {raw}")
    return value


def parse_form(values: dict[str, str]) -> RunRequest:
    """Validate the form's strings into a RunRequest; FormError names the first bad field."""
    model = values.get("model", "").strip()
    if "/" not in model or model.endswith("/") or model.startswith("/"):
        raise FormError("model", "model: expected provider/model, e.g. demo/steady or openai/gpt-4o-mini")
    return RunRequest(
        model=model,
        samples=_number(values, "samples", int, low=1, high=1000),
        temperature=_number(values, "temperature", float, low=0, high=2),
        concurrency=_number(values, "concurrency", int, low=1, high=1024),
        slo_ms=_number(values, "slo_ms", float, low=0, low_open=True, optional=True),
        limit=_number(values, "limit", int, low=1, optional=True),
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
            # Plain text inputs: a typed value stays as typed (a number-only input would drop the
            # keys it rejects), and parse_form says at the field what is wrong with it.
            fields = [
                ("model", Input(self.model, id="model", compact=True, suggester=SuggestFromList(MODEL_SUGGESTIONS),
                                tooltip="provider/model; demo/* are simulated models (no key, no network)")),
                ("samples", Input(str(s.sampling.samples), id="samples", compact=True)),
                ("temperature", Input(f"{s.sampling.temperature:g}", id="temperature", compact=True)),
                ("concurrency", Input("8", id="concurrency", compact=True)),
                ("slo_ms", Input("" if s.slo_ms is None else f"{s.slo_ms:g}", id="slo_ms", compact=True,
                                 placeholder="none")),
                ("limit", Input("", id="limit", compact=True, placeholder=f"all {len(s.cases)} cases")),
                ("base_url", Input("", id="base_url", compact=True, placeholder="for openai-compatible/, vllm/, ollama/")),
            ]
            with Grid(id="run-form-grid"):
                for field, widget in fields:
                    yield Label(LABELS[field])
                    yield widget
                    yield Static("", id=f"error-{field}", classes="field-error")
            yield Static("", id="run-form-error")
            with Horizontal(id="run-form-buttons"):
                yield Button("Start run", id="start", variant="primary", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#run-form").border_title = "New run"
        self.on_mount_errors()
        if getattr(self.app, "snapshot", False):
            for field in self.query(Input):
                field.cursor_blink = False  # a blinking cursor would make snapshots flaky
        self.query_one("#model", Input).focus()

    def values(self) -> dict[str, str]:
        return {i.id or "": i.value for i in self.query(Input)}

    def on_mount_errors(self) -> None:
        for err in self.query(".field-error").results(Static):
            err.display = False

    def show_error(self, exc: FormError | None) -> None:
        """The message under the field it is about, that field marked and focused; None clears."""
        for err in self.query(".field-error").results(Static):
            err.update("")
            err.display = False
        for field in self.query(Input):
            field.set_class(exc is not None and field.id == exc.field, "-invalid")
        self.query_one("#run-form-error", Static).update("")
        if exc is None:
            return
        err = self.query_one(f"#error-{exc.field}", Static)
        err.update(Text(f"↑ {exc}", style="bold"))
        err.display = True
        self.query_one(f"#{exc.field}", Input).focus()

    def action_submit(self) -> None:
        try:
            request = parse_form(self.values())
        except FormError as exc:
            self.show_error(exc)
            return
        self.show_error(None)
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
