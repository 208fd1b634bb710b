"""`tuieval run` as a user runs it: timeout flags, resume with the run's own settings, a server
that is not there. Real subprocesses, the loopback server, a real SQLite file."""

from __future__ import annotations

import socket
import sqlite3
import subprocess

import pytest

from tests.engine.test_cli_process import TUIEVAL, _env
from tests.support.model_server import ModelServer
from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.cli import timeouts_from_flags


def _tuieval(*args, env=None, timeout=120):
    return subprocess.run(TUIEVAL + [str(a) for a in args], capture_output=True, text=True,
                          env=env or _env(), timeout=timeout)


def _rows(db, sql):
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ timeouts


def test_each_timeout_flag_is_honoured_as_given():
    # --timeout 90 alone: a silent gap may last up to the total (it was capped at 60)
    assert timeouts_from_flags(None, None, 90) == Timeouts(connect=10, read=90, total=90)
    assert timeouts_from_flags(2, 75, 300) == Timeouts(connect=2, read=75, total=300)
    assert timeouts_from_flags(None, None, 4) == Timeouts(connect=4, read=4, total=4)


def test_the_read_timeout_flag_bounds_a_silent_gap(tmp_path, model_server):
    model_server.configure(stall_after_bytes=350, stall_ms=1500)  # silent 1.5 s after two deltas
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "r.db"
    common = ["run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
              "--max-retries", "0", "--timeout", "30", "--quiet"]
    short = _tuieval(*common, "--read-timeout", "0.3", "--db", db)
    assert short.returncode == 0, short.stderr
    errors = _rows(db, "SELECT error_kind, error, response IS NOT NULL FROM samples")
    assert errors == [("timeout", "read timeout (no byte for 0.3s)", 1)] * 2  # the text so far is kept
    db2 = tmp_path / "r2.db"
    long = _tuieval(*common, "--read-timeout", "5", "--db", db2)
    assert long.returncode == 0, long.stderr
    assert _rows(db2, "SELECT error FROM samples") == [(None,), (None,)]


# ------------------------------------------------------------------ resume


def test_resume_restores_every_setting_that_shapes_a_sample(tmp_path, model_server):
    # The first attempt stops at once on a bad key (nothing stored); the resume, without
    # --no-stream or --temperature, must run exactly as the run was started.
    model_server.require_api_key = "right-key"
    suite = write_echo_suite(tmp_path, 6)
    db = tmp_path / "r.db"
    first = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                     "--api-key-env", "ECHO_KEY", "--no-stream", "--temperature", "0.7", "--max-tokens", "50",
                     "--timeout", "20", "--db", db, env=_env(ECHO_KEY="wrong-key"))
    assert first.returncode == 2, first.stderr
    run_id = first.stdout.strip().splitlines()[-1]
    assert _rows(db, "SELECT status FROM runs") == [("failed",)]
    assert _rows(db, "SELECT COUNT(*) FROM samples") == [(0,)]
    assert f"--resume {run_id}" in first.stderr

    again = _tuieval("run", suite, "--resume", run_id, "--api-key-env", "ECHO_KEY", "--db", db,
                     env=_env(ECHO_KEY="right-key"))
    assert again.returncode == 0, again.stderr
    assert _rows(db, "SELECT status FROM runs") == [("complete",)]
    # no sample of a --no-stream run has a TTFT; every request asked for no stream
    assert _rows(db, "SELECT COUNT(*), COUNT(ttft_ms) FROM samples") == [(6, 0)]
    assert model_server.last_body["stream"] is False
    assert model_server.last_body["temperature"] == 0.7 and model_server.last_body["max_tokens"] == 50


@pytest.mark.parametrize(("flags", "message"), [
    (["--stream"], "--stream/--no-stream: run {id} was started with --no-stream; resuming it with --stream"),
    (["--temperature", "0.2"], "--temperature: run {id} was started with --temperature 0.7; "
                               "resuming it with --temperature 0.2"),
    (["--timeout", "5"], "--timeout: run {id} was started with --timeout 20; resuming it with --timeout 5"),
    (["--samples", "3"], "--samples: run {id} was started with --samples 1; resuming it with --samples 3"),
])
def test_a_resume_flag_that_contradicts_the_run_is_an_error_naming_both(tmp_path, flags, message):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "r.db"
    port = _free_port()  # nothing listens: the run stops at once, resumable
    first = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", f"http://127.0.0.1:{port}/v1",
                     "--no-stream", "--temperature", "0.7", "--timeout", "20", "--db", db)
    run_id = first.stdout.strip().splitlines()[-1]
    again = _tuieval("run", suite, "--resume", run_id, "--db", db, *flags)
    assert again.returncode == 2
    assert again.stderr.startswith("tuieval: " + message.format(id=run_id))
    assert len(again.stderr.strip().splitlines()) == 1 and "Traceback" not in again.stderr


# ------------------------------------------------------------------ a server that is not there


def test_a_server_that_is_not_there_stops_the_run_resumably(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}/v1"
    suite = write_echo_suite(tmp_path, 4)
    db = tmp_path / "r.db"
    first = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", base, "--db", db)
    assert first.returncode == 2
    line = [ln for ln in first.stderr.splitlines() if ln.startswith("tuieval:")]
    assert len(line) == 1 and base in line[0] and "connection refused" in line[0], first.stderr
    assert "gate failed" not in first.stderr and "complete:" not in first.stderr
    run_id = first.stdout.strip().splitlines()[-1]
    assert _rows(db, "SELECT status FROM runs") == [("failed",)]
    assert _rows(db, "SELECT COUNT(*) FROM samples") == [(0,)]

    with ModelServer(port=port):  # the server comes up where the run expects it
        again = _tuieval("run", suite, "--resume", run_id, "--db", db)
    assert again.returncode == 0, again.stderr
    assert _rows(db, "SELECT status, (SELECT COUNT(*) FROM samples WHERE error IS NULL) FROM runs") == [("complete", 4)]


def test_a_host_that_does_not_resolve_stops_the_run(tmp_path):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "r.db"
    result = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url",
                      "http://no-such-host.invalid/v1", "--db", db)
    assert result.returncode == 2
    assert "cannot reach http://no-such-host.invalid/v1: cannot resolve host" in result.stderr
