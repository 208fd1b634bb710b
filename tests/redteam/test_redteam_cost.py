"""What a red team cost: attacker, target turns and judge, per strategy and in total, priced
against the loopback server. Tokens are worked out by hand from the server's rule (prompt tokens
= max(1, len(json.dumps(messages)) // 4), one output token per 4-character delta) from the
stored conversations, never read from the code under test."""

from __future__ import annotations

import json
import math

import pytest

from tests.redteam.helpers import run_redteam
from tuieval.cost.prices import PriceTable, parse_table
from tuieval.report import build_report
from tuieval.report.formats.markdown import to_markdown
from tuieval.store.redteam import RedTeamStore

PRICES = {"models": {"openai-compatible/attacker": {"input": 100, "output": 200},
                     "openai-compatible/echo": {"input": 1000, "output": 2000},
                     "openai-compatible/judge": {"input": 10, "output": 20}}}


def _in(messages) -> int:
    return max(1, len(json.dumps(messages)) // 4)


def _out(text: str) -> int:
    return math.ceil(len(text) / 4)


def test_attacker_target_turns_and_judge_are_priced_per_strategy(tmp_path, model_server):
    store, rt_id, status = run_redteam(tmp_path, model_server, n_cases=2, judge="openai-compatible/judge",
                                       strategies=["instruction_injection", "multi_turn"])
    assert status == "complete"
    rts = RedTeamStore(store)
    table = PriceTable(parse_table(PRICES, "test"))
    sec = build_report(store, rts.get(rt_id)["run_ids"][0], prices=table)["redteam"]
    cost = sec["cost"]

    by_strategy = {s: {"attacker": 0.0, "target": 0.0, "judge": 0.0} for s in ("instruction_injection", "multi_turn")}
    for a in rts.attacks(rt_id):
        by_strategy[a["strategy"]]["attacker"] += (_in(a["prompt"]) * 100 + _out(a["reply"]) * 200) / 1e6
    n_turns = 0
    for ans in rts.answers(rt_id):
        messages = ans["messages"]
        # each turn sent the conversation up to its user message; the reply after it is the output
        users = [i for i, m in enumerate(messages) if m["role"] == "user"]
        replies = [m["content"] for m in messages if m["role"] == "assistant"] + [ans["response"]]
        for i, reply in zip(users, replies):
            by_strategy[ans["strategy"]]["target"] += (_in(messages[: i + 1]) * 1000 + _out(reply) * 2000) / 1e6
            n_turns += 1
        for j in ans["judgements"]:
            assert j["output_tokens"] == _out(j["reply"])
            by_strategy[ans["strategy"]]["judge"] += (j["input_tokens"] * 10 + j["output_tokens"] * 20) / 1e6
    assert n_turns == 2 + 2 * 2  # injection: one turn per case; multi_turn: a greeting, then the seed

    got = {s["strategy"]: s for s in cost["strategies"]}
    for strategy, parts in by_strategy.items():
        for role, dollars in parts.items():
            assert got[strategy][role] == pytest.approx(dollars), (strategy, role)
        assert got[strategy]["dollars"] == pytest.approx(sum(parts.values()))
    assert cost["total"] == pytest.approx(sum(sum(p.values()) for p in by_strategy.values()))
    assert cost["attacker"]["n_requests"] == 4 and cost["targets"][0]["n_requests"] == n_turns
    assert cost["judges"][0]["n_requests"] == 4 and cost["n_estimated"] == 0 and cost["unpriced"] == []
    assert "### Cost of the red team" in to_markdown(build_report(store, rts.get(rt_id)["run_ids"][0], prices=table))


def test_unpriced_models_are_named_not_guessed(tmp_path, model_server):
    store, rt_id, _ = run_redteam(tmp_path, model_server, n_cases=1, strategies=["paraphrase"])
    cost = build_report(store, RedTeamStore(store).get(rt_id)["run_ids"][0])["redteam"]["cost"]
    # openai-compatible/* has no shipped price: nothing is made up
    assert cost["unpriced"] == ["openai-compatible/attacker", "openai-compatible/echo"]
    assert cost["attacker"]["dollars"] is None and cost["total"] == 0
