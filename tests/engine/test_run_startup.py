"""`tuieval run`'s start-up: a new run's database is opened in a thread while the engine and the
backend are imported, and what is refused is refused as before — the suite before any database
file, a bad --db before a bad backend setting, --compare-to before it too, one line, exit 2."""

from __future__ import annotations

import threading

import pytest

from tests.support.suites import write_echo_suite
from tuieval import cli
from tuieval.store import Store


def _refused(argv: list[str], capsys) -> str:
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    err = capsys.readouterr().err
    assert exc.value.code == 2 and err.count("\n") == 1, err
    return err


def test_a_bad_suite_is_refused_before_the_database_file_is_made(tmp_path, capsys):
    suite = tmp_path / "bad.yaml"
    suite.write_text("name: bad\ncases: {}\n")
    db = tmp_path / "never.db"
    err = _refused(["run", str(suite), "--model", "demo/steady", "--db", str(db)], capsys)
    assert err.startswith(f"tuieval: {suite}")
    assert not db.exists()


def test_a_bad_database_is_named_before_a_bad_backend_setting(tmp_path, capsys):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "not-ours.db"
    db.write_text("a text file, not a database\n")
    # both are wrong: the database is the one named, as when it was opened before the backend
    err = _refused(["run", str(suite), "--model", "nosuch/model", "--db", str(db)], capsys)
    assert err.startswith("tuieval: --db:"), err
    assert db.read_text() == "a text file, not a database\n"  # left as it was


def test_a_bad_compare_to_is_named_before_a_bad_backend_setting(tmp_path, capsys):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "r.db"
    err = _refused(["run", str(suite), "--model", "nosuch/model", "--compare-to", "production", "--db", str(db)],
                   capsys)
    assert err.startswith("tuieval: --compare-to: no run or tag 'production'")
    # and with a good baseline the backend's own error is the one line
    err = _refused(["run", str(suite), "--model", "nosuch/model", "--db", str(db)], capsys)
    assert "nosuch" in err and "--compare-to" not in err and "--db" not in err
    store = Store(db)
    try:
        assert store.list_runs() == []  # refused before any run row
    finally:
        store.close()


def test_the_store_is_opened_in_a_thread_and_used_from_the_callers(tmp_path):
    seen: list[str] = []
    real = cli._open_store

    def spy(db_path, **kwargs):
        seen.append(threading.current_thread().name)
        return real(db_path, **kwargs)

    cli._open_store = spy
    try:
        opening = cli.StoreOpening(str(tmp_path / "t.db"))
        store = opening.wait()
    finally:
        cli._open_store = real
    try:
        assert seen == ["tuieval-open-store"]
        # made in that thread, used in this one: the run row and its read-back
        assert store.list_runs() == [] and store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        store.close()


def test_a_failed_opening_raises_its_one_line_in_the_callers_thread(tmp_path):
    where = tmp_path / "a-directory.db"
    where.mkdir()
    opening = cli.StoreOpening(str(where))
    with pytest.raises(cli.BadInput) as exc:
        opening.wait()
    assert exc.value.format_message().startswith("--db:")
