"""Run tags: a name (`production`, `nightly`) that points at one run, and the log of its moves.

A tag is how a scheduled job says "the run in production" without copying ids: every RUN
argument accepts a tag (`Store.resolve_run_id`). A tag points at exactly one run; pointing it at
another run is a *move*, which the caller must ask for explicitly, and every set, move and delete
is appended to `tag_events` so a baseline that changed says when and from which run.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

from tuieval.store.db import Store, now_iso

#: a letter first, so a tag can never be read as a run id (ids start with the date) or its prefix
TAG_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,63}")
#: names RUN arguments already give a meaning to
RESERVED = frozenset({"latest"})


class TagError(ValueError):
    """A tag name that is not allowed, a tag that does not exist, or a move that was not asked for."""


def check_tag_name(name: str) -> None:
    """Raise TagError unless `name` may be a tag: 1–64 of letters, digits, `.`, `_`, `-`, a letter first."""
    if name in RESERVED:
        raise TagError(f"{name!r} is reserved (it already means the newest run)")
    if not TAG_PATTERN.fullmatch(name):
        raise TagError(f"{name!r} is not a tag name: 1-64 letters, digits, '.', '_' or '-', starting with a letter")


def tagged_run(store: Store, name: str) -> str | None:
    """The run a tag points at, None when there is no such tag (or the file predates tags)."""
    try:
        row = store.conn.execute("SELECT run_id FROM tags WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # a read-only file from before the tags table
        return None
    return row[0] if row else None


def set_tag(store: Store, name: str, run_id: str, *, move: bool = False) -> str | None:
    """Point tag `name` at `run_id` (an existing run id); return the run it pointed at before.

    A tag already on another run is moved only with `move=True` (else TagError naming both runs);
    tagging the run it already points at changes nothing and logs nothing."""
    check_tag_name(name)
    with store._transaction():
        row = store.conn.execute("SELECT run_id FROM tags WHERE name = ?", (name,)).fetchone()
        previous = row[0] if row else None
        if previous == run_id:
            return previous
        if previous is not None and not move:
            raise TagError(f"tag {name!r} points at run {previous}; pass --move to move it to {run_id}")
        at = now_iso()
        store.conn.execute("INSERT INTO tags (name, run_id, tagged_at) VALUES (?, ?, ?) "
                           "ON CONFLICT (name) DO UPDATE SET run_id = excluded.run_id, tagged_at = excluded.tagged_at",
                           (name, run_id, at))
        store.conn.execute("INSERT INTO tag_events (name, action, run_id, previous_run_id, at) VALUES (?, ?, ?, ?, ?)",
                           (name, "move" if previous else "set", run_id, previous, at))
    return previous


def delete_tag(store: Store, name: str) -> str:
    """Remove a tag (the run stays); return the run it pointed at. TagError when there is no such tag."""
    with store._transaction():
        row = store.conn.execute("SELECT run_id FROM tags WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise TagError(f"no tag {name!r}")
        store.conn.execute("DELETE FROM tags WHERE name = ?", (name,))
        store.conn.execute("INSERT INTO tag_events (name, action, run_id, previous_run_id, at) VALUES (?, ?, ?, ?, ?)",
                           (name, "delete", None, row[0], now_iso()))
    return row[0]


def list_tags(store: Store) -> list[dict[str, Any]]:
    """Every tag with the run it points at (suite, model, status, started_at) and its number of moves."""
    rows = store.conn.execute(
        "SELECT t.name, t.run_id, t.tagged_at, r.suite, r.model, r.status, r.started_at, "
        "(SELECT COUNT(*) FROM tag_events e WHERE e.name = t.name AND e.action = 'move') AS n_moves "
        "FROM tags t JOIN runs r ON r.id = t.run_id ORDER BY t.name").fetchall()
    return [dict(r) for r in rows]


def tag_history(store: Store, name: str | None = None) -> list[dict[str, Any]]:
    """The tag log (every set, move and delete), oldest first; one tag's when `name` is given."""
    query = "SELECT name, action, run_id, previous_run_id, at FROM tag_events"
    args: list[Any] = []
    if name is not None:
        query += " WHERE name = ?"
        args.append(name)
    return [dict(r) for r in store.conn.execute(query + " ORDER BY id", args).fetchall()]


def tags_by_run(store: Store) -> dict[str, list[str]]:
    """run id → the tags on it, for listing runs."""
    out: dict[str, list[str]] = {}
    try:
        rows = store.conn.execute("SELECT run_id, name FROM tags ORDER BY name").fetchall()
    except sqlite3.OperationalError:
        return out
    for run_id, name in rows:
        out.setdefault(run_id, []).append(name)
    return out
