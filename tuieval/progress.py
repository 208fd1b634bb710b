"""The headless face: a progress line on stderr built from engine events.

On a terminal it redraws one line; otherwise (CI logs) it prints a plain line at most every
few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tuieval.engine.events import (ConcurrencyChanged, Event, JudgeFinished, RunFinished, RunStarted, SampleFinished,
                                   SampleRetry, SampleStarted, TokenDelta)
from tuieval.units import format_duration as _duration

#: events the progress line does not show (a request sent, a streamed delta)
_NOT_SHOWN = frozenset({SampleStarted, TokenDelta})




class Progress:
    #: events this listener drops unread: the engine does not build them for it (Engine.run)
    ignored_events = _NOT_SHOWN

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False, interval_s: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.interval_s = interval_s if not self.tty else 0.1
        self.total = 0
        self.done = 0
        self.baseline = 0
        self.errors = 0
        self.retries = 0
        #: judge requests (counted apart from the samples they judge)
        self.judged = 0
        self.judge_total = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.label = ""

    def __call__(self, event: Event) -> None:
        if event.__class__ in _NOT_SHOWN:  # two of every sample's events: nothing to count or draw
            return
        if isinstance(event, RunStarted):
            self.total, self.done, self.baseline = event.n_total, event.n_already_done, event.n_already_done
            self.judged, self.judge_total = event.n_judge_done, event.n_judge_total
            self.started = time.monotonic()
            sim = " (simulated)" if event.simulated else ""
            verb = "resuming" if event.resumed else "running"
            self.label = f"{event.suite} · {event.model}{sim}"
            self._line(f"{verb} {event.run_id}: {self.label}, {event.n_total} samples"
                       + (f", {event.n_already_done} already done" if event.n_already_done else ""), force=True)
        elif isinstance(event, SampleFinished):
            self.done += 1
            if event.row.get("error"):
                self.errors += 1
            self._draw()
        elif isinstance(event, JudgeFinished):
            self.judged, self.judge_total = event.n_judge_done, event.n_judge_total
            self._draw()
        elif isinstance(event, SampleRetry):
            self.retries += 1
        elif isinstance(event, ConcurrencyChanged) and not self.tty:
            self._line(f"concurrency now {event.limit} ({event.reason})", force=True)
        elif isinstance(event, RunFinished):
            self.done = event.n_done
            self._draw(force=True)
            if self.tty and not self.quiet:
                self.stream.write("\n")
            judged = f", {self.judged}/{self.judge_total} judged" if self.judge_total else ""
            self._line(f"{event.status}: {event.n_done}/{event.n_total} samples{judged}, {event.n_errors} errors, "
                       f"{self.retries} retries in {_duration(event.elapsed_s)}", force=True)

    def note(self, text: str) -> None:
        """A line of its own above the progress bar (warnings, early decisions)."""
        self._line(text, force=True)
        if self.tty:
            self._draw(force=True)

    def status_text(self) -> str:
        elapsed = time.monotonic() - self.started
        new = self.done - self.baseline
        rate = new / elapsed if elapsed > 0 else 0.0
        remaining = self.total - self.done
        eta = _duration(remaining / rate) if rate > 0 else "?"
        frac = self.done / self.total if self.total else 1.0
        width = 24
        bar = "#" * int(frac * width) + "." * (width - int(frac * width))
        return (f"[{bar}] {self.done}/{self.total} {frac:4.0%}  {rate:.1f}/s  ETA {eta}  "
                f"errors {self.errors}  retries {self.retries}"
                + (f"  judged {self.judged}/{self.judge_total}" if self.judge_total else ""))

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < self.interval_s:
            return
        self.last_draw = now
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r" + self.status_text() + "\x1b[K")
            self.stream.flush()
        else:
            self._line(self.status_text(), force=True)

    def _line(self, text: str, force: bool = False) -> None:
        if self.quiet:
            return
        if self.tty:
            self.stream.write("\r\x1b[K")
        self.stream.write(text + "\n")
        self.stream.flush()
