"""`tuieval run`'s start-up refuses in a fixed order, one line, exit 2: the suite before any
database file, a bad --db before a bad backend setting, --compare-to before it too (guards for
any reordering of the start-up to overlap its work)."""

from __future__ import annotations

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
