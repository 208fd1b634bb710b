"""`tuieval` as a user runs it: real subprocesses, real signals, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.suites import write_echo_suite

TUIEVAL = [sys.executable, "-m", "tuieval"]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
    env.update(extra)
    return env


def _stored_keys(db: Path) -> set[tuple]:
    if not db.exists():
        return set()
    try:
        with sqlite3.connect(db) as conn:
            return set(conn.execute("SELECT case_id, template, sample_index FROM samples").fetchall())
    except sqlite3.OperationalError:
        return set()


def _wait_for_samples(db: Path, n: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_stored_keys(db)) >= n:
            return
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "process ended early"
        time.sleep(0.05)
    raise AssertionError(f"fewer than {n} samples stored in {timeout}s")


# at concurrency 16 the samples are committed in batches (tuieval.engine.writer): a kill -9 loses
# the ones waiting for their commit, which the resume then asks for, once
@pytest.mark.parametrize("concurrency, latency_ms", [("4", 60), ("16", 150)])
def test_kill_9_then_resume_completes_each_sample_exactly_once(tmp_path, model_server, concurrency, latency_ms):
    model_server.latency_ms = latency_ms
    suite = write_echo_suite(tmp_path, 60, samples=2)
    db = tmp_path / "runs.db"
    cmd = TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                     model_server.openai_base_url, "--concurrency", concurrency, "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    _wait_for_samples(db, 20, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    finished_before = _stored_keys(db)
    assert 20 <= len(finished_before) < 120
    requests_before = dict(model_server.prompt_counts)

    with sqlite3.connect(db) as conn:
        run_id = conn.execute("SELECT id FROM runs").fetchone()[0]
    listed = json.loads(subprocess.run(TUIEVAL + ["runs", "--json", "--db", str(db)], capture_output=True,
                                       text=True, env=_env(), check=True).stdout)
    assert listed[0]["status"] == "partial" and listed[0]["id"] == run_id

    done = subprocess.run(TUIEVAL + ["run", str(suite), "--resume", run_id, "--db", str(db), "--base-url",
                                     model_server.openai_base_url, "--concurrency", concurrency],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == run_id
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, template, sample_index, COUNT(*) FROM samples "
                            "GROUP BY case_id, template, sample_index").fetchall()
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    assert len(rows) == 120 and all(r[3] == 1 for r in rows)
    assert status == "complete"
    # Finished samples were not requested again: each prompt key (tokN) is shared by the two
    # sample indices of case N, so a key whose both samples were stored keeps its count.
    by_case: dict[str, int] = {}
    for case_id, _, _ in finished_before:
        by_case[case_id] = by_case.get(case_id, 0) + 1
    for case_id, count in by_case.items():
        if count == 2:
            key = "tok" + str(int(case_id[1:]))
            assert model_server.prompt_counts[key] == requests_before[key], case_id


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_term_marks_run_partial_and_exits_130(tmp_path, model_server, sig):
    model_server.latency_ms = 80
    suite = write_echo_suite(tmp_path, 80)
    db = tmp_path / "runs.db"
    proc = subprocess.Popen(TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                                       model_server.openai_base_url, "--concurrency", "2", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    _wait_for_samples(db, 4, proc)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    with sqlite3.connect(db) as conn:
        status, run_id = conn.execute("SELECT status, id FROM runs").fetchone()
    assert status == "partial"
    assert out.strip().splitlines()[-1] == run_id


def test_api_key_never_reaches_the_database(tmp_path, model_server):
    secret = "sk-test-DO-NOT-STORE-8f3a1c9e7b"
    suite = write_echo_suite(tmp_path, 6)
    db = tmp_path / "runs.db"
    result = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "openai/gpt-test", "--db", str(db)],
                            capture_output=True, text=True, timeout=60,
                            env=_env(OPENAI_API_KEY=secret, OPENAI_BASE_URL=model_server.openai_base_url))
    assert result.returncode == 0, result.stderr
    assert model_server.last_headers.get("authorization") == f"Bearer {secret}"  # it was really used
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for path in tmp_path.glob("runs.db*"):
        assert secret.encode() not in path.read_bytes(), path
    assert secret not in result.stderr and secret not in result.stdout


def test_quiet_run_prints_only_the_run_id(tmp_path):
    result = subprocess.run(TUIEVAL + ["run", "sample_suites/json_format.yaml", "--model", "demo/steady", "--limit", "4",
                                       "--db", str(tmp_path / "q.db"), "--quiet"],
                            capture_output=True, text=True, env=_env(TUIEVAL_DEMO_SPEED="0"), timeout=60,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1 and lines[0].count("-") == 2


def test_resume_warns_when_the_suite_file_changed(tmp_path):
    suite = tmp_path / "s.yaml"
    suite.write_text("template: '{{ q }}'\ncases:\n  - {q: a, target: a}\n  - {q: b, target: b}\n", encoding="utf-8")
    db = str(tmp_path / "r.db")
    first = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "demo/steady", "--db", db, "--quiet"],
                           capture_output=True, text=True, env=_env(TUIEVAL_DEMO_SPEED="0"), timeout=60)
    run_id = first.stdout.strip().splitlines()[-1]
    suite.write_text(suite.read_text() + "  - {q: c, target: c}\n", encoding="utf-8")
    again = subprocess.run(TUIEVAL + ["run", str(suite), "--resume", run_id, "--db", db, "--quiet"],
                           capture_output=True, text=True, env=_env(TUIEVAL_DEMO_SPEED="0"), timeout=60)
    assert again.returncode == 0, again.stderr
    assert "differs from the suite" in again.stderr
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == 2  # the run's own cases only


def _stored_judgements(db: Path) -> set[tuple]:
    if not db.exists():  # connecting would create an empty file, which tuieval refuses as --db
        return set()
    try:
        with sqlite3.connect(db) as conn:
            return set(conn.execute("SELECT case_id, judge_sample FROM judgements").fetchall())
    except sqlite3.OperationalError:
        return set()


def test_kill_9_while_judging_then_resume_never_asks_a_finished_judgement_again(tmp_path, model_server):
    model_server.grade_latency_ms = 150  # a slow judge: answered samples wait for their judgements
    model_server.grade_rule = lambda parts: "GRADE: PASS"
    judge = {"type": "judge", "model": "openai-compatible/judge", "base_url": model_server.openai_base_url,
             "samples": 2, "temperature": 1}
    suite = write_echo_suite(tmp_path, 30, extra={"scorers": [judge]})
    db = tmp_path / "runs.db"
    cmd = TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                     model_server.openai_base_url, "--concurrency", "2", "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    deadline = time.monotonic() + 30
    while len(_stored_judgements(db)) < 12:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "process ended early"
        assert time.monotonic() < deadline, "no judgements stored in 30s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    judged_before = _stored_judgements(db)
    answered_before = {k[0] for k in _stored_keys(db)}
    assert 12 <= len(judged_before) < 60
    # killed mid-judging: some answered samples still owed judgements
    assert len(answered_before) * 2 > len(judged_before)

    with sqlite3.connect(db) as conn:
        run_id = conn.execute("SELECT id FROM runs").fetchone()[0]
    done = subprocess.run(TUIEVAL + ["run", str(suite), "--resume", run_id, "--db", str(db), "--base-url",
                                     model_server.openai_base_url, "--concurrency", "2"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, judge_sample, COUNT(*) FROM judgements GROUP BY 1, 2").fetchall()
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
        verdicts = conn.execute("SELECT correct, scores FROM samples").fetchall()
    assert len(rows) == 60 and all(r[2] == 1 for r in rows)
    assert status == "complete"
    # every sample's verdict was written (none left pending), and all 30 pass
    assert len(verdicts) == 30 and all(c == 1 and '"pending"' not in s for c, s in verdicts)
    # The server saw each finished judgement's request exactly once, across both processes:
    # a request is named by the answer judged (tokN) and its seed (judge sample k → 1009 + k).
    asked: dict[tuple, int] = {}
    for parts in model_server.grade_log:
        key = ("c%03d" % int(parts["answer"].split("tok")[1]), int(parts["seed"]) - 1009)
        asked[key] = asked.get(key, 0) + 1
    for key in judged_before:
        assert asked[key] == 1, key
    assert set(asked) == {k[:2] for k in rows}


@pytest.mark.parametrize("gate_min, code", [(0.5, 0), (0.99, 1)])
def test_a_finished_run_exits_with_its_code_and_leaves_the_database_whole(tmp_path, model_server, gate_min, code):
    # 3 of 4 answers right (the server answers "wrong" for tok3): accuracy 0.75, so a 0.5 gate
    # passes and a 0.99 gate fails. The process ends by os._exit after closing the database:
    # the exit status is still the run's, the run id is still the last line, and no
    # write-ahead log is left beside the file (the file alone holds the run).
    model_server.answer_rule = lambda model, text, answer: "Answer: wrong" if "tok3" in text else answer
    suite = write_echo_suite(tmp_path, 4, extra={"gates": [{"metric": "accuracy", "min": gate_min}]})
    db = tmp_path / "runs.db"
    result = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                                       model_server.openai_base_url, "--db", str(db)],
                            capture_output=True, text=True, env=_env(), timeout=60)
    assert result.returncode == code, result.stderr
    assert not Path(str(db) + "-wal").exists()
    with sqlite3.connect(db) as conn:
        run_id, status = conn.execute("SELECT id, status FROM runs").fetchone()
        assert conn.execute("SELECT SUM(correct), COUNT(*) FROM samples").fetchone() == (3, 4)
    assert status == "complete"
    assert result.stdout.strip().splitlines()[-1] == run_id
