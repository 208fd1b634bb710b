"""The response cache (`tuieval run --cache`): successful answers on disk, in their own SQLite
file, keyed so that the N samples of a case stay N independent draws.

The key (tuieval.engine.caching.cache_key) is a hash of the endpoint, the model, the whole
request body and the draw index (the sample index; for a judge, its judgement's own index), so a
rerun of the same configuration is answered from here and costs nothing, while two samples of
one prompt are never made identical by the cache. Errors are never cached.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from tuieval.store.db import StoreError

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,               -- sha256 of endpoint, model, body and draw index
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    draw TEXT NOT NULL,
    text TEXT NOT NULL,
    reasoning TEXT,
    finish_reason TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    ttft_ms REAL,
    latency_ms REAL,                   -- the latency of the request that was cached
    created_at REAL NOT NULL
);
"""

FIELDS = ("text", "reasoning", "finish_reason", "input_tokens", "output_tokens", "ttft_ms", "latency_ms")


class ResponseCache:
    """One cache file; `get` and `put` by key. Writes commit at once (a killed run keeps them)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        parent = Path(self.path).parent
        if not parent.is_dir():
            raise StoreError(f"--cache-path {self.path}: the directory {parent} does not exist")
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA busy_timeout=5000")
            self.conn.executescript(SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"--cache-path {self.path}: not a tuieval cache ({exc})") from None
        self.hits = 0
        self.misses = 0
        self.writes = 0

    def get(self, key: str) -> dict[str, Any] | None:
        row = self.conn.execute(f"SELECT {', '.join(FIELDS)} FROM responses WHERE key = ?", (key,)).fetchone()
        if row is None:
            self.misses += 1
            return None
        self.hits += 1
        return dict(zip(FIELDS, row))

    def put(self, key: str, endpoint: str, model: str, draw: str, result: dict[str, Any]) -> None:
        self.conn.execute(
            f"INSERT INTO responses (key, endpoint, model, draw, {', '.join(FIELDS)}, created_at) "
            f"VALUES (?, ?, ?, ?, {', '.join('?' * len(FIELDS))}, ?) ON CONFLICT (key) DO NOTHING",
            (key, endpoint, model, draw, *[result.get(f) for f in FIELDS], time.time()))
        self.writes += 1

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
