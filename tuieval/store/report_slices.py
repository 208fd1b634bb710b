"""Which cases are in which slice of a stored report: one row per run, the levels as JSON and
their members as rows of bits.

The row is written with the report (the analysis has every case's derived features in hand
then) under the report's fingerprint, and read back whole: at 100,000 cases and 30 slice levels
it is under 400 kB, one read, where deriving the features again took seconds. Each level's
bits are `ceil(n_cases / 8)` bytes over the run's sampled case ids in the order of
`report_arrays.case_ids`. What the bits mean is tuieval.report.slice_membership_store's.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from tuieval.store.db import Store


def write_slices(store: Store, run_id: str, fingerprint: str, n_cases: int, levels: str, bits: bytes) -> None:
    """Keep the run's membership (inside the report's write transaction, after
    `report_parts.write_report`, which drops the previous report's)."""
    store.conn.execute(
        "INSERT INTO report_slices (run_id, fingerprint, n_cases, levels, bits) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (run_id) DO UPDATE SET fingerprint = excluded.fingerprint, n_cases = excluded.n_cases, "
        "levels = excluded.levels, bits = excluded.bits",
        (run_id, fingerprint, n_cases, levels, bits))


def read_slices(store: Store, run_id: str, fingerprint: str) -> dict[str, Any] | None:
    """n_cases, levels (JSON text) and bits of the membership stored under `fingerprint`, or None."""
    try:
        row = store.conn.execute("SELECT n_cases, levels, bits FROM report_slices WHERE run_id = ? AND fingerprint = ?",
                                 (run_id, fingerprint)).fetchone()
    except sqlite3.OperationalError:  # an older file opened read-only has no such table
        return None
    if row is None:
        return None
    return {"n_cases": int(row[0]), "levels": row[1], "bits": bytes(row[2])}
