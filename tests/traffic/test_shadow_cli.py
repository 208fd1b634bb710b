"""`tuieval shadow` end to end against the loopback model server, and its bad input."""

from __future__ import annotations

import json
import math

import pytest

from tuieval.cli import main
from tuieval.store import Store
from tuieval.store.shadow import get_shadow


def _invoke(args, capsys):
    code = 0
    try:
        main(args)
    except SystemExit as exc:
        code = exc.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def _traffic_log(tmp_path):
    # The loopback server answers "Answer: X" for a prompt holding <<X>>. Twelve logged requests:
    # eight logged the answer the server gives, three a different one, one logged no response
    # (not comparable); one line is not JSON. So 3 of the 11 comparable prompts disagree.
    lines = []
    for i in range(12):
        logged = f"Answer: N{i}" if i < 8 else (f"Answer: other{i}" if i < 11 else None)
        lines.append(json.dumps({"messages": [{"role": "system", "content": "Answer briefly."},
                                              {"role": "user", "content": f"Who is number {i}? <<N{i}>>"}],
                                 "response": {"choices": [{"message": {"role": "assistant", "content": logged}}]},
                                 "latency_ms": 100.0 + i, "metadata": {"team": "a" if i % 2 else "b"}}))
    lines.insert(5, "{not json")
    p = tmp_path / "traffic.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _wilson(k, n, z=1.959963984540054):
    p = k / n
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)


def test_shadow_against_logged_answers_on_the_loopback_server(tmp_path, model_server, capsys):
    log = _traffic_log(tmp_path)
    db = tmp_path / "t.db"
    code, out, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/cand",
                              "--base-url", model_server.openai_base_url, "--db", str(db), "--format", "json",
                              "--max-disagreement", "0.2", "--max-retries", "0"], capsys)
    assert code == 1, err                        # 3/11 = 27% > 0.2: the gate fails
    assert "line 6: not JSON" in err             # the malformed line, by number
    sec = json.loads(out)
    d = sec["disagreement"]
    assert (d["n"], d["k"]) == (11, 3) and math.isclose(d["rate"], 3 / 11)
    lo, hi = _wilson(3, 11)
    assert math.isclose(d["ci"][0], lo) and math.isclose(d["ci"][1], hi)
    assert d["cs"][0] <= lo and d["cs"][1] >= hi   # the anytime-valid interval is the wider one
    assert sec["n_not_comparable"] == 1
    assert sec["log"]["problems"] == 1 and sec["log"]["records"] == 12
    assert sorted(p["baseline"] for p in sec["disagreements"]) == ["Answer: other10", "Answer: other8",
                                                                   "Answer: other9"]
    assert sec["gates"] == [{"gate": "max_disagreement", "threshold": 0.2, "value": 3 / 11, "n": 11,
                             "passed": False}]
    # the logged latencies of the 11 comparable prompts are 100..110 ms: p50 by nearest rank is the
    # 6th, 105 ms
    assert sec["latency_ms"]["p50"]["baseline"] == 105.0 and sec["latency_ms"]["p50"]["n"] == 11
    # the replay went through the server: one request per sampled prompt, the system turn kept
    assert model_server.requests_total == 12
    with Store(db) as store:
        link = get_shadow(store, sec["run_id"])
        assert link["baseline_kind"] == "logged"
        runs = {r["id"]: r for r in store.list_runs()}
        assert runs[link["baseline_run_id"]]["model"] == "logged/unknown"
        assert runs[sec["run_id"]]["status"] == "complete" and runs[sec["run_id"]]["n_cases"] == 12
    # stored as a run like any other: the report carries the section
    code, out, _ = _invoke(["report", "latest", "--db", str(db), "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["shadow"]["disagreement"]["k"] == 3


def test_shadow_with_a_baseline_model_and_early_stopping(tmp_path, model_server, capsys):
    # 300 prompts, all answered the same way by candidate and baseline (one server): disagreement
    # 0. With --precision 0.35 the replay stops at the first batch (16) whose anytime-valid interval
    # [0, hw] is narrower than 0.35, long before the budget.
    p = tmp_path / "traffic.jsonl"
    p.write_text("".join(json.dumps({"prompt": f"q{i} <<A{i}>>"}) + "\n" for i in range(300)))
    db = tmp_path / "t.db"
    code, out, err = _invoke(["shadow", str(p), "--candidate", "openai-compatible/cand", "--base-url",
                              model_server.openai_base_url, "--baseline", "openai-compatible/base",
                              "--baseline-base-url", model_server.openai_base_url, "--budget", "300",
                              "--precision", "0.35", "--concurrency", "4", "--seed",
                              "1", "--db", str(db), "--format", "json"], capsys)
    assert code == 0, err
    sec = json.loads(out)
    assert sec["disagreement"]["k"] == 0 and sec["baseline"]["kind"] == "model"
    assert sec["sampling"]["stop"] == "precision"
    replayed = sec["sampling"]["replayed"]
    assert replayed < 300 and sec["disagreement"]["n"] == replayed
    assert model_server.requests_total == 2 * replayed      # baseline and candidate, nothing more


@pytest.mark.parametrize("args,needle", [
    (["--max-cost", "5", "--judge", "openai-compatible/unpriced", "--judge-base-url", "http://127.0.0.1:9/v1"],
     "--max-cost: no price for openai-compatible/unpriced (--judge); give one with --prices FILE"),
    (["--field", "prompt"], "--field: 'prompt' is not FIELD=PATH"),
    (["--agreement", "embeddings"], "--agreement embeddings needs --agreement-model"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, args, needle):
    p = tmp_path / "log.jsonl"
    p.write_text(json.dumps({"prompt": "x"}) + "\n")
    code, out, err = _invoke(["shadow", str(p), "--candidate", "demo/steady", "--db", str(tmp_path / "t.db"),
                              *args], capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "t.db").exists()       # nothing was created


def test_a_log_with_no_readable_line_exits_2_naming_it(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text("{oops\n[1]\n")
    code, _, err = _invoke(["shadow", str(p), "--candidate", "demo/steady", "--db", str(tmp_path / "t.db")], capsys)
    assert code == 2 and "log.jsonl: no readable prompt in 2 lines; first problem: line 1: not JSON" in err
    code, _, err = _invoke(["shadow", str(tmp_path / "missing.jsonl"), "--candidate", "demo/steady"], capsys)
    assert code == 2 and "missing.jsonl: no such file" in err


def test_the_pairwise_judge_sees_only_the_disagreements_in_both_orders(tmp_path, model_server, capsys):
    # The loopback judge always answers "A" (pure position bias): in order ab the candidate wins,
    # in ba the baseline does, so each verdict depends on the order and counts as a tie.
    log = _traffic_log(tmp_path)
    code, out, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/cand",
                              "--base-url", model_server.openai_base_url, "--judge", "openai-compatible/judge",
                              "--judge-base-url", model_server.openai_base_url, "--db", str(tmp_path / "t.db"),
                              "--format", "json", "--max-retries", "0"], capsys)
    assert code == 0, err
    sec = json.loads(out)
    assert model_server.grade_requests == 2 * 3             # 3 disagreements × 2 orders, nothing else
    assert {k: sec["judge"][k] for k in ("win", "tie", "loss", "n")} == {"win": 0, "tie": 3, "loss": 0, "n": 3}
    assert [p["judge"] for p in sec["disagreements"]] == ["tie"] * 3


def test_a_failed_shadow_run_resumes_without_asking_again(tmp_path, model_server, capsys):
    # 40 prompts; the 21st in replay order (second batch of 16) gets a 401, which stops the run (a
    # bad key stops everything; that request and the ones cancelled in flight are not stored).
    # --resume finishes it: no stored answer is asked for again, every missing one exactly once,
    # and the figures are those of the whole plan.
    from tuieval.traffic.log import iter_log
    from tuieval.traffic.sample import plan_sample

    p = tmp_path / "traffic.jsonl"
    p.write_text("".join(json.dumps({"prompt": f"q{i} <<A{i}>>", "response": f"Answer: A{i}" if i % 5 else "x"})
                         + "\n" for i in range(40)))
    plan = plan_sample(lambda: iter_log(p), 200)
    key = plan.chosen[20].record.prompt.split("<<")[1].rstrip(">")
    model_server.fail_first(1, status=401, key=key)
    db = str(tmp_path / "t.db")
    args = ["shadow", str(p), "--base-url", model_server.openai_base_url, "--db", db, "--format", "json",
            "--concurrency", "8"]
    code, out, err = _invoke([*args, "--candidate", "openai-compatible/cand"], capsys)
    assert code == 2 and "failed" in err and "--resume" in err
    run_id = err.split("shadow run ")[1].split()[0]
    with Store(db) as store:
        stored = {json.loads(r["prompt"])[-1]["content"].split("<<")[1].rstrip(">")
                  for r in store.get_samples(run_id, columns=("prompt",))}
    assert 16 <= len(stored) < 40 and key not in stored
    before = dict(model_server.prompt_counts)
    code, out, err = _invoke([*args, "--resume", run_id], capsys)
    assert code == 0, err
    sec = json.loads(out)
    assert sec["run_id"] == run_id and sec["disagreement"]["n"] == 40
    assert sec["disagreement"]["k"] == 8                    # i % 5 == 0 logged "x": 8 of 40
    asked = {k: model_server.prompt_counts[k] - before.get(k, 0) for k in (f"A{i}" for i in range(40))}
    assert all(asked[k] == 0 for k in stored) and all(asked[k] == 1 for k in asked if k not in stored)
