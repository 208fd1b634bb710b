"""An adaptive concurrency limit: halves on 429, grows back by one after a run of successes.

AIMD, as TCP does: multiplicative decrease reacts fast to a server that is shedding load,
additive increase probes back up without oscillating.
"""

from __future__ import annotations

import asyncio
import time


class AdaptiveLimiter:
    def __init__(self, limit: int, *, minimum: int = 1, grow_after: int | None = None) -> None:
        self.maximum = max(1, limit)
        self.minimum = max(1, min(minimum, self.maximum))
        self.limit = self.maximum
        self.in_flight = 0
        self._grow_after = grow_after or max(4, self.maximum)
        self._successes = 0
        self._paused_until = 0.0
        self._cond = asyncio.Condition()

    async def acquire(self) -> None:
        async with self._cond:
            while True:
                wait = self._paused_until - time.monotonic()
                if wait > 0:
                    # A 429's Retry-After applies to the whole client, not only the request that got it.
                    try:
                        await asyncio.wait_for(self._cond.wait(), timeout=wait)
                    except asyncio.TimeoutError:
                        pass
                    continue
                if self.in_flight < self.limit:
                    self.in_flight += 1
                    return
                await self._cond.wait()

    async def release(self) -> None:
        async with self._cond:
            self.in_flight -= 1
            self._cond.notify_all()

    def on_success(self) -> bool:
        """Record a success; True when the limit grew."""
        self._successes += 1
        if self.limit < self.maximum and self._successes >= self._grow_after:
            self._successes = 0
            self.limit += 1
            return True
        return False

    def on_rate_limited(self, retry_after: float | None) -> bool:
        """Record a 429; True when the limit shrank."""
        self._successes = 0
        if retry_after:
            self._paused_until = max(self._paused_until, time.monotonic() + retry_after)
        new = max(self.minimum, self.limit // 2)
        changed = new != self.limit
        self.limit = new
        return changed
