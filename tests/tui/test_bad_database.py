"""`tuieval --db FILE` on a file that is not (or cannot be) a tuieval database: one line, exit 2,
before the app takes the screen, and the file left exactly as it was.

The same refusals hold for every command, since they all open the database through `Store`.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tuieval.store import RunNotFound, Store, StoreError

TUIEVAL = [sys.executable, "-m", "tuieval"]
REPO = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def _good_db(path: Path) -> Path:
    store = Store(path)
    store.create_run({"id": "r1", "suite": "s", "model": "demo/steady", "samples_per_case": 1, "temperature": 0.0,
                      "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": {}}, [])
    store.close()
    return path


def _not_a_db(tmp: Path) -> Path:
    p = tmp / "notes.db"
    p.write_text("these are my notes, not a database\n")
    return p


def _empty(tmp: Path) -> Path:
    p = tmp / "empty.db"
    p.write_bytes(b"")
    return p


def _truncated(tmp: Path) -> Path:
    good = _good_db(tmp / "good.db")
    data = good.read_bytes()
    p = tmp / "truncated.db"
    p.write_bytes(data[: len(data) // 3])
    return p


def _foreign(tmp: Path) -> Path:
    p = tmp / "contacts.db"
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
    conn.execute("INSERT INTO contacts VALUES ('Ada', '123')")
    conn.commit()
    conn.close()
    return p


def _directory(tmp: Path) -> Path:
    p = tmp / "a-folder"
    p.mkdir()
    return p


def _missing_dir(tmp: Path) -> Path:
    return tmp / "no" / "such" / "dir" / "x.db"


CASES = {
    "not a database": (_not_a_db, "is not a database"),
    "empty file": (_empty, "is an empty file"),
    "truncated": (_truncated, "is truncated"),
    "another program's SQLite db": (_foreign, "SQLite database of another program (tables: contacts)"),
    "a directory": (_directory, "is a directory"),
    "directory does not exist": (_missing_dir, "does not exist"),
}


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TUIEVAL_", "OPENAI_", "ANTHROPIC_"))}
    return subprocess.run([*TUIEVAL, *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO,
                          stdin=subprocess.DEVNULL)


def _assert_one_line_refusal(proc: subprocess.CompletedProcess, path: Path, reason: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-500:], proc.stderr[-500:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and str(path.name) in lines[0] and reason in lines[0]
    assert lines[0].startswith("tuieval: --db: ")
    assert "\x1b" not in proc.stdout  # the app never took the screen


@pytest.mark.parametrize("case", list(CASES))
def test_the_app_refuses_a_bad_database_in_one_line(tmp_path, case):
    make, reason = CASES[case]
    path = make(tmp_path)
    before = _digest(path)
    proc = _run("--db", str(path))
    _assert_one_line_refusal(proc, path, reason)
    assert _digest(path) == before  # nothing stored lost or changed
    assert not Path(str(path) + "-wal").exists()
    if case == "directory does not exist":
        assert not path.parent.exists()


@pytest.mark.parametrize("case", ["another program's SQLite db", "directory does not exist", "truncated"])
def test_run_refuses_the_same_databases_and_creates_nothing(tmp_path, case):
    make, reason = CASES[case]
    path = make(tmp_path)
    before = _digest(path)
    proc = _run("run", "sample_suites/qa.yaml", "--model", "demo/steady", "--limit", "1", "--db", str(path))
    _assert_one_line_refusal(proc, path, reason)
    assert _digest(path) == before
    assert not path.parent.exists() or path.parent == tmp_path or path.parent.is_dir()
    if case == "directory does not exist":
        assert not (tmp_path / "no").exists()  # `run` used to create the whole tree


def test_a_foreign_database_keeps_only_its_own_tables(tmp_path):
    path = _foreign(tmp_path)
    with pytest.raises(StoreError):
        Store(path)
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    conn.close()
    assert tables == {"contacts"}  # tuieval did not migrate its schema into it


@pytest.fixture
def read_only_db(tmp_path):
    path = _good_db(tmp_path / "locked.db")
    os.chmod(path, 0o444)
    immutable = False
    if os.access(path, os.W_OK):  # root ignores permission bits: make the file immutable instead
        immutable = subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode == 0
        if not immutable:
            os.chmod(path, 0o644)
            pytest.skip("cannot make a file read-only for this user here")
    yield path
    if immutable:
        subprocess.run(["chattr", "-i", str(path)], check=True)
    os.chmod(path, 0o644)


def test_a_read_only_database_is_refused_in_one_line(read_only_db):
    before = _digest(read_only_db)
    proc = _run("--db", str(read_only_db))
    _assert_one_line_refusal(proc, read_only_db, "is read-only")
    assert _digest(read_only_db) == before


def test_a_new_database_in_an_existing_directory_is_fine(tmp_path):
    path = tmp_path / "fresh.db"
    Store(path).close()
    assert path.is_file()
    Store(path).close()  # and opens again


def test_an_ambiguous_run_id_prefix_names_the_runs_it_matches(tmp_path):
    store = Store(tmp_path / "runs.db")
    for rid, started in (("20260102-030405-aaaa", "2026-01-02T03:04:05"),
                         ("20260102-030405-bbbb", "2026-01-02T03:04:06"),
                         ("20260103-000000-cccc", "2026-01-03T00:00:00")):
        store.create_run({"id": rid, "suite": "s", "model": "m", "samples_per_case": 1, "temperature": 0.0,
                          "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": {}, "started_at": started}, [])
    with pytest.raises(RunNotFound) as info:
        store.resolve_run_id("20260102")
    assert str(info.value) == "ambiguous: '20260102' matches 20260102-030405-aaaa, 20260102-030405-bbbb"
    assert store.resolve_run_id("20260103") == "20260103-000000-cccc"
    with pytest.raises(RunNotFound, match="no run '2027'"):
        store.resolve_run_id("2027")
    # _ is a literal character in a run id, not a wildcard
    with pytest.raises(RunNotFound, match="no run"):
        store.resolve_run_id("2026010_")
    store.close()
    proc = _run("report", "20260102", "--db", str(tmp_path / "runs.db"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "ambiguous: '20260102' matches 20260102-030405-aaaa, 20260102-030405-bbbb" in proc.stderr
