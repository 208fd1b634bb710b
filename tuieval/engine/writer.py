"""Finished samples committed in small batches, each sample reported only once committed.

A commit per sample was the largest single cost of a fast run after the HTTP client: SQLite
writes the WAL frames and the full-text index starts a new segment for every transaction. The
writer gathers the samples that finish close together and commits them in one transaction:
when ``max_rows`` are waiting, or ``max_delay_s`` after the first of them, whichever is first.

The engine awaits :meth:`SampleWriter.add` before it emits SampleFinished, so the promise of
the store holds unchanged — a sample is reported done only once it is on disk — and a kill -9
loses at most the requests in flight and the samples waiting for their commit (those that
finished in the last ``max_delay_s``); ``--resume`` asks them again. :meth:`flush` at the end
of a run (and on its cancellation) commits whatever is still waiting, so Ctrl-C loses nothing
that finished. The commit itself is synchronous, as before: no transaction is ever open
across an ``await``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from tuieval.store import Store

__all__ = ["SampleWriter", "MAX_DELAY_S", "batch_rows_for"]

#: Longest a finished sample waits for its commit.
MAX_DELAY_S = 0.05
#: At most this many samples per transaction.
MAX_ROWS = 64


#: Below this concurrency every sample is committed alone, as it finishes: a small run finishes
#: at most a few hundred samples a second, a commit each costs it little, and its schedule (which
#: sample a worker takes next, and when) stays exactly what it was without the writer.
BATCH_FROM_CONCURRENCY = 16


def batch_rows_for(concurrency: int) -> int:
    """Samples per commit for a run at this concurrency: 1 below BATCH_FROM_CONCURRENCY, else
    half its slots (a worker waiting for the commit holds no slot, and the engine keeps two
    workers per slot, so at most half of the spare workers wait), at most MAX_ROWS."""
    if concurrency < BATCH_FROM_CONCURRENCY:
        return 1
    return min(MAX_ROWS, concurrency // 2)


class SampleWriter:
    def __init__(self, store: Store, *, max_rows: int = MAX_ROWS, max_delay_s: float = MAX_DELAY_S) -> None:
        self.store = store
        self.max_rows = max(1, max_rows)
        self.max_delay_s = max_delay_s
        self._rows: list[dict[str, Any]] = []
        self._waiting: list[asyncio.Future[bool]] = []
        self._timer: asyncio.TimerHandle | None = None
        #: transactions committed (for the benchmarks' profile)
        self.n_commits = 0

    async def add(self, row: dict[str, Any]) -> bool:
        """Store ``row``; returns once it is committed: True if stored, False if its key was there."""
        if self.max_rows == 1:
            self.n_commits += 1
            return self.store.add_samples([row])[0]
        loop = asyncio.get_running_loop()
        done: asyncio.Future[bool] = loop.create_future()
        self._rows.append(row)
        self._waiting.append(done)
        if len(self._rows) >= self.max_rows:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.max_delay_s, self._flush_quietly)
        # A worker cancelled while it waits cancels only its own future: its row stays queued
        # for the next (or the final) flush, which skips futures already done.
        return await done

    def _flush_quietly(self) -> None:
        # From the timer: a failed commit is raised in the workers that wait for it, not here.
        try:
            self.flush()
        except Exception:
            pass

    def flush(self) -> None:
        """Commit every waiting sample now (one transaction) and wake their workers; a failed
        commit raises here and in each of them."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._rows:
            return
        rows, waiting = self._rows, self._waiting
        self._rows, self._waiting = [], []
        try:
            stored = self.store.add_samples(rows)
        except BaseException as exc:
            for fut in waiting:
                if not fut.done():
                    fut.set_exception(exc)
            raise
        self.n_commits += 1
        for fut, ok in zip(waiting, stored):
            if not fut.done():
                fut.set_result(ok)
