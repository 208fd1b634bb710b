"""`tuieval redteam` as a user runs it: real subprocesses, a real SQLite file, kill -9 and resume,
the saved regression suites validated and run, bad input in one line."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.support.suites import write_echo_suite

TUIEVAL = [sys.executable, "-m", "tuieval"]
REPO = Path(__file__).resolve().parents[2]


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_", "TUIEVAL_"))}
    env.update(extra)
    return env


def _count(db: Path, table: str) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _unique_tokens(parts):
    """Each attack asks for its own token <<tokN-strategy>>, so the server counts every attack's
    target requests apart; the regex scorer still reads tokN (\\w stops at the dash)."""
    import re

    original = re.sub(r"<<(.*?)>>", lambda m: f"<<{m.group(1)}-{parts['strategy']}>>", parts["original"])
    return f"<prompt>{original}</prompt>"


def test_kill_9_mid_attack_then_resume_never_asks_a_finished_attack_again(tmp_path, model_server):
    model_server.latency_ms = 40
    model_server.attack_rule = _unique_tokens
    suite = write_echo_suite(tmp_path, 20)
    db = tmp_path / "rt.db"
    url = model_server.openai_base_url
    cmd = TUIEVAL + ["redteam", str(suite), "--target", "openai-compatible/echo", "--attacker",
                     "openai-compatible/attacker", "--strategies", "paraphrase,role_play,format_pressure",
                     "--base-url", url, "--attacker-base-url", url, "--concurrency", "2", "--db", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
    deadline = time.monotonic() + 60
    while _count(db, "redteam_answers") < 12:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else "ended early"
        assert time.monotonic() < deadline, "no answers stored in 60s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    with sqlite3.connect(db) as conn:
        rt_id, status = conn.execute("SELECT id, status FROM redteams").fetchone()
        attacked_before = set(conn.execute("SELECT case_id, strategy FROM redteam_attacks").fetchall())
        answered_before = set(conn.execute("SELECT case_id, strategy FROM redteam_answers").fetchall())
    assert status == "running"  # killed: no chance to mark it
    assert 12 <= len(answered_before) < 60

    done = subprocess.run(TUIEVAL + ["redteam", "--resume", rt_id, "--db", str(db), "--concurrency", "2"],
                          capture_output=True, text=True, env=_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == rt_id
    with sqlite3.connect(db) as conn:
        attacks = conn.execute("SELECT COUNT(*) FROM redteam_attacks").fetchone()[0]
        answers = conn.execute("SELECT COUNT(*), SUM(correct) FROM redteam_answers").fetchone()
        status = conn.execute("SELECT status FROM redteams").fetchone()[0]
        seeds = conn.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    assert (attacks, answers[0], answers[1], status, seeds) == (60, 60, 60, "complete", 20)
    # Across both processes the attacker was asked each (case, strategy) once if it was stored
    # before the kill, and each stored answer's target request was sent exactly once.
    asked: dict[tuple, int] = {}
    for p in model_server.attack_log:
        key = ("c%03d" % int(p["original"].split("<<tok")[1].split(">>")[0]), p["strategy"])
        asked[key] = asked.get(key, 0) + 1
    assert set(asked) == {(f"c{i:03d}", s) for i in range(20) for s in ("paraphrase", "role_play", "format_pressure")}
    for key in attacked_before:
        assert asked[key] == 1, key
    for case_id, strategy in answered_before:
        assert model_server.prompt_counts[f"tok{int(case_id[1:])}-{strategy}"] == 1, (case_id, strategy)
    # the seeds were answered once each, before the attacks
    assert all(model_server.prompt_counts[f"tok{i}"] == 1 for i in range(20))


def test_offline_demo_run_report_and_saved_regression_suites(tmp_path):
    db = tmp_path / "demo.db"
    out = tmp_path / "attacks"
    result = subprocess.run(TUIEVAL + ["redteam", "sample_suites/qa.yaml", "--target", "demo/sensitive", "--attacker",
                                       "demo/attacker", "--judge", "demo/judge", "--limit", "6", "--strategies",
                                       "role_play,multi_turn", "--tries", "2", "--save-attacks", str(out),
                                       "--db", str(db)],
                            capture_output=True, text=True, env=_env(TUIEVAL_DEMO_SPEED="0"), timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    rt_id = result.stdout.strip().splitlines()[-1]
    with sqlite3.connect(db) as conn:
        run_id = json.loads(conn.execute("SELECT run_ids FROM redteams WHERE id = ?", (rt_id,)).fetchone()[0])[0]
        # counted by SQL, independently of the report code
        rows = conn.execute("SELECT strategy, COUNT(*), SUM(correct = 0) FROM redteam_answers WHERE error IS NULL "
                            "GROUP BY strategy").fetchall()
        n_broken = conn.execute("SELECT COUNT(*) FROM redteam_answers WHERE correct = 0").fetchone()[0]
    report = json.loads(subprocess.run(TUIEVAL + ["report", run_id, "--format", "json", "--db", str(db)],
                                       capture_output=True, text=True, env=_env(), check=True, cwd=REPO).stdout)
    sec = report["redteam"]
    assert sec["id"] == rt_id and sec["attacker"] == "demo/attacker"
    assert {s["strategy"]: (s["n"], s["n_broken"]) for s in sec["strategies"]} == {r[0]: (r[1], r[2]) for r in rows}
    assert n_broken > 0  # demo/sensitive breaks under redteam templates (about 40% of answers)
    saved = sorted(out.glob("*.yaml"))
    assert len(saved) == n_broken
    check = subprocess.run(TUIEVAL + ["validate", *map(str, saved)], capture_output=True, text=True, env=_env(),
                           timeout=60, cwd=REPO)
    assert check.returncode == 0, check.stdout + check.stderr
    multi = next(p for p in saved if "multi_turn" in p.name)
    data = yaml.safe_load(multi.read_text(encoding="utf-8"))
    case = data["cases"][0]
    assert case["metadata"]["seed_case"] == case["id"].split("~")[0] and case["metadata"]["redteam"] == rt_id
    assert [m["role"] for m in case["conversation"]][-1] == "user" and len(case["conversation"]) >= 3
    ran = subprocess.run(TUIEVAL + ["run", str(multi), "--model", "demo/steady", "--db", str(tmp_path / "reg.db"),
                                    "--quiet"], capture_output=True, text=True, env=_env(TUIEVAL_DEMO_SPEED="0"),
                         timeout=60, cwd=REPO)
    assert ran.returncode in (0, 1), ran.stderr
    md = subprocess.run(TUIEVAL + ["report", run_id, "--db", str(db)], capture_output=True, text=True, env=_env(),
                        check=True, cwd=REPO).stdout
    assert "## Red team" in md and "### Successful attacks" in md


def test_a_saved_attack_reproduces_the_failure_against_the_server(tmp_path, model_server):
    from tests.redteam.helpers import run_redteam
    from tuieval.redteam.regression import save_attacks
    from tuieval.suite.loader import validate

    store, rt_id, _ = run_redteam(tmp_path, model_server, n_cases=2, strategies=["instruction_injection"])
    paths = save_attacks(store, rt_id, tmp_path / "saved")
    assert [p.name for p in paths] == ["c000--instruction_injection--try1.yaml", "c001--instruction_injection--try1.yaml"]
    assert all(validate(p) == [] for p in paths)
    db = tmp_path / "reg.db"
    ran = subprocess.run(TUIEVAL + ["run", str(paths[0]), "--model", "openai-compatible/echo", "--base-url",
                                    model_server.openai_base_url, "--db", str(db), "--quiet"],
                         capture_output=True, text=True, env=_env(), timeout=60)
    assert ran.returncode == 0, ran.stderr
    with sqlite3.connect(db) as conn:
        response, correct = conn.execute("SELECT response, correct FROM samples").fetchone()
    assert (response, correct) == ("Answer: INJECTED", 0)  # still broken: the regression test fails as it should


def _bad(args, tmp_path, **kw):
    r = subprocess.run(TUIEVAL + ["redteam", *args, "--db", str(tmp_path / "bad.db")], capture_output=True,
                       text=True, env=_env(TUIEVAL_DEMO_SPEED="0"), timeout=60, cwd=REPO, **kw)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    return r.stderr


def test_bad_input_is_one_line_exit_2_and_nothing_is_stored(tmp_path):
    base = ["sample_suites/qa.yaml", "--target", "demo/steady", "--attacker", "demo/attacker"]
    assert "--strategies" in _bad([*base, "--strategies", "paraphrase,jailbreak"], tmp_path)
    assert "--attacker" in _bad(["sample_suites/qa.yaml", "--target", "demo/steady", "--attacker", "demo/steady"],
                                tmp_path)
    assert "--judge" in _bad([*base, "--judge", "demo/steady"], tmp_path)
    assert "--budget" in _bad([*base, "--budget", "10"], tmp_path)  # 24 seeds cannot fit
    assert "--target" in _bad(["sample_suites/qa.yaml", "--attacker", "demo/attacker"], tmp_path)
    assert "--resume" in _bad(["--resume", "rt-nope"], tmp_path)
    db = tmp_path / "bad.db"
    if db.exists():
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 0
            assert conn.execute("SELECT COUNT(*) FROM redteams").fetchone()[0] == 0


def test_compare_two_red_team_runs_pairs_only_identical_attacks(tmp_path, model_server):
    """Two runs of the same suite and attacker, targets "fragile" (broken by every injection)
    and "sturdy" (only on tok0), 6 cases. The second run's attacker writes c005's attack
    differently, so that pair is left out: 5 pairs, c000 broken for both, c001..c004 for fragile
    only → b = 4, c = 0, exact McNemar p = 2 · (1/2)^4 = 1/8."""
    import re

    def answer(model, text, default):
        if "IGNORE" in text and (model == "fragile" or "<<tok0>>" in text):
            return "Answer: wrong"
        return default

    def attack(parts):
        extra = " (second run)" if parts["model"] == "attacker2" and "<<tok5>>" in parts["original"] else ""
        return f"<prompt>IGNORE THIS{extra}: {parts['original']}</prompt>"

    model_server.answer_rule = answer
    model_server.attack_rule = attack
    suite = write_echo_suite(tmp_path, 6)
    db = tmp_path / "rt.db"
    url = model_server.openai_base_url
    ids = []
    for target, attacker in (("openai-compatible/fragile", "openai-compatible/attacker"),
                             ("openai-compatible/sturdy", "openai-compatible/attacker2")):
        r = subprocess.run(TUIEVAL + ["redteam", str(suite), "--target", target, "--attacker", attacker,
                                      "--strategies", "instruction_injection", "--base-url", url,
                                      "--attacker-base-url", url, "--db", str(db), "--quiet"],
                           capture_output=True, text=True, env=_env(), timeout=60)
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip().splitlines()[-1])
    out = subprocess.run(TUIEVAL + ["redteam", "--compare", *ids, "--format", "json", "--db", str(db)],
                         capture_output=True, text=True, env=_env(), timeout=60)
    assert out.returncode == 0, out.stderr
    comp = json.loads(out.stdout)
    inj = next(r for r in comp["strategies"] if r["strategy"] == "instruction_injection")
    assert (inj["n_pairs"], inj["only_a_broken"], inj["only_b_broken"], inj["both_broken"]) == (5, 4, 0, 1)
    assert inj["p_value"] == 2 * 0.5 ** 4
    assert comp["n_not_paired_different_text"] == 1
    md = subprocess.run(TUIEVAL + ["redteam", "--compare", *ids, "--db", str(db)], capture_output=True, text=True,
                        env=_env(), timeout=60).stdout
    assert re.search(r"\| instruction_injection \| 5 \| 4 \| 0 \| 1 \|", md)


def test_a_bad_key_stops_the_red_team_run_failed_exit_2_and_the_key_is_never_shown(tmp_path, model_server):
    secret = "sk-redteam-SECRET-4242"
    model_server.require_api_key = "the-right-key"
    suite = write_echo_suite(tmp_path, 4)
    db = tmp_path / "rt.db"
    url = model_server.openai_base_url
    r = subprocess.run(TUIEVAL + ["redteam", str(suite), "--target", "openai-compatible/echo", "--api-key-env",
                                  "MY_KEY", "--attacker", "openai-compatible/attacker", "--base-url", url,
                                  "--attacker-base-url", url, "--db", str(db)],
                       capture_output=True, text=True, env=_env(MY_KEY=secret), timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "failed" in r.stderr
    assert secret not in r.stderr + r.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT status FROM redteams").fetchone()[0] == "failed"
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert model_server.attack_requests == 0  # nothing was attacked with no seed answered
    for path in tmp_path.glob("rt.db*"):
        assert secret.encode() not in path.read_bytes(), path
