"""The runs list the Runs screen polls every two seconds, read again only when the database changed.

A read counts every run's samples, correct answers and errors: 0.4 s of CPU at a million samples,
every poll. SQLite's `PRAGMA data_version` on a connection kept for the list moves whenever any
other connection commits (this app's runs, another process, a report), so an unchanged number
means the rows the counts come from are unchanged. A running run is read every time: whether it
is still running depends on its writer's process being alive, which no commit says. A file
replaced under the same name (another inode) is opened anew.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Any

from tuieval.store import Store

#: databases whose connection is kept (the app has one; tests open many)
MAX_KEPT = 4


class RunsList:
    """`read()` → the runs of one database, as `Store.list_runs`, newest first."""

    def __init__(self, db_path: str) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()   # thread workers take turns; the connection is shared
        self._store: Store | None = None
        self._file: tuple[int, int] | None = None
        self._version: int | None = None
        self._runs: list[dict[str, Any]] | None = None
        #: reads that ran the counting query (the rest were answered from the last one)
        self.n_counted = 0

    def _file_id(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.db_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def read(self) -> list[dict[str, Any]]:
        with self._lock:
            file_id = self._file_id()
            if self._store is None or file_id != self._file:
                self.close_locked()
                self._store = Store(self.db_path)
                self._file = self._file_id()
            version = self._store.conn.execute("PRAGMA data_version").fetchone()[0]
            fresh = (self._runs is not None and version == self._version
                     and not any(r["status"] == "running" for r in self._runs))
            if not fresh:
                self._runs = self._store.list_runs()
                self._version = version
                self.n_counted += 1
            # copies: a caller may annotate its rows without changing the next caller's
            return [dict(r) for r in self._runs]

    def close_locked(self) -> None:
        if self._store is not None:
            self._store.close()
        self._store, self._runs, self._version = None, None, None

    def close(self) -> None:
        with self._lock:
            self.close_locked()


_KEPT: OrderedDict[str, RunsList] = OrderedDict()
_KEPT_LOCK = threading.Lock()


def runs_list(db_path: str) -> RunsList:
    """The kept list of `db_path` (the least recently used beyond MAX_KEPT is closed)."""
    key = os.path.abspath(db_path)
    with _KEPT_LOCK:
        found = _KEPT.pop(key, None) or RunsList(db_path)
        _KEPT[key] = found
        while len(_KEPT) > MAX_KEPT:
            _, old = _KEPT.popitem(last=False)
            old.close()
        return found
