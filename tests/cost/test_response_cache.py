"""The response cache (`run --cache`, `--cache-only`): a rerun costs nothing, the N samples of a
case stay N independent draws, cached samples are marked and left out of latency and cost.
Real subprocesses against the loopback server, real SQLite files."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import yaml

from tests.engine.test_cli_process import TUIEVAL, _env


def _tuieval(*args, env=None):
    return subprocess.run(TUIEVAL + [str(a) for a in args], capture_output=True, text=True, env=env or _env(),
                          timeout=120)


def _suite(tmp_path, cases, samples=3, temperature=0.0, name="cached"):
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump({
        "name": name, "template": "Capital? <<{{ alts }}>>",
        "cases": [{"id": cid, "alts": alts, "target": alts.split("|")[0]} for cid, alts in cases],
        "scorers": [{"type": "regex", "pattern": r"Answer: (\w+)", "then": "exact"}],
        "sampling": {"samples": samples, "temperature": temperature, "seed": 1}}), encoding="utf-8")
    return path


def _answers(db, run_id):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT case_id, sample_index, response, cached FROM samples WHERE run_id = ? "
                            "ORDER BY case_id, sample_index", (run_id,)).fetchall()


def _run(suite, server, db, *flags, env=None):
    out = _tuieval("run", suite, "--model", "openai-compatible/m", "--base-url", server.openai_base_url,
                   "--db", db, "--concurrency", "1", *flags, env=env)
    return out, (out.stdout.strip().splitlines() or [""])[-1]


def test_a_rerun_costs_nothing_and_samples_stay_independent_draws(tmp_path, model_server):
    # the server answers the n-th request for a prompt with the n-th alternative: three samples
    # of one prompt are three different answers
    suite = _suite(tmp_path, [("q1", "Paris|Lyon|Nice"), ("q2", "Rome|Milan|Turin")])
    db = tmp_path / "r.db"
    first, run1 = _run(suite, model_server, db, "--cache")
    assert first.returncode == 0, first.stderr
    assert model_server.requests_total == 6
    assert "cache: 0 answered" in first.stderr and "6 new answers stored" in first.stderr
    second, run2 = _run(suite, model_server, db, "--cache")
    assert second.returncode == 0, second.stderr
    assert model_server.requests_total == 6  # nothing sent the second time
    a1, a2 = _answers(db, run1), _answers(db, run2)
    assert [r[:3] for r in a1] == [r[:3] for r in a2]  # sample i replays sample i
    assert {r[2] for r in a2 if r[0] == "q1"} == {"Answer: Paris", "Answer: Lyon", "Answer: Nice"}  # not 3× one
    assert [r[3] for r in a1] == [0] * 6 and [r[3] for r in a2] == [1] * 6
    report = json.loads(_tuieval("report", run2, "--format", "json", "--db", db).stdout)
    assert report["overall"]["latency_ms"]["n"] == 0  # the cached latencies are not this run's
    assert report["overall"]["n_samples"] == 6
    assert report["cost"]["model"]["n_cached"] == 6 and report["cost"]["model"]["n_requests"] == 0
    exported = [json.loads(line) for line in _tuieval("export", run2, "--db", db).stdout.splitlines()]
    assert all(row["cached"] is True for row in exported)


def test_a_changed_request_is_not_answered_from_the_cache(tmp_path, model_server):
    db = tmp_path / "r.db"
    _run(_suite(tmp_path, [("q1", "Paris")], samples=2), model_server, db, "--cache")
    assert model_server.requests_total == 2
    # another temperature is another request body; one more sample is another draw index
    _run(_suite(tmp_path, [("q1", "Paris")], samples=2, temperature=0.5, name="warm"), model_server, db, "--cache")
    assert model_server.requests_total == 4
    _run(_suite(tmp_path, [("q1", "Paris")], samples=3, name="more"), model_server, db, "--cache")
    assert model_server.requests_total == 5  # samples 0 and 1 cached, sample 2 new


def test_cache_only_sends_nothing_and_says_what_is_missing(tmp_path, model_server):
    db = tmp_path / "r.db"
    _run(_suite(tmp_path, [("q1", "Paris")], samples=2), model_server, db, "--cache")
    assert model_server.requests_total == 2
    grown = _suite(tmp_path, [("q1", "Paris"), ("q2", "Rome")], samples=2)
    out, run_id = _run(grown, model_server, db, "--cache-only")
    assert out.returncode == 3, out.stderr
    assert model_server.requests_total == 2
    assert "cache-only: 2 requests were not in the cache and were not sent" in out.stderr
    assert f"--resume {run_id} --cache" in out.stderr
    assert [r[0] for r in _answers(db, run_id)] == ["q1", "q1"]
    done, _ = _run(grown, model_server, db, "--resume", run_id, "--cache")
    assert done.returncode == 0, done.stderr
    assert model_server.requests_total == 4  # only the two missing ones
    assert len(_answers(db, run_id)) == 4


def test_the_cache_holds_no_key(tmp_path, model_server):
    model_server.require_api_key = "sk-cache-secret-123"
    db = tmp_path / "r.db"
    env = _env(MY_KEY="sk-cache-secret-123")
    out, _ = _run(_suite(tmp_path, [("q1", "Paris")], samples=1), model_server, db, "--cache",
                  "--api-key-env", "MY_KEY", env=env)
    assert out.returncode == 0, out.stderr
    cache = tmp_path / "tuieval-cache.db"
    assert cache.exists()
    for path in tmp_path.glob("tuieval-cache.db*"):
        assert b"sk-cache-secret-123" not in path.read_bytes()


def test_judge_calls_are_cached_like_model_calls(tmp_path):
    suite = tmp_path / "j.yaml"
    suite.write_text('name: judged\ntemplate: "Capital of {{ country }}?"\ncases:\n'
                     '  - {id: fr, country: France, target: Paris}\n'
                     'sampling: {samples: 2}\nscorers:\n  - {type: judge, model: demo/judge, samples: 2}\n',
                     encoding="utf-8")
    db = tmp_path / "j.db"
    env = _env(TUIEVAL_DEMO_SPEED="0")
    for _ in range(2):
        out = _tuieval("run", suite, "--model", "demo/steady", "--cache", "--db", db, "--quiet", env=env)
        assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT r.rowid, j.cached, COUNT(*) FROM judgements j JOIN runs r ON r.id = j.run_id "
                            "GROUP BY j.run_id ORDER BY r.rowid").fetchall()
    assert [(c, n) for _, c, n in rows] == [(0, 4), (1, 4)]  # 2 samples × 2 judge samples, then all replayed
