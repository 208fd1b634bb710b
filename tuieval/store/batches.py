"""The store's side of provider batch jobs (tables `batches`, `batch_requests`; tuieval.batch)."""

from __future__ import annotations

import json
from typing import Any, Iterable

from tuieval.store.db import Store, now_iso

COLUMNS = ("local_id", "run_id", "provider", "base_url", "input_file_id", "batch_id", "status", "n_requests",
           "counts", "output_file_id", "error_file_id", "errors", "collected", "created_at", "updated_at",
           "purpose", "model")


def add_batch(store: Store, local_id: str, run_id: str, provider: str, base_url: str | None,
              custom_ids: Iterable[str], *, purpose: str = "samples", model: str | None = None) -> None:
    """Record a batch about to be uploaded, with the requests it holds, in one transaction
    (`purpose`: the run's answers, or the judge requests of judge model `model`)."""
    ids = list(custom_ids)
    now = now_iso()
    with store.transaction():
        store.conn.execute(
            "INSERT INTO batches (local_id, run_id, provider, base_url, status, n_requests, created_at, updated_at, "
            "purpose, model) VALUES (?, ?, ?, ?, 'preparing', ?, ?, ?, ?, ?)",
            (local_id, run_id, provider, base_url, len(ids), now, now, purpose, model))
        store.conn.executemany("INSERT INTO batch_requests (local_id, custom_id) VALUES (?, ?)",
                               [(local_id, c) for c in ids])


def update_batch(store: Store, local_id: str, **fields: Any) -> None:
    if "counts" in fields and not isinstance(fields["counts"], (str, type(None))):
        fields["counts"] = json.dumps(fields["counts"])
    if "errors" in fields and not isinstance(fields["errors"], (str, type(None))):
        fields["errors"] = json.dumps(fields["errors"])
    fields["updated_at"] = now_iso()
    with store.transaction():
        store.conn.execute(f"UPDATE batches SET {', '.join(f'{k} = ?' for k in fields)} WHERE local_id = ?",
                           (*fields.values(), local_id))


def _row(r: tuple) -> dict[str, Any]:
    d = dict(zip(COLUMNS, r))
    for key in ("counts", "errors"):
        d[key] = json.loads(d[key]) if d[key] else None
    return d


def batches(store: Store, run_id: str | None = None, *, open_only: bool = False) -> list[dict[str, Any]]:
    sql = f"SELECT {', '.join(COLUMNS)} FROM batches"
    where, args = [], []
    if run_id is not None:
        where.append("run_id = ?")
        args.append(run_id)
    if open_only:
        where.append("collected = 0")
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [_row(r) for r in store.conn.execute(sql + " ORDER BY created_at, local_id", args).fetchall()]


def batch_custom_ids(store: Store, local_id: str) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT custom_id FROM batch_requests WHERE local_id = ? "
                                             "ORDER BY rowid", (local_id,))]


def drop_resubmittable(store: Store, run_id: str, kinds: Iterable[str]) -> int:
    """Delete the run's samples whose batch line did not run (expired, cancelled, failed), so a
    resumed run sends them again; returns how many."""
    kinds = list(kinds)
    with store.transaction():
        cur = store.conn.execute(
            f"DELETE FROM samples WHERE run_id = ? AND error_kind IN ({', '.join('?' * len(kinds))})",
            (run_id, *kinds))
    return cur.rowcount


def drop_resubmittable_judgements(store: Store, run_id: str, kinds: Iterable[str]) -> int:
    """Delete the run's judgements whose batch line did not run, so a resumed run judges those
    samples again (in a new, smaller judge batch); returns how many."""
    kinds = list(kinds)
    with store.transaction():
        cur = store.conn.execute(
            f"DELETE FROM judgements WHERE run_id = ? AND error_kind IN ({', '.join('?' * len(kinds))})",
            (run_id, *kinds))
    return cur.rowcount
