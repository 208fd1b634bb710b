"""`run --batch` with what an interactive run has: judges (run after the batch, against the
loopback model server), `--max-cost` (the batch priced up front, refused whole when over),
`--cache` (cached lines stored, only the missing ones submitted) and `--compare-to`. Real
subprocesses against tests/support/batch_server.py; the server's counters say what was sent."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest

from tests.batch.test_batch_run import _base, _run, batch_server  # noqa: F401  (the fixture)
from tests.engine.test_cli_process import _env
from tests.support.suites import write_echo_suite
from tuieval.batch.lines import custom_id
from tuieval.report import build_report
from tuieval.store import Store


def _prices(tmp_path, extra: str = ""):
    path = tmp_path / "p.yaml"
    path.write_text("batch_discount: {openai-compatible: 0.5}\nmodels:\n  openai-compatible/m: {input: 1000, "
                    "output: 2000}\n" + extra, encoding="utf-8")
    return path


def test_judges_run_after_the_batch_and_are_priced(tmp_path, batch_server, model_server):
    judge = {"type": "judge", "model": "openai-compatible/judge", "base_url": model_server.openai_base_url}
    suite = write_echo_suite(tmp_path, 4, extra={"scorers": [judge]})
    db = tmp_path / "b.db"
    prices = _prices(tmp_path, "  openai-compatible/judge: {input: 10, output: 20}\n")
    out = _run(batch_server, suite, db, "--prices", prices)
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    assert batch_server.lines_received == 4 and model_server.grade_requests == 4
    assert model_server.requests_total == 4  # only the judge went interactive
    with sqlite3.connect(db) as conn:
        verdicts = conn.execute("SELECT correct FROM samples").fetchall()
        j = conn.execute("SELECT COUNT(*), SUM(input_tokens), SUM(output_tokens) FROM judgements").fetchone()
        status = conn.execute("SELECT status FROM runs").fetchone()[0]
    # the server's grader passes an answer holding the reference: every echo answer does
    assert verdicts == [(1,)] * 4 and j[0] == 4 and status == "complete"
    store = Store(db)
    cost = build_report(store, run_id)["cost"]
    store.close()
    assert cost["judges"][0]["dollars"] == pytest.approx((j[1] * 10 + j[2] * 20) / 1e6)  # judges: no discount


def _estimate(n_cases: int, max_tokens: int) -> float:
    # by hand: the rendered prompts' characters / 4, max_tokens per request, half price
    chars = sum(len(f"Repeat the token <<tok{i}>> please.") for i in range(n_cases))
    return (round(chars / 4) * 1000 + max_tokens * n_cases * 2000) / 1e6 * 0.5


def test_max_cost_refuses_a_batch_whose_estimate_is_over_the_limit(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 5)
    db = tmp_path / "b.db"
    estimate = _estimate(5, 10)
    out = _run(batch_server, suite, db, "--prices", _prices(tmp_path), "--max-tokens", 10,
               "--max-cost", estimate * 0.99)
    assert out.returncode == 3, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "--max-cost" in lines[0] and "cannot be stopped halfway" in lines[0]
    assert batch_server.batches_created == 0 and batch_server.files_uploaded == 0  # nothing submitted
    run_id = out.stdout.strip().splitlines()[-1]

    again = _run(batch_server, suite, db, "--resume", run_id, "--max-cost", estimate * 1.01)
    assert again.returncode == 0, again.stderr
    assert batch_server.lines_received == 5


def test_max_cost_with_a_batch_needs_a_bound_on_the_output(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 2)
    out = _run(batch_server, suite, tmp_path / "b.db", "--prices", _prices(tmp_path), "--max-cost", 100)
    assert out.returncode == 3 and "--max-tokens" in out.stderr and batch_server.batches_created == 0


def test_cache_serves_the_lines_it_has_and_submits_only_the_missing(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 5)
    db = tmp_path / "b.db"
    cache = tmp_path / "cache.db"
    first = _run(batch_server, suite, db, "--limit", 3, "--cache", "--cache-path", cache)
    assert first.returncode == 0, first.stderr
    assert batch_server.lines_received == 3
    second = _run(batch_server, suite, db, "--cache", "--cache-path", cache)
    assert second.returncode == 0, second.stderr
    run_id = second.stdout.strip().splitlines()[-1]
    assert (batch_server.batches_created, batch_server.lines_received) == (2, 3 + 2)  # c003, c004 only
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, cached, response FROM samples WHERE run_id = ? ORDER BY case_id",
                            (run_id,)).fetchall()
    assert [(c, k) for c, k, _ in rows] == [("c000", 1), ("c001", 1), ("c002", 1), ("c003", 0), ("c004", 0)]
    assert all(r == f"Answer: tok{int(c[1:])}" for c, _, r in rows)

    only = _run(batch_server, suite, db, "--cache-only", "--cache-path", cache)
    assert only.returncode == 0, only.stderr  # all five are in the cache now
    assert batch_server.batches_created == 2


def test_compare_to_compares_after_the_batch(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 24)
    db = tmp_path / "b.db"
    base = _run(batch_server, suite, db)
    assert base.returncode == 0, base.stderr
    baseline = base.stdout.strip().splitlines()[-1]
    batch_server.fail = {custom_id(f"c{i:03d}", "default", 0) for i in range(12)}
    out = _run(batch_server, suite, db, "--compare-to", baseline)
    # half the cases fail in the candidate: 12 discordant pairs, all one way (exact p ≈ 0.0005)
    assert out.returncode == 1, out.stderr
    assert f"regression against {baseline}" in out.stderr


def test_dry_run_with_batch_prices_at_the_batch_discount(tmp_path, batch_server):
    suite = write_echo_suite(tmp_path, 5)
    out = subprocess.run(_base(batch_server, suite, tmp_path / "never.db", "--prices", _prices(tmp_path),
                               "--max-tokens", 10, "--dry-run"), capture_output=True, text=True,
                         env=_env(BATCH_KEY="sk-batch-test"), timeout=60)
    assert out.returncode == 0, out.stderr
    # by hand: the figure the --max-cost check refuses on, half of what the dry run says without --batch
    cost_line = next(line for line in out.stdout.splitlines() if line.startswith("cost"))
    total = float(cost_line.split("= ≤ $")[1].split()[0])
    assert total == pytest.approx(_estimate(5, 10), abs=0.001) and "batch price: 50% off" in cost_line
    assert batch_server.files_uploaded == 0 and not (tmp_path / "never.db").exists()


def test_judges_after_a_batch_stop_at_the_limit_and_resume_judges_the_rest(tmp_path, batch_server, model_server):
    judge = {"type": "judge", "model": "openai-compatible/judge", "base_url": model_server.openai_base_url}
    suite = write_echo_suite(tmp_path, 4, extra={"scorers": [judge]})
    db = tmp_path / "b.db"
    # a judge request costs dollars (hundreds of tokens at $0.1 each); the batch, a fraction of a cent
    prices = _prices(tmp_path, "  openai-compatible/judge: {input: 100000, output: 100000}\n")
    limit = _estimate(4, 10) + 0.001
    out = _run(batch_server, suite, db, "--prices", prices, "--max-tokens", 10, "--max-cost", limit,
               "--concurrency", 1)
    assert out.returncode == 3, out.stderr
    assert "stopped at the cost limit" in out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    # two workers with one slot: the judging in flight when the limit was passed finishes, no more starts
    assert 1 <= model_server.grade_requests <= 2
    again = _run(batch_server, suite, db, "--resume", run_id, "--max-cost", 1000)
    assert again.returncode == 0, again.stderr
    assert model_server.grade_requests == 4 and batch_server.lines_received == 4  # the batch was not sent again
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT case_id) FROM judgements").fetchone() == (4, 4)
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "complete"
