"""Check: the analysis step stores the same bytes under this code and older code.

    .venv/bin/python benchmarks/hash_stored_analysis.py --db RUN.db --run ID --before DIR

For each code (DIR: a `git archive` of the older code, then this checkout) a fresh copy of RUN.db
is analysed as `tuieval run` does at its end (`build_report(persist_clusters=True)`: the report
built, the clusters written back, the report stored), in a child process, and then every table
the analysis writes is hashed (SHA-256 of its rows in key order): `reports` (without
`created_at`), `report_cases`, `report_arrays`, `report_slices`, `clusters`, and every sample's
`cluster`. Prints each code's hashes and whether they are all the same. Not a timing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys
from tuieval.store import Store
from tuieval.report import build_report
store = Store(sys.argv[1])
build_report(store, sys.argv[2], persist_clusters=True)
store.close()
"""

TABLES = {
    "reports": "SELECT run_id, fingerprint, body, cases_apart FROM reports WHERE run_id = ? ORDER BY fingerprint",
    "report_cases": "SELECT * FROM report_cases WHERE run_id = ? ORDER BY ord",
    "report_arrays": "SELECT * FROM report_arrays WHERE run_id = ? ORDER BY fingerprint",
    "report_slices": "SELECT * FROM report_slices WHERE run_id = ? ORDER BY fingerprint",
    "clusters": "SELECT * FROM clusters WHERE run_id = ? ORDER BY case_id, template, cluster",
    "samples.cluster": "SELECT id, cluster FROM samples WHERE run_id = ? ORDER BY id",
}


def hashes(db: str, run_id: str) -> dict[str, str]:
    conn = sqlite3.connect(db)
    out = {}
    for name, sql in TABLES.items():
        h = hashlib.sha256()
        n = 0
        for row in conn.execute(sql, (run_id,)):
            h.update(repr(row).encode())
            n += 1
        out[name] = f"{h.hexdigest()[:16]} ({n} rows)"
    conn.close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("--before", type=Path, required=True, help="a checkout of older code")
    args = ap.parse_args(argv)
    got = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, code in (("before", args.before.resolve()), ("this", ROOT)):
            work = os.path.join(tmp, f"{label}.db")
            shutil.copyfile(args.db, work)
            env = {**os.environ, "PYTHONPATH": str(code)}
            subprocess.run([sys.executable, "-c", CHILD, work, args.run], check=True, cwd=code, env=env)
            got[label] = hashes(work, args.run)
            os.remove(work)
            print(label, json.dumps(got[label]), flush=True)
    same = got["before"] == got["this"]
    print("every table the analysis writes is the same under both codes:", same)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
