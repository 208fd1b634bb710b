"""The SQLite store: schema, migrations, writes and queries."""

from tuieval.store.db import DEFAULT_DB, RunNotFound, Store, StoreError, default_db_path, new_run_id, now_iso

__all__ = ["DEFAULT_DB", "RunNotFound", "Store", "StoreError", "default_db_path", "new_run_id", "now_iso"]
