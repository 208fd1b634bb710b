"""The storage side's third set of shortcuts, each held to the plain way on a real SQLite file:

- `insert_rows` (multi-row INSERTs) against `executemany`: the same rows, rowids and errors;
- the sample columns' groups read beside the rows as one aggregate row (`_joined_groups`)
  against the plain `GROUP BY`, with the cases where it must not be used (a separator inside a
  name, a commit by another connection meanwhile);
- the analysis's cases read beside as one aggregate row (`Store.analysis_cases_beside`) against
  `Store.analysis_cases`, with the cases where it must not be used (a separator in a text,
  positions that tie, metadata that is not JSON);
- the token usage beside the analysis as one aggregate row against the plain `GROUP BY`;
- a write's milestone (the clusters' commit, which the report's writer waits for) reached before
  the rest of its work (the checkpoint), and a failure before it raised to whoever waits.
"""

from __future__ import annotations

import sqlite3

import pytest

import tuieval.store.db as db_module
from tuieval.store import Store


def _run(path, cases, samples) -> str:
    store = Store(path)
    run_id = store.create_run(
        {"suite": "t", "model": "demo/x", "samples_per_case": 2, "temperature": 0.0, "n_cases": len(cases),
         "n_templates": 1, "n_expected": len(samples), "config": {}}, cases)
    store.add_samples([{"run_id": run_id, "template": "default", "prompt": "[]", "response": "r",
                        "correct": 1, "score": 1.0, "latency_ms": 10.0, **s} for s in samples])
    store.close()
    return run_id


def _case(case_id: str, position: int, text: str = "q", metadata: dict | None = None) -> dict:
    return {"case_id": case_id, "position": position, "vars": {}, "targets": ["r"],
            "metadata": {"lang": "en"} if metadata is None else metadata, "input_text": text}


def _samples(*case_ids: str, per: int = 2) -> list[dict]:
    return [{"case_id": c, "sample_index": j, "dispatch_order": 10 * i + j}
            for i, c in enumerate(case_ids) for j in range(per)]


# -- insert_rows --------------------------------------------------------------------------------

def _table(conn) -> list[tuple]:
    return conn.execute("SELECT rowid, a, b, typeof(b) FROM t ORDER BY rowid").fetchall()


@pytest.mark.parametrize("n", [0, 1, 6, 7, 20])
def test_multi_row_inserts_write_what_executemany_writes(monkeypatch, n):
    """Three parameters per statement at most here (one row of three values), then 7 (two rows,
    and a last statement of one): the rows, their order (rowids) and their types as executemany's."""
    monkeypatch.setattr(db_module, "_MAX_PARAMS", 3 if n == 20 else 7)
    rows = [(i, [None, 1.5, "é", b"\x00", 2 ** 62][i % 5]) for i in range(n)]
    plain, fast = sqlite3.connect(":memory:"), sqlite3.connect(":memory:")
    for conn in (plain, fast):
        conn.execute("CREATE TABLE t (a INTEGER, b)")
    plain.executemany("INSERT INTO t (a, b) VALUES (?, ?)", rows)
    db_module.insert_rows(fast, "INSERT INTO t (a, b)", 2, iter(rows))
    assert _table(fast) == _table(plain) and len(_table(fast)) == n


def test_a_row_of_the_wrong_width_is_refused_before_anything_is_written():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a, b)")
    # (2 + 1 + 3 values: the right total for three rows, so only the per-row check can catch it)
    with pytest.raises(sqlite3.ProgrammingError, match="without 2 values"):
        db_module.insert_rows(conn, "INSERT INTO t (a, b)", 2, [(1, 2), (3,), (4, 5, 6)])
    assert conn.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0


# -- the groups beside the rows -------------------------------------------------------------------

def _columns(store: Store, run_id: str):
    cols = store.analysis_sample_columns(run_id)
    return cols._groups, {k: list(v) for k, v in cols.columns.items()}


def test_groups_read_beside_are_the_plain_groups(tmp_path, monkeypatch):
    """By hand: five cases (ids whose bytes and code points must sort alike), two samples each,
    in case id order; and the same as the plain read (groups first, on this connection)."""
    ids = ["日本", "é", "a", "Z9", "Z10"]
    run_id = _run(tmp_path / "g.db", [_case(c, i) for i, c in enumerate(ids)], _samples(*ids))
    seen = []
    real = db_module._joined_groups
    monkeypatch.setattr(db_module, "_joined_groups", lambda *a: seen.append(1) or real(*a))
    with Store(tmp_path / "g.db") as store:
        fast = _columns(store, run_id)
        monkeypatch.setattr(db_module, "_GROUPS_BESIDE", False)
        plain = _columns(store, run_id)
    assert seen == [1]  # (the fast read really went beside)
    assert fast[0] == [("Z10", "default", 2), ("Z9", "default", 2), ("a", "default", 2), ("é", "default", 2),
                       ("日本", "default", 2)]
    assert fast == plain


def test_a_name_holding_the_separator_is_grouped_the_plain_way(tmp_path):
    ids = ["a", "b\x1fc", "d"]
    run_id = _run(tmp_path / "s.db", [_case(c, i) for i, c in enumerate(ids)], _samples(*ids))
    with Store(tmp_path / "s.db") as store:
        assert db_module._joined_groups(store.conn, "run_id = ?", [run_id]) is None
        groups, columns = _columns(store, run_id)
    assert groups == [("a", "default", 2), ("b\x1fc", "default", 2), ("d", "default", 2)]
    assert columns["case_id"] == ["a", "a", "b\x1fc", "b\x1fc", "d", "d"]


def test_a_commit_while_the_groups_are_read_beside_makes_the_read_again(tmp_path, monkeypatch):
    """Another connection commits a sample after the groups' thread read its snapshot: the groups
    and the rows may disagree, so the read is made again in one piece, and holds the new sample."""
    ids = ["a", "b"]
    db = tmp_path / "w.db"
    run_id = _run(db, [_case(c, i) for i, c in enumerate(ids)], _samples(*ids))
    real = db_module._joined_groups

    def read_then_commit(conn, where, args):
        got = real(conn, where, args)
        with Store(db) as other:
            other.add_sample({"run_id": run_id, "case_id": "a", "template": "default", "sample_index": 7,
                              "dispatch_order": 99, "prompt": "[]", "response": "r", "correct": 1, "score": 1.0})
        return got

    monkeypatch.setattr(db_module, "_joined_groups", read_then_commit)
    with Store(db) as store:
        groups, columns = _columns(store, run_id)
    assert groups == [("a", "default", 3), ("b", "default", 2)]
    assert columns["sample_index"] == [0, 1, 7, 0, 1]


# -- the cases beside -----------------------------------------------------------------------------

def _cases_both_ways(db, run_id):
    with Store(db) as store:
        pending = store.analysis_cases_beside(run_id)
        fast = pending.wait()
        assert pending.wait() is fast  # (read once)
        plain = store.analysis_cases(run_id)
        joined = db_module._joined_cases(store.conn, run_id)
    return fast, plain, joined


def test_cases_read_beside_are_the_plain_cases(tmp_path):
    """By hand: suite order (positions 0, 1, 5 — not id order), metadata decoded, texts as stored."""
    cases = [_case("z", 0, "Wie viel, Jürgen?", {"lang": "de", "n": 2}), _case("a", 5, "りんご"),
             _case("m", 1, "", {})]
    db = tmp_path / "c.db"
    run_id = _run(db, cases, _samples("z", "a", "m"))
    fast, plain, joined = _cases_both_ways(db, run_id)
    assert fast == plain == joined == [
        {"case_id": "z", "position": 0, "metadata": {"lang": "de", "n": 2}, "input_text": "Wie viel, Jürgen?"},
        {"case_id": "m", "position": 1, "metadata": {}, "input_text": ""},
        {"case_id": "a", "position": 5, "metadata": {"lang": "en"}, "input_text": "りんご"}]


@pytest.mark.parametrize("odd", ["separator", "tied"])
def test_cases_the_joined_read_cannot_take_are_read_the_plain_way(tmp_path, odd):
    """A text holding the separator, or two cases at one position (the ORDER BY leaves their
    order to SQLite, and the joined read cannot show it kept it): the plain read's answer."""
    second = _case("b", 1, "one\x1ftwo") if odd == "separator" else _case("b", 0, "tie")
    db = tmp_path / "o.db"
    run_id = _run(db, [_case("a", 0), second], _samples("a", "b"))
    fast, plain, joined = _cases_both_ways(db, run_id)
    assert joined is None
    assert fast == plain and [c["case_id"] for c in fast] and len(fast) == 2
    if odd == "separator":
        assert fast[1]["input_text"] == "one\x1ftwo"


def test_metadata_that_is_not_json_raises_as_the_plain_read_does(tmp_path):
    db = tmp_path / "j.db"
    run_id = _run(db, [_case("a", 0), _case("b", 1)], _samples("a", "b"))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE cases SET metadata = '{not json' WHERE case_id = 'b'")
    with Store(db) as store:
        assert db_module._joined_cases(store.conn, run_id) is None
        with pytest.raises(ValueError):
            store.analysis_cases_beside(run_id).wait()


# -- the token usage beside -----------------------------------------------------------------------

def test_usage_joined_is_the_group_by_and_falls_back_where_it_must(tmp_path):
    """The joined usage rows against GROUPED_SQL's rows (by hand: case "a" three samples, 30 input
    tokens, 6 output; "b" one cached sample, which costs nothing this time); then a REAL token
    count (its sum's text would not be the float) and a case id holding the separator: None, and
    the read beside gives the plain rows."""
    from tuieval.store.usage_columns import GROUPED_SQL, joined_rows

    db = tmp_path / "u.db"
    samples = [{**s, "input_tokens": 10, "output_tokens": 2} for s in _samples("a", per=3)]
    samples.append({"case_id": "b", "sample_index": 0, "dispatch_order": 9, "input_tokens": 5,
                    "output_tokens": 1, "cached": 1})
    run_id = _run(db, [_case("a", 0), _case("b", 1)], samples)
    with Store(db) as store:
        plain = store.conn.execute(GROUPED_SQL, (run_id,)).fetchall()
        assert joined_rows(store.conn, run_id) == [tuple(r) for r in plain] == [
            ("a", 3, 30, 6, 0, 0, 0, 0, 0, 0, 0), ("b", 0, 0, 0, 0, 0, 0, 1, 0, 0, 0)]
        for change in ("UPDATE samples SET input_tokens = 10.5 WHERE case_id = 'a' AND sample_index = 0",
                       "UPDATE samples SET case_id = 'b\x1fc' WHERE case_id = 'b'"):
            store.conn.execute(change)
            assert joined_rows(store.conn, run_id) is None
            assert list(store.token_usage_beside(run_id).wait()) == store.token_usage(run_id)


# -- the write-back's commit as its milestone -------------------------------------------------------

def test_waiting_for_the_commit_returns_before_the_rest_of_the_work(tmp_path):
    """A write's milestone (the clusters' commit) is what the report's writer waits for; the rest
    of the work (the checkpoint) goes on until `wait()` joins it."""
    import threading

    db = tmp_path / "m.db"
    _run(db, [_case("a", 0)], _samples("a"))
    milestone, release, steps = threading.Event(), threading.Event(), []

    def work(conn):
        steps.append("committed")
        milestone.set()
        release.wait()  # (held by the test, not by time)
        steps.append("checkpointed")
        return "done"

    pending = db_module.PendingWrite(str(db), work, milestone=milestone)
    pending.wait_committed()
    assert steps == ["committed"]
    release.set()
    assert pending.wait() == "done" and steps == ["committed", "checkpointed"]


def test_a_write_that_fails_before_its_commit_raises_to_whoever_waits_for_the_commit(tmp_path):
    import threading

    db = tmp_path / "f.db"
    _run(db, [_case("a", 0)], _samples("a"))

    def work(conn):
        raise sqlite3.OperationalError("refused")

    pending = db_module.PendingWrite(str(db), work, milestone=threading.Event())
    with pytest.raises(sqlite3.OperationalError, match="refused"):
        pending.wait_committed()
    assert pending.wait() is None  # (raised once)



def test_the_report_built_with_every_read_and_write_beside_is_the_plain_one(tmp_path, monkeypatch):
    """As it runs by default (the groups, cases and usage read beside as joined rows, rows inserted
    a few at a time, the checkpoint after the commit), against everything on one connection and
    the old statement shapes: every stored table the same, and the report."""
    import json
    import shutil

    from tests.report.test_columnar_analysis import _varied_run
    from tests.report.test_storage_fast_paths import _tables
    from tuieval.report import build_report

    fast_db, plain_db = tmp_path / "fast.db", tmp_path / "plain.db"
    run_id = _varied_run(fast_db, "lexical")
    shutil.copyfile(fast_db, plain_db)
    monkeypatch.setattr(db_module, "_MAX_PARAMS", 64)  # (several statements per table at this size)
    with Store(fast_db) as store:
        fast = build_report(store, run_id, persist_clusters=True)
    with monkeypatch.context() as m:
        m.setattr(db_module.Store, "_can_write_beside", lambda self: False)
        m.setattr(db_module, "insert_rows", lambda conn, head, width, rows: conn.executemany(
            f"{head} VALUES ({', '.join('?' * width)})", rows))
        m.setattr("tuieval.store.report_parts.insert_rows", db_module.insert_rows)
        with Store(plain_db) as store:
            plain = build_report(store, run_id, persist_clusters=True)
    assert json.dumps(fast, ensure_ascii=False) == json.dumps(plain, ensure_ascii=False)
    got, want = _tables(fast_db, run_id), _tables(plain_db, run_id)
    assert len(got["clusters"]) > 100 and len(got["report_cases"]) > 50
    for name in want:
        assert got[name] == want[name], name
