"""The entailment judge of the `entailment` and `hybrid` clustering tiers: its requests are
recorded with their tokens (as the server counted them, else estimated from the text), priced in
the cost section's `clustering_judges`, counted in its total, and a cached rerun costs nothing.
The real engine and report in this process, the loopback server (OpenAI and Anthropic formats),
a real SQLite file and a real cache file; the expected tokens are what the server billed."""

from __future__ import annotations

import pytest

from tests.cost.test_embedding_cost import _run as run_and_cost
from tests.support.model_server import JUDGE_KEY
from tuieval.backends.judge import ChatJudge
from tuieval.cost.prices import PriceTable, parse_table
from tuieval.report.formats.cost import cost_markdown
from tuieval.store import Store

# $ per million tokens; the judge's cached-input rate is a quarter of its input rate
PRICES = PriceTable(parse_table({"models": {
    "openai-compatible/echo": {"input": 1000, "output": 2000},
    "openai-compatible/judge": {"input": 300, "output": 900},
    "anthropic/claude-judge": {"input": 400, "output": 1200, "cached_input": 100}}}, "test"))


def _run(tmp_path, server, store, judge="openai-compatible/judge", cache_path=None, method="entailment"):
    judge_url = server.url if judge.startswith("anthropic/") else server.openai_base_url
    variance = {"method": method, "judge": judge, "judge_base_url": judge_url} if method != "lexical" else {
        "method": method}
    return run_and_cost(tmp_path, server, store, cache_path, variance=variance, prices=PRICES)


def _model_dollars(store, run_id):
    i, o = store.conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM samples WHERE run_id = ?",
                              (run_id,)).fetchone()
    return (i * 1000 + o * 2000) / 1e6


def test_the_entailment_judge_is_priced_from_what_the_server_billed(tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-test")
    store = Store(tmp_path / "runs.db")
    run_id, cost = _run(tmp_path, model_server, store)
    assert model_server.judge_requests > 0
    billed_in, billed_out = model_server.billed_input[JUDGE_KEY], model_server.billed_output[JUDGE_KEY]
    assert billed_in > 0 and billed_out > 0
    (j,) = cost["clustering_judges"]
    assert (j["model"], j["n_requests"], j["n_cached"]) == ("openai-compatible/judge", model_server.judge_requests, 0)
    assert (j["input_tokens"], j["output_tokens"]) == (billed_in, billed_out)
    assert j["estimated_input_tokens"] == j["estimated_output_tokens"] == 0
    assert j["dollars"] == pytest.approx((billed_in * 300 + billed_out * 900) / 1e6)
    assert j["price"]["input"] == 300
    # the total is the model's answers plus the judge's calls
    assert cost["total"] == pytest.approx(_model_dollars(store, run_id) + j["dollars"])
    assert "openai-compatible/judge" not in cost["unpriced"]
    md = "\n".join(cost_markdown(cost))
    assert f"clustering judge `openai-compatible/judge`" in md and f"{billed_in:,} input" in md
    store.close()


def test_anthropic_judge_tokens_include_the_cached_prompt(tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-test")
    model_server.configure(prompt_cache_read=20)
    store = Store(tmp_path / "runs.db")
    run_id, cost = _run(tmp_path, model_server, store, judge="anthropic/claude-judge")
    (j,) = cost["clustering_judges"]
    n = model_server.judge_requests
    # the server bills the whole prompt; Anthropic reports the cached 20 apart and tuieval adds them back
    assert j["input_tokens"] == model_server.billed_input[JUDGE_KEY]
    assert j["cached_input_tokens"] == 20 * n
    uncached = j["input_tokens"] - 20 * n
    assert j["dollars"] == pytest.approx((uncached * 400 + 20 * n * 100 + j["output_tokens"] * 1200) / 1e6)
    store.close()


def test_a_server_without_counts_is_estimated_from_the_text(tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-test")
    model_server.configure(omit_usage=True)
    with ChatJudge("openai-compatible/judge", base_url=model_server.openai_base_url) as judge:
        reply = judge("What colour is the sky?", "blue", "red")
        c = judge.counters()
    assert reply == "contradiction"
    # by hand: the judge prompt's characters over four, and "contradiction" (13 chars) → 3 tokens
    from tuieval.backends.judge import judge_messages
    chars = sum(len(m["content"]) for m in judge_messages("What colour is the sky?", "blue", "red"))
    assert (c["input_tokens"], c["output_tokens"]) == (0, 0)
    assert c["estimated_input_tokens"] == round(chars / 4)
    assert c["estimated_output_tokens"] == round(13 / 4)


def test_a_cached_rerun_sends_no_judge_request_and_costs_nothing(tmp_path, model_server, monkeypatch):
    monkeypatch.setenv("OPENAI_COMPATIBLE_API_KEY", "sk-test")
    store = Store(tmp_path / "runs.db")
    cache = tmp_path / "cache.db"
    _, first = _run(tmp_path, model_server, store, cache_path=cache, method="hybrid")
    sent = model_server.judge_requests
    assert sent > 0 and first["clustering_judges"][0]["n_requests"] == sent
    _, second = _run(tmp_path, model_server, store, cache_path=cache, method="hybrid")
    assert model_server.judge_requests == sent
    (j,) = second["clustering_judges"]
    assert (j["n_requests"], j["n_cached"], j["input_tokens"], j["dollars"]) == (0, sent, 0, 0)
    assert second["total"] == 0
    store.close()


def test_a_run_without_a_judge_tier_has_no_clustering_judges(tmp_path, model_server):
    store = Store(tmp_path / "runs.db")
    _, cost = _run(tmp_path, model_server, store, method="lexical")
    assert cost["clustering_judges"] == []
    assert model_server.judge_requests == 0
    store.close()
