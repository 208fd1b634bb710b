"""A finished run's stored report, kept in parts so each reader decodes only what it shows.

The `reports` row holds the report's JSON without its per-case list (`cases_apart = 1`, the
body's `cases` key holds null so the document keeps its key order); the list is one
`report_cases` row per case, with the worst-first sort keys as columns, so the scoreboard reads a
million-sample run's report without decoding 100,000 case entries, and the cases view fetches the
rows it shows, a window at a time. `report_arrays` keeps the per-sample numbers the scoreboard's
charts draw, packed. A row written before this split (`cases_apart = 0`) still reads: its body is
the whole document.

Everything here is SQL and bytes; what the parts mean is tuieval.report.stored's.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Iterable, Sequence

from tuieval.store.db import Store, insert_rows, now_iso

#: the cases view's order, worst first: accuracy, then consistency, then id; a case with no figure
#: last (the expressions of the report_cases_worst index, so SQLite walks the index)
WORST_FIRST = "COALESCE(accuracy, 2.0), COALESCE(consistency, 2.0), case_id"
#: ids per `IN (…)` query: under SQLite's default limit on bound parameters
_CHUNK = 900


def writing(store: Store):
    """A write transaction, unless the caller already holds one (then its own commits both)."""
    if store.conn.in_transaction:
        class _Joined:
            def __enter__(self):
                return None

            def __exit__(self, *exc):
                return False

        return _Joined()
    return store.transaction()


def write_report(store: Store, run_id: str, fingerprint: str, head: str,
                 cases: Iterable[tuple[str, float | None, float | None, str]] | None,
                 arrays: dict[str, Any] | None = None) -> None:
    """Replace the run's stored report in one transaction.

    `head` is the report's JSON; with `cases` (case id, accuracy, consistency, entry JSON, in
    list order) its `cases` key is null and the entries go one row each. `arrays`: n, case_ids
    (JSON text) and the sample_case, latency, correct, error bytes (tuieval.report.stored)."""
    with writing(store):
        store.conn.execute("DELETE FROM report_cases WHERE run_id = ?", (run_id,))
        store.conn.execute(
            "INSERT INTO reports (run_id, fingerprint, created_at, body, cases_apart) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (run_id) DO UPDATE SET fingerprint = excluded.fingerprint, "
            "created_at = excluded.created_at, body = excluded.body, cases_apart = excluded.cases_apart",
            (run_id, fingerprint, now_iso(), head, int(cases is not None)))
        if cases is not None:
            # multi-row INSERTs rather than executemany: the GIL taken a few dozen times, not once a
            # row (a writing thread beside the encoding one: tuieval.report.stored)
            insert_rows(store.conn, "INSERT INTO report_cases (run_id, ord, case_id, accuracy, consistency, body)", 6,
                        ((run_id, i, cid, acc, cons, body) for i, (cid, acc, cons, body) in enumerate(cases)))
        store.conn.execute("DELETE FROM report_arrays WHERE run_id = ?", (run_id,))
        # the slice membership kept with the previous report (tuieval.store.report_slices): the
        # caller writes the new one in this transaction, or there is none
        store.conn.execute("DELETE FROM report_slices WHERE run_id = ?", (run_id,))
        if arrays is not None:
            store.conn.execute(
                "INSERT INTO report_arrays (run_id, fingerprint, n, case_ids, sample_case, latency, correct, error) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, fingerprint, arrays["n"], arrays["case_ids"], arrays["sample_case"], arrays["latency"],
                 arrays["correct"], arrays["error"]))


def read_head(store: Store, run_id: str, fingerprint: str) -> tuple[str, bool] | None:
    """(body JSON, whether its cases are kept apart) of the run's report stored under
    `fingerprint`; None when there is none or it is stale."""
    row = store.conn.execute("SELECT body, cases_apart FROM reports WHERE run_id = ? AND fingerprint = ?",
                             (run_id, fingerprint)).fetchone()
    return (row[0], bool(row[1])) if row else None


def read_case_bodies(store: Store, run_id: str) -> list[str]:
    """Every stored case entry's JSON, in the report's list order."""
    rows = store.conn.execute("SELECT body FROM report_cases WHERE run_id = ? ORDER BY ord", (run_id,))
    return [r[0] for r in rows]


def read_arrays(store: Store, run_id: str, fingerprint: str) -> dict[str, Any] | None:
    """The packed per-sample arrays stored with the report under `fingerprint`, or None."""
    try:
        row = store.conn.execute(
            "SELECT n, case_ids, sample_case, latency, correct, error FROM report_arrays "
            "WHERE run_id = ? AND fingerprint = ?", (run_id, fingerprint)).fetchone()
    except sqlite3.OperationalError:  # an older file opened read-only has no such table
        return None
    if row is None:
        return None
    return dict(zip(("n", "case_ids", "sample_case", "latency", "correct", "error"), row))


def has_cases_apart(store: Store, run_id: str) -> bool:
    """Whether the run's stored report keeps its cases one row each (the pageable form)."""
    row = store.conn.execute("SELECT cases_apart FROM reports WHERE run_id = ?", (run_id,)).fetchone()
    return bool(row and row[0])


# -- the cases view: windows of the worst-first list ------------------------------------------------

def count_cases(store: Store, run_id: str) -> tuple[int, int]:
    """(cases, cases with at least one wrong answer or no figure) in the stored list."""
    row = store.conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(COALESCE(accuracy, 0) < 1), 0) FROM report_cases WHERE run_id = ?",
        (run_id,)).fetchone()
    return int(row[0]), int(row[1])


def cases_window(store: Store, run_id: str, offset: int, limit: int) -> list[tuple[str, str]]:
    """(case id, entry JSON) of `limit` cases from `offset` in worst-first order."""
    rows = store.conn.execute(
        f"SELECT case_id, body FROM report_cases WHERE run_id = ? ORDER BY {WORST_FIRST} LIMIT ? OFFSET ?",
        (run_id, limit, offset))
    return [(r[0], r[1]) for r in rows]


def worst_first_ids(store: Store, run_id: str) -> list[tuple[str, float | None]]:
    """(case id, accuracy) of every stored case, worst first: what a slice's list is filtered from."""
    rows = store.conn.execute(
        f"SELECT case_id, accuracy FROM report_cases WHERE run_id = ? ORDER BY {WORST_FIRST}", (run_id,))
    return [(r[0], r[1]) for r in rows]


def cases_by_id(store: Store, run_id: str, case_ids: Sequence[str]) -> dict[str, str]:
    """case id → entry JSON for the given ids (a window of a slice's list)."""
    out: dict[str, str] = {}
    for i in range(0, len(case_ids), _CHUNK):
        chunk = list(case_ids[i:i + _CHUNK])
        rows = store.conn.execute(
            f"SELECT case_id, body FROM report_cases WHERE run_id = ? AND case_id IN ({', '.join('?' * len(chunk))})",
            (run_id, *chunk))
        out.update((r[0], r[1]) for r in rows)
    return out


def case_inputs(store: Store, run_id: str, case_ids: Sequence[str]) -> dict[str, tuple[str, str]]:
    """case id → (targets JSON, input text) for the given ids: a window's targets and previews."""
    out: dict[str, tuple[str, str]] = {}
    for i in range(0, len(case_ids), _CHUNK):
        chunk = list(case_ids[i:i + _CHUNK])
        rows = store.conn.execute(
            f"SELECT case_id, targets, input_text FROM cases WHERE run_id = ? "
            f"AND case_id IN ({', '.join('?' * len(chunk))})", (run_id, *chunk))
        out.update((r[0], (r[1], r[2])) for r in rows)
    return out
