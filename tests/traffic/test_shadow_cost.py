"""`tuieval shadow --max-cost USD` against the loopback server: the replay stops before the first
prompt it cannot afford, exits 3 with both runs partial, and a resume with a higher limit finishes
it asking nothing twice. Every dollar is computed here from the server's token rule (input:
len(json.dumps(messages)) // 4; output: one token per 4-character streamed piece) and the price
file's rates, and checked against the tokens stored in the database."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from tests.traffic.test_shadow_cli import _invoke
from tuieval.store import Store

CAND_IN, CAND_OUT = 1000.0, 2000.0     # dollars per million tokens
BASE_IN, BASE_OUT = 3000.0, 5000.0


def _prices(tmp_path):
    p = tmp_path / "prices.yaml"
    p.write_text("models:\n"
                 f"  openai-compatible/cand: {{input: {CAND_IN:g}, output: {CAND_OUT:g}}}\n"
                 f"  openai-compatible/base: {{input: {BASE_IN:g}, output: {BASE_OUT:g}}}\n", encoding="utf-8")
    return p


def _log(tmp_path, n=30):
    # prompts of one length, so every request costs the same; the logged answer is the server's
    p = tmp_path / "traffic.jsonl"
    p.write_text("".join(json.dumps({"prompt": f"Who is number {i:02d}? <<N{i:02d}>>", "response": f"Answer: N{i:02d}"})
                         + "\n" for i in range(n)), encoding="utf-8")
    return p


def _one_request_tokens():
    messages = [{"role": "user", "content": "Who is number 07? <<N07>>"}]
    input_tokens = len(json.dumps(messages)) // 4            # 57 characters → 14 tokens
    output_tokens = math.ceil(len("Answer: N07") / 4)          # 11 characters in 4-character pieces → 3
    return input_tokens, output_tokens


def _stored_tokens(db, run_id):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT input_tokens, output_tokens FROM samples WHERE run_id = ?", (run_id,)).fetchall()


def test_the_replay_stops_before_the_prompt_it_cannot_afford_then_resumes(tmp_path, model_server, capsys):
    i, o = _one_request_tokens()
    assert (i, o) == (14, 3)
    per_prompt = (i * CAND_IN + o * CAND_OUT) / 1e6              # $0.02 a prompt
    assert math.isclose(per_prompt, 0.02)
    limit = 10.5 * per_prompt                                     # room for ten prompts, not eleven
    log, db = _log(tmp_path), str(tmp_path / "t.db")
    args = ["shadow", str(log), "--base-url", model_server.openai_base_url, "--db", db, "--format", "json",
            "--prices", str(_prices(tmp_path))]
    code, out, err = _invoke([*args, "--candidate", "openai-compatible/cand", "--max-cost", str(limit)], capsys)
    assert code == 3, err
    sec = json.loads(out)
    run_id = sec["run_id"]
    assert "stopped at the cost limit: $0.20 spent of --max-cost $0.21" in err and f"--resume {run_id}" in err
    assert model_server.requests_total == 10                     # nothing sent past the limit
    assert _stored_tokens(db, run_id) == [(i, o)] * 10          # the server counted as computed above
    cost = sec["sampling"]["cost"]
    assert math.isclose(cost["spent"], 10 * per_prompt) and cost["spent"] <= limit
    assert limit - cost["spent"] < per_prompt                     # stopped within one request of the limit
    assert math.isclose(cost["next_prompt_estimate"], per_prompt)  # calibrated on the first answer
    assert sec["sampling"]["stop"] == "cost" and sec["sampling"]["replayed"] == 10
    assert sec["disagreement"]["n"] == 10 and sec["disagreement"]["k"] == 0
    with Store(db) as store:
        assert {r["status"] for r in store.list_runs()} == {"partial"}

    before = dict(model_server.prompt_counts)
    code, out, err = _invoke([*args, "--resume", run_id, "--max-cost", "100"], capsys)
    assert code == 0, err
    sec = json.loads(out)
    assert sec["disagreement"]["n"] == 30 and sec["sampling"]["stop"] == "budget"
    assert model_server.requests_total == 30
    asked = {k: model_server.prompt_counts.get(k, 0) - before.get(k, 0) for k in (f"N{j:02d}" for j in range(30))}
    assert sorted(asked.values()) == [0] * 10 + [1] * 20         # every missing prompt once, the rest never
    assert math.isclose(sec["sampling"]["cost"]["spent"], 30 * per_prompt)


def test_with_a_baseline_model_a_prompt_costs_both_requests(tmp_path, model_server, capsys):
    i, o = _one_request_tokens()
    pair = (i * CAND_IN + o * CAND_OUT) / 1e6 + (i * BASE_IN + o * BASE_OUT) / 1e6   # $0.02 + $0.057
    assert math.isclose(pair, 0.077)
    limit = 4.5 * pair
    log, db = _log(tmp_path), str(tmp_path / "t.db")
    code, out, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/cand", "--baseline",
                              "openai-compatible/base", "--base-url", model_server.openai_base_url,
                              "--baseline-base-url", model_server.openai_base_url, "--db", db, "--format", "json",
                              "--prices", str(_prices(tmp_path)), "--max-cost", str(limit)], capsys)
    assert code == 3, err
    sec = json.loads(out)
    assert model_server.requests_total == 2 * 4                  # four prompts, each asked of both models
    assert _stored_tokens(db, sec["run_id"]) == [(i, o)] * 4
    assert _stored_tokens(db, sec["baseline"]["run_id"]) == [(i, o)] * 4
    spent = sec["sampling"]["cost"]["spent"]
    assert math.isclose(spent, 4 * pair) and limit - pair < spent <= limit


@pytest.mark.parametrize("extra,needle", [
    ([], "--max-cost: no price for openai-compatible/unpriced (--candidate); give one with --prices FILE"),
    (["--prices", "missing.yaml"], "missing.yaml"),
])
def test_max_cost_needs_a_price_and_says_so_in_one_line(tmp_path, capsys, extra, needle):
    log = _log(tmp_path, 2)
    code, _, err = _invoke(["shadow", str(log), "--candidate", "openai-compatible/unpriced", "--base-url",
                            "http://127.0.0.1:9/v1", "--max-cost", "1", "--db", str(tmp_path / "t.db"), *extra],
                           capsys)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "t.db").exists()


def test_batches_grow_with_the_replay_so_it_reads_each_run_a_few_times(tmp_path, capsys, monkeypatch):
    # 200 prompts, batches of 16 at first: without --precision each batch is as large as all
    # before it (16, 16, 32, 64, then the 72 left), so five batches, not thirteen of 16; with
    # --precision a batch grows by a quarter at most (16 × 5 = 80, then 20, 25, 31, 39, and the 5 left).
    from tuieval.traffic.shadow import batch_size

    monkeypatch.setenv("TUIEVAL_DEMO_SPEED", "0")
    log = tmp_path / "traffic.jsonl"
    log.write_text("".join(json.dumps({"prompt": f"q{i}", "response": "Answer: 1"}) + "\n" for i in range(200)))
    code, _, err = _invoke(["shadow", str(log), "--candidate", "demo/steady", "--budget", "200", "--concurrency", "8",
                            "--db", str(tmp_path / "t.db")], capsys)
    assert code == 0, err
    counts = [int(line.split()[0]) for line in err.splitlines() if "compared: disagreement" in line]
    assert counts == [16, 32, 64, 128, 200]
    sizes, start = [], 0
    while start < 200:
        size = min(batch_size(start, 16, 0.05), 200 - start)
        sizes.append(size)
        start += size
    assert sizes == [16, 16, 16, 16, 16, 20, 25, 31, 39, 5]
