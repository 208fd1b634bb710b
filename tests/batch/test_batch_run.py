"""`tuieval run --batch` against a loopback server that implements OpenAI's Batch API (files,
batch objects, status transitions, output and error files, expiry, limits). Real subprocesses,
a real SQLite file; counts of what the server received decide "never submitted twice"."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from tests.engine.test_cli_process import TUIEVAL, _env
from tests.support.batch_server import BatchServer
from tests.support.suites import write_echo_suite
from tuieval.batch.lines import custom_id, split


@pytest.fixture
def batch_server():
    with BatchServer(require_api_key="sk-batch-test") as server:
        yield server


def _base(server, suite, db, *flags):
    return TUIEVAL + ["run", str(suite), "--model", "openai-compatible/m", "--base-url", server.base_url,
                      "--api-key-env", "BATCH_KEY", "--batch", "--poll-interval", "0", "--db", str(db), *map(str, flags)]


def _run(server, suite, db, *flags):
    return subprocess.run(_base(server, suite, db, *flags), capture_output=True, text=True,
                          env=_env(BATCH_KEY="sk-batch-test"), timeout=120)


def _samples(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT case_id, sample_index, response, correct, latency_ms, error_kind FROM samples "
                            "ORDER BY case_id, sample_index").fetchall()


def test_a_batch_run_is_split_to_the_limit_and_stored_as_ordinary_samples(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 5, samples=2)
    db = tmp_path / "b.db"
    prices = tmp_path / "p.yaml"
    prices.write_text("batch_discount: {openai-compatible: 0.5}\nmodels:\n  openai-compatible/m: {input: 100, "
                      "output: 200}\n", encoding="utf-8")
    out = _run(batch_server, suite, db, "--batch-size", 4, "--prices", prices)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    assert batch_server.batches_created == 3 and batch_server.lines_received == 10  # 4 + 4 + 2
    rows = _samples(db)
    assert len(rows) == 10
    assert all(r[2] == f"Answer: tok{int(r[0][1:])}" and r[3] == 1 for r in rows)
    assert all(r[4] is None for r in rows)  # latency does not apply to a batch
    assert "completed" in out.stderr and "sk-batch-test" not in out.stderr
    report = json.loads(subprocess.run(TUIEVAL + ["report", run_id, "--format", "json", "--db", str(db)],
                                       capture_output=True, text=True, env=_env(), timeout=60).stdout)
    assert report["overall"]["accuracy"] == 1.0 and report["overall"]["latency_ms"]["n"] == 0
    with sqlite3.connect(db) as conn:
        tokens = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM samples").fetchone()
        assert conn.execute("SELECT COUNT(*), SUM(collected) FROM batches").fetchone() == (3, 3)
    # half price: the batch discount of the price file
    assert report["cost"]["total"] == pytest.approx((tokens[0] * 100 + tokens[1] * 200) / 1e6 * 0.5)
    assert report["cost"]["batch"] is True
    for path in tmp_path.glob("b.db*"):
        assert b"sk-batch-test" not in path.read_bytes()


def test_expired_lines_become_errors_and_resume_sends_only_those(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 4)
    db = tmp_path / "b.db"
    batch_server.expire = {custom_id("c001", "default", 0), custom_id("c003", "default", 0)}
    out = _run(batch_server, suite, db)
    assert out.returncode in (0, 1), out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    rows = {r[0]: r for r in _samples(db)}
    assert rows["c001"][5] == "batch_expired" and rows["c003"][5] == "batch_expired"
    assert rows["c000"][5] is None and rows["c000"][3] == 1
    assert (batch_server.batches_created, batch_server.lines_received) == (1, 4)

    batch_server.expire = set()
    again = _run(batch_server, suite, db, "--resume", run_id)
    assert again.returncode == 0, again.stderr
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 6)  # a batch of the two only
    assert [r[5] for r in _samples(db)] == [None] * 4


@pytest.mark.parametrize("when", ["polling", "submitting"])
def test_kill_9_then_resume_never_submits_twice(tmp_path, batch_server, when):
    suite = write_echo_suite(tmp_path, 3)
    db = tmp_path / "b.db"
    if when == "submitting":
        batch_server.hang_after_create_s = 60.0  # the batch exists; the client never hears its id
        flags = ["--poll-interval", "0"]
    else:
        flags = ["--poll-interval", "60"]  # asleep between polls when killed
    proc = subprocess.Popen(_base(batch_server, suite, db) + flags, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=_env(BATCH_KEY="sk-batch-test"))
    try:
        assert batch_server.created.wait(60)
        if when == "polling":
            # the batch id is in the database before the first poll
            assert batch_server.polled.wait(60)
            with sqlite3.connect(db, timeout=30) as conn:
                row = conn.execute("SELECT batch_id FROM batches").fetchone()
            assert row and row[0] == "batch_1"
    finally:
        proc.kill()
        proc.wait(30)
    batch_server.hang_after_create_s = 0.0
    with sqlite3.connect(db) as conn:
        run_id = conn.execute("SELECT id FROM runs").fetchone()[0]
    listed = subprocess.run(TUIEVAL + ["batch", "status", "--db", str(db)], capture_output=True, text=True,
                            env=_env(), timeout=60).stdout
    assert run_id in listed and " open " in listed
    assert ("batch_1" in listed) == (when == "polling")  # killed mid-submission: the id was never heard
    out = _run(batch_server, suite, db, "--resume", run_id)
    assert out.returncode == 0, out.stderr
    assert batch_server.batches_created == 1 and batch_server.files_uploaded == 1
    assert len(_samples(db)) == 3


def test_a_batch_file_is_cut_at_the_byte_limit_too():
    lines = [b"x" * 40 + b"\n"] * 5  # 41 bytes each
    assert [len(f) for f in split(lines, max_requests=10, max_bytes=100)] == [2, 2, 1]
    assert [len(f) for f in split(lines, max_requests=2, max_bytes=10_000)] == [2, 2, 1]


def test_batch_refuses_what_it_cannot_do_in_one_line(tmp_path):
    suite = write_echo_suite(tmp_path, 2)
    out = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "demo/steady", "--batch", "--db",
                                    str(tmp_path / "x.db")], capture_output=True, text=True, env=_env(), timeout=60)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "--batch" in out.stderr


def test_export_then_import_for_a_runner_with_no_api(tmp_path):
    """vLLM's run_batch reads the input lines and writes output lines of the same format: here the
    runner is played by hand, answering every line but one, and one line it could not parse."""
    suite = write_echo_suite(tmp_path, 3, samples=2)
    db = tmp_path / "e.db"
    env = _env()
    exported = subprocess.run(TUIEVAL + ["batch", "export", str(suite), "--model", "vllm/my-model", "--db", str(db)],
                              capture_output=True, text=True, env=env, timeout=60)
    assert exported.returncode == 0, exported.stderr
    run_id = exported.stderr.split()[1].rstrip(":")
    lines = [json.loads(x) for x in exported.stdout.splitlines()]
    assert len(lines) == 6 and {x["url"] for x in lines} == {"/v1/chat/completions"}
    assert all(x["body"]["model"] == "my-model" and "stream" not in x["body"] for x in lines)
    out = []
    for x in lines[:-1]:
        token = x["body"]["messages"][-1]["content"].split("<<")[1].split(">>")[0]
        out.append({"id": "r", "custom_id": x["custom_id"], "error": None, "response": {"status_code": 200, "body": {
            "choices": [{"index": 0, "message": {"role": "assistant", "content": f"Answer: {token}"},
                         "finish_reason": "stop"}], "usage": {"prompt_tokens": 9, "completion_tokens": 3}}}})
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in out) + "{not json\n", encoding="utf-8")
    imported = subprocess.run(TUIEVAL + ["batch", "import", run_id, str(path), "--db", str(db)],
                              capture_output=True, text=True, env=env, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert f"{path} line 6: not JSON" in imported.stderr
    assert "partial: 5 samples stored, 5/6 in the run; 1 requests had no line" in imported.stderr
    rows = _samples(db)
    assert len(rows) == 5 and all(r[3] == 1 and r[4] is None for r in rows)
    status = subprocess.run(TUIEVAL + ["batch", "status", "--db", str(db)], capture_output=True, text=True,
                            env=env, timeout=60)
    assert status.stdout.strip() == "no open batches"
