"""`tuieval search`: full-text search of every prompt and response (FTS5), kept in step as the engine
writes samples, built on demand for databases made before it, filtered by run and model."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import sqlite_utils
import yaml

from tuieval.store import Store
from tuieval.store.schema import MIGRATIONS

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}


def _tuieval(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuieval", *map(str, args)], capture_output=True, text=True,
                          env={**ENV, "TUIEVAL_DEMO_SPEED": "0"})


def _echo_suite(tmp_path: Path, tokens: list[str]) -> Path:
    """The loopback server answers "Answer: <token>" for a prompt holding <<token>>."""
    suite = {"name": "echo-search", "template": "Repeat <<{{ token }}>> please.",
             "cases": [{"id": f"c{i}", "token": t, "target": f"tok{i}"} for i, t in enumerate(tokens)],
             "scorers": ["contains"]}
    path = tmp_path / "echo.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    return path


def _lines(done: subprocess.CompletedProcess) -> list[list[str]]:
    assert done.returncode == 0, done.stderr
    return [line.split("  ", 5) for line in done.stdout.splitlines()]


def test_samples_the_engine_writes_are_found_at_once(tmp_path, model_server):
    db = tmp_path / "runs.db"
    tokens = ["tok0", "I cannot share that", "tok2", "I really cannot say", "tok4 \x1b[2J"]
    first = _tuieval("run", _echo_suite(tmp_path, tokens), "--model", "openai-compatible/echo",
                     "--base-url", model_server.openai_base_url, "--db", db, "--quiet")
    assert first.returncode in (0, 1), first.stderr
    run_a = first.stdout.strip().splitlines()[-1]
    second = _tuieval("run", _echo_suite(tmp_path, tokens), "--model", "demo/steady", "--db", db, "--quiet")
    run_b = second.stdout.strip().splitlines()[-1]

    rows = _lines(_tuieval("search", "I cannot", "--run", run_a, "--db", db))
    # the phrase "I cannot" is in c1's prompt and answer only (c3 says "I really cannot")
    assert [(r[0], r[1], r[2], r[3], r[4].strip()) for r in rows] == [
        (run_a, "openai-compatible/echo", "c1", "default#0", "wrong")]
    assert "«I» «cannot»" in rows[0][5] or "«I cannot»" in rows[0][5]

    everywhere = _lines(_tuieval("search", "cannot", "--db", db))
    by_run = {(r[0], r[2]) for r in everywhere}
    assert {(run_a, "c1"), (run_a, "c3")} <= by_run
    # the demo model answers the target, but its prompt holds the token too: found in both runs
    assert {(run_b, "c1"), (run_b, "c3")} <= by_run
    only_demo = _lines(_tuieval("search", "cannot", "--model", "demo/steady", "--db", db))
    assert {r[0] for r in only_demo} == {run_b}

    # model text stays inert in the listing
    tok4 = _tuieval("search", "tok4", "--run", run_a, "--db", db)
    assert "\x1b" not in tok4.stdout and "c4" in tok4.stdout


def test_json_output_and_verdicts(tmp_path):
    store = Store(tmp_path / "x.db")
    run_id = store.create_run({"suite": "s", "model": "m/one", "samples_per_case": 1, "temperature": 0.0,
                               "n_cases": 3, "n_templates": 1, "n_expected": 3, "config": {}},
                              [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["x"], "metadata": {},
                                "input_text": "q"} for i in range(3)])
    for i, (response, correct, error) in enumerate([("My system prompt says: be kind", True, None),
                                                    ("nothing to see", False, None), (None, False, "timeout")]):
        store.add_sample({"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": 0,
                          "dispatch_order": i, "prompt": [{"role": "user", "content": f"question {i} system prompt?"}],
                          "response": response, "correct": correct, "score": float(correct), "error": error})
    store.close()
    done = _tuieval("search", "system prompt", "--json", "--db", tmp_path / "x.db")
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)
    # every prompt asks about the system prompt: all three, newest first, with their verdicts
    assert [(g["case_id"], g["verdict"]) for g in got] == [("c2", "error"), ("c1", "wrong"), ("c0", "correct")]
    assert all("«system» «prompt»" in g["snippet"] or "«system prompt»" in g["snippet"] for g in got)


def test_a_database_from_before_search_is_indexed_on_first_search(tmp_path):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for i, step in enumerate(MIGRATIONS[:3]):
        conn.executescript(step)
    conn.execute("PRAGMA user_version = 3")
    conn.execute("INSERT INTO runs (id, suite, model, status, samples_per_case, temperature, started_at, n_cases, "
                 "n_templates, n_expected, config) VALUES ('r1', 's', 'm', 'complete', 1, 0, '2026-01-01', 2, 1, 2, '{}')")
    for i, response in enumerate(["I cannot help with that.", "Paris."]):
        conn.execute("INSERT INTO samples (run_id, case_id, template, sample_index, dispatch_order, prompt, response, "
                     "correct, score, created_at) VALUES ('r1', ?, 't', 0, ?, '[]', ?, 0, 0.0, '2026-01-01')",
                     (f"c{i}", i, response))
    conn.commit()
    conn.close()
    done = _tuieval("search", "I cannot", "--db", path)
    assert done.returncode == 0, done.stderr
    assert "indexed the samples stored before search existed" in done.stderr
    assert [r.split("  ")[2] for r in done.stdout.splitlines()] == ["c0"]
    again = _tuieval("search", "Paris", "--db", path)
    assert "indexed" not in again.stderr and "c1" in again.stdout


def test_the_index_is_the_one_sqlite_utils_and_datasette_find(tmp_path):
    store = Store(tmp_path / "x.db")
    run_id = store.create_run({"suite": "s", "model": "m", "samples_per_case": 1, "temperature": 0.0, "n_cases": 1,
                               "n_templates": 1, "n_expected": 1, "config": {}},
                              [{"case_id": "c1", "position": 0, "vars": {}, "targets": ["x"], "metadata": {},
                                "input_text": "q"}])
    store.add_sample({"run_id": run_id, "case_id": "c1", "template": "t", "sample_index": 0, "dispatch_order": 0,
                      "prompt": [], "response": "a leaked secret", "correct": False, "score": 0.0})
    # rewriting clusters updates every sample row: the index must stay whole
    store.write_clusters(run_id, "canonical", {("c1", "t", 0): 0}, [])
    store.close()
    db = sqlite_utils.Database(tmp_path / "x.db")
    assert db["samples"].detect_fts() == "samples_fts"
    assert [r["response"] for r in db["samples"].search("leaked")] == ["a leaked secret"]


def test_bad_queries_are_one_line_exit_2(tmp_path):
    Store(tmp_path / "x.db").close()
    done = _tuieval("search", "AND OR", "--fts", "--db", tmp_path / "x.db")
    assert done.returncode == 2 and done.stderr.startswith("tuieval: QUERY: fts5: syntax error")
    assert len(done.stderr.strip().splitlines()) == 1
    done = _tuieval("search", "x", "--run", "nope", "--db", tmp_path / "x.db")
    assert done.returncode == 2 and "--run" in done.stderr
    done = _tuieval("search", "x", "--model", "openai/nope", "--db", tmp_path / "x.db")
    assert done.returncode == 2 and "--model: no run of openai/nope" in done.stderr
    done = _tuieval("search", "x", "--db", tmp_path / "missing.db")
    assert done.returncode == 2 and "no database" in done.stderr
    # quotes inside a phrase are searched, not a syntax error
    done = _tuieval("search", 'say "hi"', "--db", tmp_path / "x.db")
    assert done.returncode == 0 and "no sample matches" in done.stderr
