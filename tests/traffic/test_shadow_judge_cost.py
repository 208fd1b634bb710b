"""`tuieval shadow --max-cost USD --judge SPEC` against the loopback server: the pairwise judge's
requests (both orders, on the disagreements) count against the same limit as the replay, the
judging stops before the first disagreement it cannot afford (exit 3, both runs partial), and a
resume with a higher limit judges the rest without sending anything twice.

Every dollar is worked out here from what the server billed (its `billed_input` / `billed_output`
counters: input len(json.dumps(messages)) // 4, output one token per 4-character piece) and the
price file's rates."""

from __future__ import annotations

import json
import math

from tests.support.model_server import GRADE_KEY
from tests.traffic.test_shadow_cli import _invoke
from tuieval.store import Store

CAND_IN, CAND_OUT = 1000.0, 2000.0     # dollars per million tokens
BASE_IN, BASE_OUT = 3000.0, 5000.0
JUDGE_IN, JUDGE_OUT = 500.0, 4000.0
N = 12


def _prices(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text("models:\n"
                 f"  openai-compatible/cand: {{input: {CAND_IN:g}, output: {CAND_OUT:g}}}\n"
                 f"  openai-compatible/base: {{input: {BASE_IN:g}, output: {BASE_OUT:g}}}\n"
                 f"  openai-compatible/judge: {{input: {JUDGE_IN:g}, output: {JUDGE_OUT:g}}}\n", encoding="utf-8")
    return p


def _log(tmp_path):
    # twelve prompts of one length; the logged answer differs from the server's (same length) on
    # every third, so 4 disagreements (0, 3, 6, 9) whose judge prompts are all the same size
    p = tmp_path / "traffic.jsonl"
    p.write_text("".join(json.dumps({"prompt": f"Who is number {i:02d}? <<N{i:02d}>>",
                                     "response": f"Answer: {'X' if i % 3 == 0 else 'N'}{i:02d}"}) + "\n"
                         for i in range(N)), encoding="utf-8")
    return p


def _args(tmp_path, server, db):
    return ["shadow", str(_log(tmp_path)), "--candidate", "openai-compatible/cand", "--base-url",
            server.openai_base_url, "--judge", "openai-compatible/judge", "--judge-base-url", server.openai_base_url,
            "--db", str(db), "--format", "json", "--prices", str(_prices(tmp_path))]


def _judge_request_dollars(tmp_path, server, capsys):
    """One judge request's dollars, from what the server billed for the 8 judge requests of an
    unlimited run (4 disagreements × 2 orders, every one the same size)."""
    code, _, err = _invoke(_args(tmp_path, server, tmp_path / "reference.db"), capsys)
    assert code == 0, err
    assert server.grade_requests == 8
    tokens_in, tokens_out = server.billed_input[GRADE_KEY], server.billed_output[GRADE_KEY]
    assert tokens_in % 8 == 0 and tokens_out % 8 == 0     # every judge request billed the same
    server.reset()
    return (tokens_in // 8 * JUDGE_IN + tokens_out // 8 * JUDGE_OUT) / 1e6


def test_the_judging_stops_before_the_disagreement_it_cannot_afford_then_resumes(tmp_path, model_server, capsys):
    per_prompt = (14 * CAND_IN + 3 * CAND_OUT) / 1e6          # 57 characters → 14 tokens in, 3 out: $0.02
    assert math.isclose(per_prompt, 0.02)
    per_disagreement = 2 * _judge_request_dollars(tmp_path, model_server, capsys)   # both orders
    limit = N * per_prompt + 2.5 * per_disagreement          # every prompt, two disagreements, not three
    db = tmp_path / "t.db"
    code, out, err = _invoke([*_args(tmp_path, model_server, db), "--max-cost", repr(limit)], capsys)
    assert code == 3, err
    sec = json.loads(out)
    run_id = sec["run_id"]
    assert "2 of 4 disagreements judged" in err and f"--resume {run_id}" in err
    assert model_server.requests_total == N + 4               # every prompt, then 2 disagreements × 2 orders
    assert model_server.grade_requests == 4
    cost = sec["sampling"]["cost"]
    spent = N * per_prompt + 2 * per_disagreement
    assert math.isclose(cost["spent"], spent) and cost["spent"] <= limit
    assert limit - cost["spent"] < per_disagreement           # within one disagreement's two requests
    assert cost["stopped"] and cost["stopped_in"] == "judge" and sec["sampling"]["stop"] == "cost"
    assert math.isclose(cost["by_role"]["candidate"], N * per_prompt)
    assert math.isclose(cost["by_role"]["judge"], 2 * per_disagreement)
    assert cost["by_role"]["baseline"] is None                # the logged answers cost nothing
    assert math.isclose(cost["next_judgement_estimate"], per_disagreement)   # calibrated on the first
    assert cost["next_prompt_estimate"] is None
    assert sec["sampling"]["replayed"] == N and sec["disagreement"]["k"] == 4
    assert (sec["judge"]["n"], sec["judge"]["unjudged"]) == (2, 2)
    from tuieval.cost.estimate import dollars
    from tuieval.report.formats.shadow import shadow_markdown

    md = shadow_markdown(sec)
    assert (f"Cost: {dollars(spent)} spent of --max-cost {dollars(limit)} (candidate {dollars(N * per_prompt)}, "
            f"judge {dollars(2 * per_disagreement)}); stopped at the limit (the next judgement ≈ "
            f"{dollars(per_disagreement)})." in md)
    # the judged ones are the first two disagreements in replay order (a prefix, not the cheap ones)
    with Store(db) as store:
        assert {r["status"] for r in store.list_runs()} == {"partial"}
        cases = [c["case_id"] for c in store.get_cases(run_id)]
        judged = {j["case_id"] for j in store.get_judgements(run_id)}
    disagreeing = [p["case_id"] for p in sec["disagreements"]]
    assert judged == set(sorted(disagreeing, key=cases.index)[:2])

    before = dict(model_server.prompt_counts)
    code, out, err = _invoke([*_args(tmp_path, model_server, db), "--resume", run_id, "--max-cost", "100"], capsys)
    assert code == 0, err
    sec = json.loads(out)
    assert model_server.requests_total == N + 8               # only the 4 judge requests left
    assert {k: v - before.get(k, 0) for k, v in model_server.prompt_counts.items()
            if v != before.get(k, 0)} == {GRADE_KEY: 4}        # no prompt asked again
    assert (sec["judge"]["n"], sec["judge"]["unjudged"]) == (4, 0)
    cost = sec["sampling"]["cost"]
    assert math.isclose(cost["spent"], N * per_prompt + 4 * per_disagreement)
    assert math.isclose(cost["by_role"]["judge"], 4 * per_disagreement)
    assert not cost["stopped"] and sec["sampling"]["stop"] == "budget"


def test_with_a_baseline_model_the_replay_stops_first_and_the_resume_judges(tmp_path, model_server, capsys):
    # the baseline model answers X for every third prompt (the server's per-model rule), so the same
    # 4 disagreements; a prompt costs both models' requests, and the limit stops the replay after
    # three prompts, before any judging (a judgement costs more than what is left)
    model_server.answer_rule = lambda model, text, answer: (
        answer.replace("N", "X") if model == "base" and int(answer[-2:]) % 3 == 0 else answer)
    log = tmp_path / "traffic.jsonl"
    log.write_text("".join(json.dumps({"prompt": f"Who is number {i:02d}? <<N{i:02d}>>"}) + "\n" for i in range(N)),
                   encoding="utf-8")
    pair = (14 * CAND_IN + 3 * CAND_OUT) / 1e6 + (14 * BASE_IN + 3 * BASE_OUT) / 1e6   # $0.02 + $0.057
    assert math.isclose(pair, 0.077)
    limit = 3.5 * pair
    db = tmp_path / "t.db"
    args = ["shadow", str(log), "--candidate", "openai-compatible/cand", "--baseline", "openai-compatible/base",
            "--base-url", model_server.openai_base_url, "--baseline-base-url", model_server.openai_base_url,
            "--judge", "openai-compatible/judge", "--judge-base-url", model_server.openai_base_url, "--db", str(db),
            "--format", "json", "--prices", str(_prices(tmp_path))]
    # a judge prompt is far longer than the replayed prompt: more than the $0.0385 left
    code, out, err = _invoke([*args, "--max-cost", repr(limit)], capsys)
    assert code == 3, err
    sec = json.loads(out)
    assert model_server.requests_total == 2 * 3 and model_server.grade_requests == 0
    cost = sec["sampling"]["cost"]
    assert cost["stopped_in"] == "replay" and math.isclose(cost["spent"], 3 * pair)
    assert math.isclose(cost["by_role"]["candidate"], 3 * 0.02)
    assert math.isclose(cost["by_role"]["baseline"], 3 * 0.057)
    assert cost["by_role"]["judge"] == 0.0
    assert math.isclose(cost["next_prompt_estimate"], pair)

    code, out, err = _invoke([*args, "--resume", sec["run_id"], "--max-cost", "100"], capsys)
    assert code == 0, err
    sec = json.loads(out)
    counts = {k: v for k, v in model_server.prompt_counts.items() if k != GRADE_KEY}
    assert counts == {f"N{i:02d}": 2 for i in range(N)}      # each prompt once per model, over both processes
    assert model_server.grade_requests == 2 * 4
    judge_dollars = (model_server.billed_input[GRADE_KEY] * JUDGE_IN + model_server.billed_output[GRADE_KEY]
                     * JUDGE_OUT) / 1e6
    cost = sec["sampling"]["cost"]
    assert math.isclose(cost["by_role"]["judge"], judge_dollars)
    assert math.isclose(cost["spent"], N * pair + judge_dollars)
    assert sec["judge"]["n"] == 4 and sec["disagreement"]["k"] == 4
