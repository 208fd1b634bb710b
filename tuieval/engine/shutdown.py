"""Stopping always stops: Ctrl-C or SIGTERM ends a run within a deadline, whatever the sockets do.

The first signal cancels the run's task: in-flight requests are cancelled, the engine marks
the run partial and the command exits 130. Cleanup that hangs — a socket that will not
close, a task that swallows its cancellation, a DNS lookup in the default executor, which
``asyncio.run`` waits for on its way out — cannot hold the process: a watchdog thread armed
by the signal runs ``on_deadline`` (mark the run partial, say how to resume) and ends the
process with ``os._exit`` once ``deadline_s`` has passed. A second signal ends it at once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from typing import Callable

__all__ = ["ShutdownDeadline", "DEFAULT_DEADLINE_S"]

#: Seconds from the first signal to a forced exit (the promise is "within 5 s").
DEFAULT_DEADLINE_S = 4.0


class ShutdownDeadline:
    def __init__(self, on_deadline: Callable[[], None], *, deadline_s: float = DEFAULT_DEADLINE_S,
                 exit_code: int = 130) -> None:
        self.on_deadline = on_deadline
        self.deadline_s = deadline_s
        self.exit_code = exit_code
        self.signalled = False
        #: Set by the command once it has reported the interruption itself.
        self.reported = False
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def install(self, task: asyncio.Task) -> None:
        """Handle SIGINT and SIGTERM on the running loop by cancelling ``task``."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_signal, task)

    def _on_signal(self, task: asyncio.Task) -> None:
        if self.signalled:
            self.force_exit()  # a second signal: the user means it
            return
        self.signalled = True
        self._timer = threading.Timer(self.deadline_s, self.force_exit)
        self._timer.daemon = True
        self._timer.start()
        task.cancel()

    def report_once(self, report: Callable[[], None]) -> None:
        """Run ``report`` unless the interruption was reported already (by either path)."""
        with self._lock:
            if self.reported:
                return
            self.reported = True
            report()

    def force_exit(self) -> None:
        """Report (unless already done) and end the process now, from any thread."""
        try:
            self.report_once(self.on_deadline)
        except Exception:  # the exit matters more than the report
            pass
        with self._lock:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
            os._exit(self.exit_code)
