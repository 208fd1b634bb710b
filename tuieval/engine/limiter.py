"""The adaptive concurrency limit: how many requests may be in flight, learned from 429s.

Two kinds of server must both work, and they look different through their 429s:

* a **rate-limited** server (a token bucket of R requests/s) answers 429 to whatever is
  above R, so the *share* of 429s grows with concurrency;
* a server with **transient** 429s (not tied to load) answers a roughly constant share,
  whatever the concurrency.

So the limit reacts to the share of 429s in a window of results, not to each 429: a window
is ``max(window_min, limit)`` results of requests dispatched since the last change. When
more than ``high`` (20%) of a window were 429s the limit shrinks by ``decrease`` (×0.7);
otherwise it grows by one (additive increase, once per window — about once per round trip).
A few transient 429s never shrink it; a saturated bucket shrinks it until the share falls
under ``high``, which keeps offered load a little above R, so the bucket never idles.
While the limit is below its maximum, dispatches are also spaced ``duration / limit`` apart
(a moving average of request durations): the same mean rate, without the bursts that a
bucket with a small burst size would reject.

A 429's Retry-After delays only the request that got it (the engine's back-off), not the
whole client. What does slow every dispatch is a server's own statement that the budget
is spent: rate-limit headers (``x-ratelimit-remaining-requests: 0`` and its reset, or the
``anthropic-ratelimit-*`` ones) space dispatches one request's share of the reset apart
(the reset divided by the budget's size when ``-limit-requests`` is sent, else the whole
reset; at most ``max_pause_s``) — slowing down *before* the 429s.

Cancellation-safe by construction: no lock is ever held across an ``await``; a waiter is a
plain future, and a woken waiter that is cancelled passes its turn on.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from tuieval.backends.base import RateLimitInfo

__all__ = ["AdaptiveLimiter"]


class AdaptiveLimiter:
    def __init__(self, limit: int, *, minimum: int = 1, window_min: int = 16, high: float = 0.2,
                 decrease: float = 0.7, max_pause_s: float = 60.0) -> None:
        self.maximum = max(1, limit)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = self.maximum
        self.in_flight = 0
        self.window_min = window_min
        self.high = high
        self.decrease = decrease
        self.max_pause_s = max_pause_s
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._woken = 0  # waiters handed a slot that have not resumed yet
        self._seq = 0  # dispatch counter: a ticket's number
        self._window_start = 0  # results of tickets at or below this belong to an older limit
        self._window_n = 0
        self._window_429 = 0
        self._gap = 0.0  # spacing a spent budget in the headers asks for, seconds
        self._gap_until = 0.0  # monotonic: until when that spacing applies
        self._duration: float | None = None  # moving average of a request's duration, seconds
        self._next_at = 0.0  # monotonic: when the next paced dispatch may go

    # -- slots -------------------------------------------------------------------

    def _can_go(self) -> bool:
        # slots promised to woken waiters that have not run yet are taken
        return self.in_flight + self._woken < self.limit

    async def acquire(self) -> int:
        """Wait for a slot; returns the ticket to pass to :meth:`on_result`."""
        # Free slots go to those already waiting: a newcomer queues behind them.
        if self._waiters or not self._can_go():
            await self._wait_turn()
        self.in_flight += 1
        self._seq += 1
        ticket = self._seq
        delay = self._pace()
        if delay > 0:
            try:
                await asyncio.sleep(delay)
            except asyncio.CancelledError:
                self.release()
                raise
        return ticket

    async def _wait_turn(self) -> None:
        """Queue until :meth:`_wake` hands this waiter a slot (it leaves the queue then)."""
        loop = asyncio.get_running_loop()
        while True:
            self._wake()  # free slots go to those ahead first
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled():
                    self._woken -= 1
                    self._wake()  # we were given a turn we will not take: pass it on
                else:
                    try:
                        self._waiters.remove(fut)
                    except ValueError:
                        pass
                raise
            self._woken -= 1
            if self.in_flight + self._woken < self.limit:
                return
            # the limit shrank while this waiter was being woken: queue again

    def _pace(self) -> float:
        """Seconds this dispatch waits for its turn when the limit is held down by 429s.

        Requests that start together finish together (same latency), so a limit of L sends
        bursts of L: a token bucket with a small burst rejects most of each. Spacing
        dispatches ``duration / limit`` apart sends the same mean rate without the bursts.
        """
        if self.limit >= self.maximum and not self._gap_until:
            return 0.0  # at full concurrency and never told to slow down: no clock to read
        now = time.monotonic()
        interval = 0.0
        if self.limit < self.maximum and self._duration is not None:
            interval = self._duration / self.limit
        if now < self._gap_until:
            interval = max(interval, self._gap)
        if interval <= 0.0:
            return 0.0
        slot = max(now, self._next_at)
        self._next_at = slot + interval
        return slot - now

    def release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        """Hand free slots to the waiters at the front of the queue, in order.

        A woken waiter leaves the queue at once and its slot is counted as promised
        (``_woken``) until it runs, so a wake-up costs one step per slot handed out, not a walk
        over every waiter already woken."""
        free = self.limit - self.in_flight - self._woken
        waiters = self._waiters
        while free > 0 and waiters:
            fut = waiters.popleft()
            if fut.done():  # cancelled while queued
                continue
            fut.set_result(None)
            self._woken += 1
            free -= 1

    # -- feedback ----------------------------------------------------------------

    def on_result(self, ticket: int, *, rate_limited: bool, info: RateLimitInfo | None = None,
                  duration_s: float | None = None) -> bool:
        """Record one request's outcome; True when the limit changed."""
        if info is not None:
            self._apply_headers(info)
        if duration_s is not None:
            self._duration = duration_s if self._duration is None else 0.9 * self._duration + 0.1 * duration_s
        if ticket <= self._window_start:
            return False  # dispatched under an older limit: says nothing about this one
        self._window_n += 1
        self._window_429 += bool(rate_limited)
        if self._window_n < max(self.window_min, self.limit):
            return False
        share = self._window_429 / self._window_n
        old = self.limit
        if share > self.high:
            self.limit = max(self.minimum, int(self.limit * self.decrease))
        elif self.limit < self.maximum:
            self.limit += 1
        self._window_start = self._seq
        self._window_n = self._window_429 = 0
        self._wake()
        return self.limit != old

    def _apply_headers(self, info: RateLimitInfo) -> None:
        """The server says its request or token budget is spent: space dispatches at its refill rate.

        The headers describe the budget when the request was admitted, a round trip ago, so
        each report only sets a floor on the spacing (and on the next dispatch), rather than
        a pause that every later report would extend.
        """
        gaps = []
        if info.remaining_requests is not None and info.remaining_requests <= 0 and info.reset_requests_s:
            # "reset" is the time until the whole budget is back; with its size known, the
            # next request is due after one request's share of it.
            share = info.reset_requests_s / info.limit_requests if info.limit_requests else info.reset_requests_s
            gaps.append(share)
        if info.remaining_tokens is not None and info.remaining_tokens <= 0 and info.reset_tokens_s:
            gaps.append(info.reset_tokens_s)
        if gaps:
            now = time.monotonic()
            gap = min(max(gaps), self.max_pause_s)
            self._gap = gap
            self._gap_until = now + max(1.0, 2 * gap)
            self._next_at = max(self._next_at, now + gap)

    @property
    def paused_for(self) -> float:
        """Seconds until the next dispatch may go (after a header said the budget is spent)."""
        return max(0.0, self._next_at - time.monotonic())
