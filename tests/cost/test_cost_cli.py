"""Cost as a user meets it: `run --dry-run`, `run --max-cost`, the report's cost section and
`report --prices`. Real subprocesses, the loopback server, a real SQLite file; every dollar
figure recomputed here from the token counts stored in the database."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from tests.engine.test_cli_process import TUIEVAL, _env
from tests.support.suites import write_echo_suite

PRICES = "models:\n  openai-compatible/echo: {input: 1000, output: 2000}\n"  # dollars per million tokens


def _tuieval(*args):
    return subprocess.run(TUIEVAL + [str(a) for a in args], capture_output=True, text=True, env=_env(), timeout=120)


def _sample_costs(db, run_id, input_price=1000.0, output_price=2000.0):
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, input_tokens, output_tokens FROM samples WHERE run_id = ? ORDER BY id",
                            (run_id,)).fetchall()
    return [(case, (i * input_price + o * output_price) / 1e6) for case, i, o in rows]


@pytest.fixture
def priced(tmp_path):
    path = tmp_path / "prices.yaml"
    path.write_text(PRICES, encoding="utf-8")
    return path


def test_max_cost_stops_within_one_request_then_resume_finishes_without_asking_twice(tmp_path, model_server,
                                                                                     priced):
    suite = write_echo_suite(tmp_path, 20)
    db = tmp_path / "r.db"
    limit = 0.1
    out = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                   "--concurrency", "1", "--max-cost", limit, "--prices", priced, "--db", db, "--quiet")
    assert out.returncode == 3, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    assert "stopped at the cost limit" in out.stderr and f"--resume {run_id}" in out.stderr
    costs = [c for _, c in _sample_costs(db, run_id)]
    assert 0 < len(costs) < 20
    spent = sum(costs)
    assert spent >= limit                   # it went up to the limit
    assert spent - costs[-1] < limit        # and the last request was sent while under it
    assert model_server.requests_total == len(costs)  # nothing asked and thrown away
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM runs").fetchone()[0] == "partial"

    again = _tuieval("run", suite, "--resume", run_id, "--max-cost", 100, "--prices", priced, "--db", db, "--quiet")
    assert again.returncode == 0, again.stderr
    assert model_server.requests_total == 20
    assert len(_sample_costs(db, run_id)) == 20


def test_the_report_prices_every_sample_and_slice_and_can_be_re_priced(tmp_path, model_server, priced):
    suite = write_echo_suite(tmp_path, 10, samples=2)
    db = tmp_path / "r.db"
    out = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                   "--prices", priced, "--db", db, "--quiet")
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    report = json.loads(_tuieval("report", run_id, "--format", "json", "--db", db).stdout)
    cost = report["cost"]
    samples = _sample_costs(db, run_id)
    assert cost["total"] == pytest.approx(sum(c for _, c in samples))
    assert cost["model"]["n_requests"] == 20 and cost["n_cases"] == 10
    assert cost["per_sample"] == pytest.approx(sum(c for _, c in samples) / 20)
    even = {f"c{i:03d}" for i in range(0, 10, 2)}
    by_slice = {(s["key"], s["value"]): s for s in cost["slices"]}
    assert by_slice[("parity", "even")]["dollars"] == pytest.approx(sum(c for k, c in samples if k in even))
    assert by_slice[("parity", "even")]["n_cases"] == 5
    assert cost["model"]["price"]["input"] == 1000.0  # the price the run ran at was stored with it

    # re-priced on purpose: half the input price
    cheaper = tmp_path / "cheaper.yaml"
    cheaper.write_text("models:\n  openai-compatible/echo: {input: 500, output: 2000}\n", encoding="utf-8")
    again = json.loads(_tuieval("report", run_id, "--format", "json", "--prices", cheaper, "--db", db).stdout)
    assert again["cost"]["total"] == pytest.approx(sum(c for _, c in _sample_costs(db, run_id, 500.0)))
    md = _tuieval("report", run_id, "--db", db).stdout
    assert "Cost" in md and "n=20" in md


def test_a_run_without_a_price_says_so_and_max_cost_refuses_it(tmp_path, model_server):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "r.db"
    refused = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url",
                       model_server.openai_base_url, "--max-cost", 1, "--db", db)
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "tuieval: --max-cost: no price for openai-compatible/echo; give one with --prices FILE"]
    assert model_server.requests_total == 0
    out = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                   "--db", db, "--quiet")
    report = json.loads(_tuieval("report", "latest", "--format", "json", "--db", db).stdout)
    assert out.returncode == 0
    assert report["cost"]["total"] is None and report["cost"]["unpriced"] == ["openai-compatible/echo"]


def test_dry_run_counts_requests_and_tokens_and_sends_nothing(tmp_path, model_server, priced):
    suite = write_echo_suite(tmp_path, 6, samples=3)
    db = tmp_path / "never.db"
    out = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                   "--max-tokens", 50, "--prices", priced, "--dry-run", "--db", db)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "dry run: 6 cases × 1 template(s) × 3 sample(s) = 18 requests to openai-compatible/echo"
    # the rendered prompt "Repeat the token <<tokN>> please." is 33 characters for N < 10
    chars = 6 * 3 * len("Repeat the token <<tok0>> please.")
    assert lines[1].startswith(f"input tokens ≈ {round(chars / 4):,} ")
    assert lines[2].startswith("output tokens ≤ 900 ")
    # 148 tokens × $1000/M = $0.148; 900 tokens × $2000/M = $1.80; together ≤ $1.948
    assert lines[3].startswith("cost ≈ $0.15 input + ≤ $1.80 output = ≤ $1.95 ")
    assert lines[-1] == "no request was sent"
    assert model_server.requests_total == 0 and not db.exists()


@pytest.mark.parametrize("flags, message", [
    (["--max-cost", "0"], "--max-cost"),
    (["--max-cost", "cheap"], "--max-cost"),
    (["--prices", "missing.yaml"], "missing.yaml"),
])
def test_bad_cost_flags_are_one_line_exit_2(tmp_path, flags, message):
    suite = write_echo_suite(tmp_path, 2)
    out = _tuieval("run", suite, "--model", "demo/steady", "--db", tmp_path / "r.db", *flags)
    assert out.returncode == 2
    assert len(out.stderr.strip().splitlines()) == 1 and message in out.stderr
    assert "Traceback" not in out.stderr


def test_judge_calls_are_priced_at_the_judge_model_price(tmp_path):
    suite = tmp_path / "j.yaml"
    suite.write_text('name: judged\ntemplate: "Capital of {{ country }}?"\ncases:\n'
                     '  - {id: fr, country: France, target: Paris}\n  - {id: de, country: Germany, target: Berlin}\n'
                     'scorers:\n  - {type: judge, model: demo/judge}\n', encoding="utf-8")
    prices = tmp_path / "p.yaml"
    prices.write_text("models:\n  demo/steady: {input: 1, output: 2}\n  demo/judge: {input: 100, output: 300}\n",
                      encoding="utf-8")
    db = tmp_path / "j.db"
    env = _env(TUIEVAL_DEMO_SPEED="0")
    out = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "demo/steady", "--prices", str(prices), "--db",
                                    str(db), "--quiet"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    cost = json.loads(_tuieval("report", "latest", "--format", "json", "--db", db).stdout)["cost"]
    with sqlite3.connect(db) as conn:
        judged = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens), COUNT(*) FROM judgements").fetchone()
        answered = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM samples").fetchone()
    judge_dollars = (judged[0] * 100 + judged[1] * 300) / 1e6
    model_dollars = (answered[0] * 1 + answered[1] * 2) / 1e6
    assert judged[0] > 0 and judged[2] == 2
    [judge] = cost["judges"]
    assert judge["model"] == "demo/judge" and judge["n_requests"] == 2
    assert judge["dollars"] == pytest.approx(judge_dollars)
    assert cost["total"] == pytest.approx(judge_dollars + model_dollars)
