"""The total-timeout clocks of one backend's attempts, kept by one loop timer.

``asyncio.timeout`` per request makes a TimerHandle, pushes it onto the loop's heap (ordered by
Python-level comparisons, about six of them with 64 requests in flight) and cancels it again:
with everything else the backend does per request, about as much CPU as parsing the whole
stream (benchmarks/README.md, "Whole-process `tuieval run`"). Every attempt of a backend has the
same total, so their deadlines come in the order the attempts start: a FIFO of clocks and one
timer set for the oldest unfinished one do the same job. When that timer fires, the finished
clocks are dropped, the expired ones cancel their tasks, and the timer is set again for the new
oldest. An attempt that starts with an earlier deadline than one before it (the total was
shortened while attempts ran) gets a timer of its own.

The rules are ``asyncio.timeout``'s: an expired clock cancels its task; when the attempt ends,
the cancellation is taken back (``Task.uncancel``), and the CancelledError becomes a timeout
only if no other cancellation was requested meanwhile — a request cancelled from outside (the
run stopped) stays cancelled.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["AttemptClock", "Deadlines"]


class AttemptClock:
    """One attempt's deadline (loop time) and whether it has expired."""

    __slots__ = ("task", "when", "cancelling", "expired", "done", "own_timer")

    def __init__(self, task: asyncio.Task, when: float) -> None:
        self.task: asyncio.Task | None = task
        self.when = when
        #: cancellations already requested when the attempt began (asyncio.timeout keeps the same)
        self.cancelling = task.cancelling()
        self.expired = False
        self.done = False
        self.own_timer: asyncio.TimerHandle | None = None

    def expire(self) -> None:
        if not self.done and not self.expired and self.task is not None:
            self.expired = True
            self.task.cancel()


class Deadlines:
    """The clocks of one backend's attempts on the running loop (see the module docstring)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: deque[AttemptClock] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._armed_for = 0.0

    def start(self, seconds: float) -> AttemptClock:
        """A clock for the current task that expires ``seconds`` from now."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("an attempt's deadline needs a task")
        if loop is not self._loop:  # a new loop: the old one's clocks and timer are gone with it
            self._loop, self._queue, self._timer = loop, deque(), None
        clock = AttemptClock(task, loop.time() + seconds)
        queue = self._queue
        if queue and clock.when < queue[-1].when:
            clock.own_timer = loop.call_at(clock.when, clock.expire)
            return clock
        queue.append(clock)
        if self._timer is None:
            self._arm(loop, clock.when)
        elif clock.when < self._armed_for:
            # the queue had emptied, and the timer is still set for a longer total's deadline
            self._timer.cancel()
            self._arm(loop, clock.when)
        return clock

    def finish(self, clock: AttemptClock) -> bool:
        """The attempt is over (call it once, whatever happened). True when its deadline expired
        and no other cancellation was requested: a CancelledError it raised is then its timeout."""
        clock.done = True
        task, clock.task = clock.task, None
        if clock.own_timer is not None:
            clock.own_timer.cancel()
            clock.own_timer = None
        queue = self._queue
        while queue and queue[0].done:  # finished clocks leave from the front, as they usually end
            queue.popleft()
        if not clock.expired or task is None:
            return False
        return task.uncancel() <= clock.cancelling

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        self._armed_for = when
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        loop = self._loop
        assert loop is not None
        # The loop runs a timer up to its clock resolution early: the armed time has come.
        now = max(loop.time(), self._armed_for)
        queue = self._queue
        while queue and (queue[0].done or queue[0].when <= now):
            queue.popleft().expire()
        if queue:
            self._arm(loop, queue[0].when)
