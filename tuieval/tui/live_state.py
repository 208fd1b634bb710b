"""What the app knows about a run while it happens, kept in plain Python objects.

The engine calls `LiveRun.handle(event)` on the app's event loop for every event, up to
thousands a second when tokens stream. Each call is O(1) and touches no widget: tokens are
appended to the in-flight sample's buffer, counters move, the per-slice aggregator takes the
finished row. Screens read this state on their own timer (≤ 4 Hz for tables), so a burst of
events costs a burst of list appends, not a burst of repaints.

A run written by another process is followed the same way: rows polled with
`Store.samples_since` go through `LiveRun.ingest_row`.
"""

from __future__ import annotations

import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from tuieval.engine.events import (
    ConcurrencyChanged,
    RunFinished,
    RunStarted,
    SampleFinished,
    SampleKey,
    SampleRetry,
    SampleStarted,
    TokenDelta,
)

THROUGHPUT_WINDOW_S = 10.0
RECENT = 50


@dataclass
class InFlight:
    key: SampleKey
    started: float
    attempt: int = 1
    dispatch_order: int = 0
    tokens: list[str] = field(default_factory=list)
    n_chars: int = 0
    prompt: str = ""

    def text(self) -> str:
        if len(self.tokens) > 1:
            self.tokens[:] = ["".join(self.tokens)]
        return self.tokens[0] if self.tokens else ""


@dataclass
class Finished:
    key: SampleKey
    correct: bool
    error: str | None
    latency_ms: float | None
    response: str
    at: float
    prompt: str = ""


def for_run(run: dict[str, Any], cases: list[dict[str, Any]], *, clock: Callable[[], float] = time.monotonic,
            external: bool = False) -> "LiveRun":
    """A LiveRun for a stored run, with its slice aggregator set up from the run's cases and config."""
    return LiveRun(run["id"], suite=run["suite"], model=run["model"], simulated=bool(run.get("simulated")),
                   n_total=run["n_expected"], clock=clock, external=external, cases=cases,
                   samples_per_case=max(1, int(run.get("samples_per_case") or 1)) * max(1, int(run.get("n_templates") or 1)),
                   theta=gate_threshold(run.get("config")), n_cases=int(run.get("n_cases") or len(cases)),
                   samples=max(1, int(run.get("samples_per_case") or 1)))


def _prompt_text(messages: Any) -> str:
    if isinstance(messages, str):
        try:
            messages = json.loads(messages)
        except ValueError:
            return messages
    if isinstance(messages, list):
        return "\n\n".join(f"{m.get('role', '')}: {m.get('content', '')}" for m in messages if isinstance(m, dict))
    return ""


def gate_threshold(config: dict[str, Any] | None) -> float | None:
    """The overall accuracy gate's minimum, used as θ for the live "decisively below" test."""
    for gate in (config or {}).get("gates") or []:
        if gate.get("metric") == "accuracy" and gate.get("min") is not None and not gate.get("slice"):
            theta = float(gate["min"])
            return theta if 0.0 < theta < 1.0 else None
    return None


def make_slice_aggregator(cases: list[dict[str, Any]] | None = None, *, samples_per_case: int = 1,
                          theta: float | None = None):
    """tuieval.analysis.live's LiveScoreboard behind the small interface the screens use."""
    from tuieval.analysis.live import LiveScoreboard

    if cases:
        board = LiveScoreboard.from_cases(cases, samples_per_case=samples_per_case, theta=theta)
    else:
        board = LiveScoreboard(samples_per_case=samples_per_case, theta=theta)
    return LiveAdapter(board)


class LiveAdapter:
    """LiveScoreboard rows as the screens want them, cached until the next sample arrives.

    The displayed interval is the confidence sequence (docs/statistics.md §7.2), which stays valid however
    often it is looked at; it covers the `n_sequenced` cases whose samples have all arrived in
    dispatch order (docs/statistics.md §7 ordering caveat), so it can lag `n_cases` (cases with any answer).
    Before a slice's first case is sequenced the interval falls back to Wilson.
    """

    kind = "live"

    def __init__(self, board: Any) -> None:
        self.board = board
        self.version = 0
        self._rows: list[dict[str, Any]] | None = None
        self._rows_version = -1
        self._seen: set[Any] = set()
        self._cases_seen: dict[Any, int] = {}

    def add(self, row: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
        self.board.add(row)
        cid = row.get("case_id")
        if cid not in self._seen:
            self._seen.add(cid)
            for key in self.board.case_slices.get(cid, ()):
                self._cases_seen[key] = self._cases_seen.get(key, 0) + 1
        self.version += 1

    def finish(self) -> None:
        self.board.flush()
        self.version += 1

    def rows(self) -> list[dict[str, Any]]:
        if self._rows is not None and self._rows_version == self.version:
            return self._rows
        snap = self.board.snapshot(with_latency=False)
        out = []
        from tuieval.analysis.live import OVERALL

        for name, sl in [("overall", snap["overall"]), *snap["slices"].items()]:
            live = sl.get("live") or {}
            cs = live.get("cs")
            key = OVERALL if name == "overall" else (sl.get("key"), sl.get("value"))
            out.append({
                "key": "overall" if name == "overall" else sl.get("key"),
                "value": "" if name == "overall" else sl.get("value"),
                "n_cases": self._cases_seen.get(key, 0), "n_sequenced": live.get("t", 0),
                "n_samples": sl.get("n_samples"), "n_errors": sl.get("n_errors"),
                "planned_cases": sl.get("planned_cases"),
                "accuracy": sl.get("accuracy"), "accuracy_ci": sl.get("accuracy_ci"),
                "ci": cs if cs else sl.get("accuracy_ci"), "point": live.get("mean"),
                "error_rate": sl.get("error_rate"),
                "decisively_below": live.get("decisively_below"), "theta": live.get("theta"),
            })
        self._rows, self._rows_version = out, self.version
        return out


class LiveRun:
    """One run in progress (ours, driven by the engine, or another process's, polled)."""

    def __init__(self, run_id: str, *, suite: str = "", model: str = "", simulated: bool = False,
                 n_total: int = 0, clock: Callable[[], float] = time.monotonic, external: bool = False,
                 cases: list[dict[str, Any]] | None = None, samples_per_case: int = 1,
                 theta: float | None = None, n_cases: int | None = None, samples: int | None = None) -> None:
        self.run_id = run_id
        self.suite = suite
        self.model = model
        self.simulated = simulated
        self.n_total = n_total
        self.n_done = 0
        #: samples one case gets in all (samples × templates), and samples per case and template
        self.per_case = max(1, samples_per_case)
        self.samples = samples or self.per_case
        self.n_cases = n_cases if n_cases is not None else len(cases or [])
        #: cases every sample of which has finished (this session's and, when resumed, stored ones)
        self.cases_complete = 0
        self._case_done: dict[str, int] = {}
        self.n_already = 0
        self.n_errors = 0
        self.n_retries = 0
        self.n_correct = 0
        self.concurrency: int | None = None
        self.concurrency_note = ""
        self.status = "running"
        self.external = external
        self.clock = clock
        self.started = clock()
        self.ended: float | None = None
        self.in_flight: dict[SampleKey, InFlight] = {}
        self.recent: deque[Finished] = deque(maxlen=RECENT)
        self._finish_times: deque[float] = deque()
        self.last_note = ""
        self.slices = make_slice_aggregator(cases, samples_per_case=samples_per_case, theta=theta)
        self.version = 0
        self.last_row_id = 0
        self.worker: Any = None
        self.case_metadata: dict[str, dict[str, Any]] = {c["case_id"]: c.get("metadata") or {} for c in cases or []}
        #: per finished sample, for the live latency charts (NaN when unknown)
        self.latencies: list[float] = []
        self.corrects: list[bool] = []

    # -- engine events -----------------------------------------------------------------

    def handle(self, event: Any) -> None:
        """Apply one engine event. Called on the event loop; must stay O(1) and widget-free."""
        if isinstance(event, TokenDelta):
            item = self.in_flight.get(event.key)
            if item is not None:
                item.tokens.append(event.text)
                item.n_chars += len(event.text)
            return
        self.version += 1
        if isinstance(event, SampleStarted):
            self.in_flight[event.key] = InFlight(event.key, self.clock(), event.attempt, event.dispatch_order,
                                                 prompt=_prompt_text(event.messages))
        elif isinstance(event, SampleFinished):
            item = self.in_flight.pop(event.key, None)
            self._finish(event.row, event.metadata, item.prompt if item else "")
        elif isinstance(event, SampleRetry):
            self.n_retries += 1
            self.in_flight.pop(event.key, None)
            what = "rate limited" if event.rate_limited else event.reason
            self.last_note = f"retry {event.key.case_id}/{event.key.template}#{event.key.sample_index}: {what}"
        elif isinstance(event, ConcurrencyChanged):
            self.concurrency = event.limit
            self.concurrency_note = event.reason
        elif isinstance(event, RunStarted):
            self.suite, self.model, self.simulated = event.suite, event.model, event.simulated
            self.n_total, self.n_done, self.n_already = event.n_total, event.n_already_done, event.n_already_done
            self.started = self.clock()
        elif isinstance(event, RunFinished):
            self.status = event.status
            self.n_done = event.n_done
            self.n_errors = event.n_errors
            self.in_flight.clear()
            self.ended = self.clock()
            self.slices.finish()

    def _finish(self, row: dict[str, Any], metadata: dict[str, Any], prompt: str = "") -> None:
        now = self.clock()
        self.n_done += 1
        correct = bool(row.get("correct"))
        self.n_correct += correct
        if row.get("error"):
            self.n_errors += 1
            self.last_note = f"error {row.get('case_id')}: {row.get('error')}"
        self._finish_times.append(now)
        lat = row.get("latency_ms")
        self.latencies.append(float(lat) if isinstance(lat, (int, float)) else float("nan"))
        self.corrects.append(correct)
        cid = str(row.get("case_id"))
        done = self._case_done.get(cid, 0) + 1
        self._case_done[cid] = done
        if done == self.per_case:
            self.cases_complete += 1
        key = SampleKey(str(row.get("case_id")), str(row.get("template")), int(row.get("sample_index") or 0))
        self.recent.append(Finished(key, correct, row.get("error"), row.get("latency_ms"), row.get("response") or "",
                                    now, prompt or _prompt_text(row.get("prompt"))))
        self.slices.add(row, metadata)

    # -- rows from another process ----------------------------------------------------------

    def ingest_row(self, row: dict[str, Any]) -> None:
        self.version += 1
        self.last_row_id = max(self.last_row_id, int(row.get("id") or 0))
        self._finish(row, self.case_metadata.get(row.get("case_id"), {}))

    def mark_finished(self, status: str) -> None:
        self.status = status
        self.ended = self.clock()
        self.in_flight.clear()
        self.slices.finish()
        self.version += 1

    # -- derived figures ----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.status != "running"

    def elapsed(self) -> float:
        return (self.ended or self.clock()) - self.started

    def throughput(self) -> float | None:
        """Samples per second over the last few seconds (None before there is a rate)."""
        now = self.ended or self.clock()
        window = self._finish_times
        while window and now - window[0] > THROUGHPUT_WINDOW_S:
            window.popleft()
        if len(window) < 2:
            return None
        span = max(now - window[0], min(THROUGHPUT_WINDOW_S, now - self.started), 1e-3)
        return len(window) / span

    def eta(self) -> float | None:
        if self.finished:
            return 0.0
        rate = self.throughput()
        if not rate:
            return None
        return max(0, self.n_total - self.n_done) / rate

    @property
    def accuracy(self) -> float | None:
        n = self.n_done - self.n_already
        return self.n_correct / n if n > 0 else None

    def label(self) -> str:
        sim = " (simulated)" if self.simulated else ""
        return f"{self.suite} · {self.model}{sim}"
