"""Judges of a `run --batch` as a second batch, to the judge model's own provider: the same
lifecycle as the answers' batch (the id stored before polling, kill -9 then --resume polls the
same judge batch and never resubmits, judge lines that expired are sent again and only those),
priced with the batch discount. Real subprocesses against tests/support/batch_server.py, whose
counters say what was submitted; dollars by hand."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from tests.batch.test_batch_run import TUIEVAL, batch_server  # noqa: F401  (the fixture)
from tests.engine.test_cli_process import _env
from tests.support.suites import write_echo_suite
from tuieval.report import build_report
from tuieval.store import Store

KEY = "sk-batch-test"


def _suite(tmp_path, server, n, judge_spec, base):
    judge = {"type": "judge", "model": judge_spec, "base_url": base, "api_key_env": "BATCH_KEY"}
    return write_echo_suite(tmp_path, n, extra={"scorers": [judge]})


def _cmd(suite, db, model, base, *flags):
    return TUIEVAL + ["run", str(suite), "--model", model, "--base-url", base, "--api-key-env", "BATCH_KEY",
                      "--batch", "--db", str(db), *map(str, flags)]


def _run(*args, **kw):
    return subprocess.run(_cmd(*args, **kw), capture_output=True, text=True, env=_env(BATCH_KEY=KEY), timeout=120)


def _judgements(db):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT case_id, grade, batched, error_kind, latency_ms, input_tokens, output_tokens "
                            "FROM judgements ORDER BY case_id").fetchall()


def test_openai_judges_go_as_a_second_batch_at_the_batch_price(tmp_path, batch_server):
    suite = _suite(tmp_path, batch_server, 3, "openai/judge", batch_server.base_url)
    db = tmp_path / "b.db"
    prices = tmp_path / "p.yaml"
    prices.write_text("batch_discount: {openai-compatible: 0.5, openai: 0.5}\nmodels:\n"
                      "  openai-compatible/m: {input: 1000, output: 2000}\n  openai/judge: {input: 10, output: 20}\n",
                      encoding="utf-8")
    out = _run(suite, db, "openai-compatible/m", batch_server.base_url, "--poll-interval", 0, "--prices", prices)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    # two batches: the 3 answers, then their 3 judge requests (nothing interactive)
    assert (batch_server.batches_created, batch_server.lines_received, batch_server.grade_lines) == (2, 6, 3)
    assert "submitted 3 judge requests to openai/judge" in out.stderr
    rows = _judgements(db)
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [("PASS", 1, None, None)] * 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT correct FROM samples").fetchall() == [(1,)] * 3
        assert conn.execute("SELECT purpose, model, collected FROM batches ORDER BY created_at").fetchall() == [
            ("samples", None, 1), ("judges", "openai/judge", 1)]
    store = Store(db)
    cost = build_report(store, run_id)["cost"]
    store.close()
    j_in, j_out = sum(r[5] for r in rows), sum(r[6] for r in rows)
    assert cost["judges"][0]["dollars"] == pytest.approx((j_in * 10 + j_out * 20) / 1e6 * 0.5)


def test_kill_9_while_polling_the_judge_batch_then_resume_polls_it(tmp_path, batch_server):
    suite = _suite(tmp_path, batch_server, 3, "openai/judge", batch_server.base_url)
    db = tmp_path / "b.db"
    batch_server.hold_judges = True
    proc = subprocess.Popen(_cmd(suite, db, "openai-compatible/m", batch_server.base_url, "--poll-interval", 0.05),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(BATCH_KEY=KEY))
    try:
        assert batch_server.judge_polled.wait(60)
        with sqlite3.connect(db, timeout=30) as conn:  # the judge batch's id is stored before its first poll
            row = conn.execute("SELECT batch_id, collected FROM batches WHERE purpose = 'judges'").fetchone()
        assert row == ("batch_2", 0)
    finally:
        proc.kill()
        proc.wait(30)
    assert _judgements(db) == []
    batch_server.hold_judges = False
    with sqlite3.connect(db) as conn:
        run_id = conn.execute("SELECT id FROM runs").fetchone()[0]
    listed = subprocess.run(TUIEVAL + ["batch", "status", "--db", str(db)], capture_output=True, text=True,
                            env=_env(), timeout=60).stdout.strip().splitlines()
    assert len(listed) == 1 and "batch_2  judges (openai/judge)" in listed[0] and " open " in listed[0]
    out = _run(suite, db, "openai-compatible/m", batch_server.base_url, "--poll-interval", 0, "--resume", run_id)
    assert out.returncode == 0, out.stderr
    # nothing submitted twice: still the two batches and their 6 lines
    assert (batch_server.batches_created, batch_server.files_uploaded, batch_server.lines_received) == (2, 2, 6)
    assert [r[1] for r in _judgements(db)] == ["PASS"] * 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT correct FROM samples").fetchall() == [(1,)] * 3


def test_anthropic_judge_lines_that_expired_are_sent_again_and_only_those(tmp_path, batch_server):
    root = f"http://127.0.0.1:{batch_server.port}"
    suite = _suite(tmp_path, batch_server, 4, "anthropic/judge", root)
    db = tmp_path / "a.db"
    batch_server.expire = {"j0"}  # the judge request of the sample dispatched first
    out = _run(suite, db, "anthropic/claude-haiku-4-5", root, "--poll-interval", 0)
    assert out.returncode in (0, 1), out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 8)
    rows = _judgements(db)
    assert sorted(r[3] or "" for r in rows) == ["", "", "", "batch_expired"]
    batch_server.expire = set()
    again = _run(suite, db, "anthropic/claude-haiku-4-5", root, "--poll-interval", 0, "--resume", run_id)
    assert again.returncode == 0, again.stderr
    # one more judge batch, of the one expired line; no answer sent again
    assert (batch_server.batches_created, batch_server.lines_received, batch_server.grade_lines) == (3, 9, 4)
    assert [(r[1], r[3]) for r in _judgements(db)] == [("PASS", None)] * 4
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT correct FROM samples").fetchall() == [(1,)] * 4  # the verdict written anew


def test_a_cached_rerun_submits_no_judge_batch(tmp_path, batch_server):
    suite = _suite(tmp_path, batch_server, 3, "openai/judge", batch_server.base_url)
    cache = tmp_path / "cache.db"
    first = _run(suite, tmp_path / "one.db", "openai-compatible/m", batch_server.base_url, "--poll-interval", 0,
                 "--cache-path", cache)
    assert first.returncode == 0, first.stderr
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 6)
    again = _run(suite, tmp_path / "two.db", "openai-compatible/m", batch_server.base_url, "--poll-interval", 0,
                 "--cache-path", cache)
    assert again.returncode == 0, again.stderr
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 6)  # answers and judges cached
    with sqlite3.connect(tmp_path / "two.db") as conn:
        assert conn.execute("SELECT grade, cached, batched FROM judgements").fetchall() == [("PASS", 1, 0)] * 3


def test_max_cost_refuses_a_judge_batch_over_the_limit_and_resume_sends_it(tmp_path, batch_server):
    from tests.batch.test_batch_with_the_rest import _estimate

    judge = {"type": "judge", "model": "openai/judge", "base_url": batch_server.base_url, "api_key_env": "BATCH_KEY",
             "max_tokens": 10}
    suite = write_echo_suite(tmp_path, 3, extra={"scorers": [judge]})
    db = tmp_path / "b.db"
    prices = tmp_path / "p.yaml"
    prices.write_text("batch_discount: {openai-compatible: 0.5, openai: 0.5}\nmodels:\n"
                      "  openai-compatible/m: {input: 1000, output: 2000}\n  openai/judge: {input: 1000, output: 2000}\n",
                      encoding="utf-8")
    # enough for the answers' batch (its estimate, by hand); the judge batch's output bound alone,
    # 3 × 10 tokens × $2000 per million at half price = $0.03, is over what is left
    limit = _estimate(3, 10) * 1.01
    out = _run(suite, db, "openai-compatible/m", batch_server.base_url, "--poll-interval", 0, "--prices", prices,
               "--max-tokens", 10, "--max-cost", limit)
    assert out.returncode == 3, out.stderr
    assert "the judge batch to openai/judge of 3 requests would cost up to" in out.stderr
    assert (batch_server.batches_created, batch_server.lines_received) == (1, 3)  # the answers only
    run_id = out.stdout.strip().splitlines()[-1]
    again = _run(suite, db, "openai-compatible/m", batch_server.base_url, "--poll-interval", 0, "--resume", run_id,
                 "--max-cost", 100)
    assert again.returncode == 0, again.stderr
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 6)
    assert [r[1] for r in _judgements(db)] == ["PASS"] * 3


def test_dry_run_says_which_judges_go_as_a_batch(tmp_path):
    scorers = [{"type": "judge", "model": "openai/judge", "name": "j1"},
               {"type": "judge", "model": "openai-compatible/judge", "base_url": "http://127.0.0.1:9/v1", "name": "j2"}]
    suite = write_echo_suite(tmp_path, 2, extra={"scorers": scorers})
    out = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "openai/gpt-4o-mini", "--batch", "--dry-run",
                                    "--db", str(tmp_path / "d.db")], capture_output=True, text=True,
                         env=_env(OPENAI_API_KEY="sk-x"), timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout + out.stderr
    assert "judge openai/judge: 2 requests (their cost depends on the answers, sent as a batch)" in text
    assert "judge openai-compatible/judge: 2 requests (their cost depends on the answers)" in text
