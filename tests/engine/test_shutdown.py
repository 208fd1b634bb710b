"""Stopping always stops: a signal during Retry-After pauses, cut streams and slow closes still
ends the process with 130 and a partial run. The deadline itself is measured in benchmarks/."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import time

import pytest

from tests.engine.test_cli_process import TUIEVAL, _env, _wait_for_samples
from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions
from tuieval.store import Store
from tuieval.suite import load_suite

#: Only the test's failure guard: a process that hangs fails the test instead of the suite.
GUARD_S = 60


def _wait_for_429(server, proc, guard=GUARD_S):
    deadline = time.monotonic() + guard
    while server.status_counts[429] == 0:
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "no 429 was served"
        time.sleep(0.01)


@pytest.mark.parametrize("trial", range(3))
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_retry_after_pause_exits_130_with_a_partial_run(tmp_path, model_server, sig, trial):
    # 15% 429 with Retry-After 1, 30% cut streams, 5% 500, and every body closed 3 s late.
    model_server.configure(seed=trial, p_429=0.15, retry_after="1", p_cut=0.30, p_500=0.05,
                           slow_close_ms=3000, latency_ms=20)
    suite = write_echo_suite(tmp_path, 200)
    db = tmp_path / "runs.db"
    proc = subprocess.Popen(TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                                       model_server.openai_base_url, "--concurrency", "8", "--db", str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    _wait_for_samples(db, 2, proc)
    _wait_for_429(model_server, proc)  # some sample now waits out its Retry-After
    proc.send_signal(sig)
    try:
        out, err = proc.communicate(timeout=GUARD_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError("the process did not exit after the signal")
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    with sqlite3.connect(db) as conn:
        status, run_id = conn.execute("SELECT status, id FROM runs").fetchone()
    assert status == "partial"
    assert out.strip().splitlines()[-1] == run_id
    assert f"--resume {run_id}" in err


def test_cancelling_the_engine_while_samples_wait_out_retry_after_marks_the_run_partial(tmp_path, model_server):
    model_server.configure(p_429=0.5, retry_after="30", seed=3)  # long pauses: cancelled mid-pause
    suite = load_suite(write_echo_suite(tmp_path, 40))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/m", base_url=model_server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/m", concurrency=4, timeouts=timeouts)
    engine = Engine(store, backend)
    run_id = engine.create_run(suite, options)

    async def go():
        task = asyncio.create_task(engine.run(run_id, options))
        while model_server.status_counts[429] < 3 or engine.n_done < 1:
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, GUARD_S)  # a hang fails here, not the whole suite
        await backend.aclose()

    asyncio.run(go())
    assert store.get_run(run_id)["status"] == "partial"
