"""Anthropic's one-hour prompt-cache writes: read from the usage's `cache_creation` split
(streamed, whole, batch results), stored beside the total written, and priced at the one-hour
write rate (2× input) instead of the five-minute one (1.25×). Every dollar figure is worked out
by hand from the loopback server's token rule (prompt tokens = max(1, len(json.dumps(messages))
// 4); one output token per 4-character piece of the answer)."""

from __future__ import annotations

import json
import math
import sqlite3

import pytest

from tests.backends.test_faults import STREAM, _make, _req
from tests.cost.test_cached_tokens import _tuieval
from tests.support.batch_server import BatchServer
from tests.support.model_server import ModelServer
from tests.support.suites import write_echo_suite
from tuieval.batch.anthropic_api import read_result
from tuieval.cost.prices import Price, PriceError, default_table, parse_table
from tuieval.report import build_report
from tuieval.store import Store


def test_one_hour_writes_cost_their_own_rate_by_hand():
    price = Price("x/m", input=3.0, output=15.0, cached_input=0.30, cache_write=3.75, cache_write_1h=6.0,
                  batch_discount=0.5)
    # 1,000 prompt tokens: 200 read, 100 written of which 40 to the one-hour cache; 200 out.
    # plain 700·3 = 2100; read 200·0.30 = 60; 5-min 60·3.75 = 225; 1-h 40·6 = 240; out 200·15 = 3000
    assert price.cost(1000, 200, cached_tokens=200, cache_write_tokens=100,
                      cache_write_1h_tokens=40) == pytest.approx(5625e-6)
    assert price.cost(1000, 200, cached_tokens=200, cache_write_tokens=100, cache_write_1h_tokens=40,
                      batch=True) == pytest.approx(2812.5e-6)
    # no one-hour rate in the table: the five-minute rate stands in (2100 + 60 + 100·3.75 + 3000)
    five_only = Price("x/n", input=3.0, output=15.0, cached_input=0.30, cache_write=3.75)
    assert five_only.cost(1000, 200, cached_tokens=200, cache_write_tokens=100,
                          cache_write_1h_tokens=40) == pytest.approx(5535e-6)


def test_the_shipped_anthropic_prices_have_the_one_hour_rate_at_twice_input():
    table = default_table()
    anthropic = [p for spec, p in table.prices.items() if spec.startswith("anthropic/")]
    assert anthropic
    for p in anthropic:
        assert p.cache_write_1h == pytest.approx(2 * p.input), p.model
        assert p.cache_write == pytest.approx(1.25 * p.input, abs=0.02), p.model  # claude-3-haiku: $0.30 listed
    assert table.lookup("anthropic/claude-sonnet-4-5-20250929").cache_write_1h == 6.0


def test_a_price_file_may_give_the_one_hour_rate_and_a_bad_one_is_named():
    prices = parse_table({"models": {"anthropic/x": {"input": 1, "output": 2, "cache_write_1h": 2}}}, "p.yaml")
    assert prices["anthropic/x"].cache_write_1h == 2.0
    with pytest.raises(PriceError, match=r"p.yaml: models.anthropic/x.cache_write_1h"):
        parse_table({"models": {"anthropic/x": {"input": 1, "output": 2, "cache_write_1h": "two"}}}, "p.yaml")


@STREAM
async def test_anthropic_one_hour_writes_are_read_streamed_and_whole(stream, model_server: ModelServer):
    model_server.configure(prompt_cache_read=2, prompt_cache_write=5, prompt_cache_write_1h=3)
    backend = _make("anthropic", model_server.url)
    request = _req("Paris", stream=stream)
    try:
        result = await backend.complete(request)
    finally:
        await backend.aclose()
    assert result.input_tokens == max(1, len(json.dumps(request.messages)) // 4)
    assert (result.cached_tokens, result.cache_write_tokens, result.cache_write_1h_tokens) == (2, 5, 3)


def test_a_batch_result_with_only_the_split_gives_the_total_and_the_one_hour_part():
    line = {"custom_id": "r0", "result": {"type": "succeeded", "message": {
        "type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 30,
                  "cache_creation": {"ephemeral_5m_input_tokens": 5, "ephemeral_1h_input_tokens": 7}}}}}
    got = read_result(line).result
    assert (got.input_tokens, got.cached_tokens, got.cache_write_tokens, got.cache_write_1h_tokens) == (52, 30, 12, 7)


PRICES = "models:\n  anthropic/m: {input: 1000, output: 2000, cached_input: 100, cache_write: 1250, cache_write_1h: 2000}\n"


def _expected(rows, read, write, hour, discount=1.0):
    total = 0.0
    for response, input_tokens in rows:
        total += ((input_tokens - read - write) * 1000 + read * 100 + (write - hour) * 1250 + hour * 2000
                  + math.ceil(len(response) / 4) * 2000) / 1e6 * discount
    return total


def test_an_anthropic_run_stores_the_one_hour_writes_and_the_report_prices_them(tmp_path, model_server):
    model_server.configure(prompt_cache_read=1, prompt_cache_write=4, prompt_cache_write_1h=3)
    suite = write_echo_suite(tmp_path, 3)
    prices = tmp_path / "p.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    db = tmp_path / "r.db"
    out = _tuieval("run", suite, "--model", "anthropic/m", "--base-url", model_server.url, "--prices", prices,
                   "--db", db, "--quiet", ANTHROPIC_API_KEY="sk-ant-test")
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT response, input_tokens, cache_write_tokens, cache_write_1h_tokens "
                              "FROM samples").fetchall()
    assert len(stored) == 3 and all(r[2:] == (4, 3) for r in stored)
    store = Store(db)
    cost = build_report(store, run_id)["cost"]
    store.close()
    assert cost["model"]["cache_write_1h_tokens"] == 9
    # 3 × 3 one-hour tokens at 2000 instead of 1250: the five-minute pricing would be $0.00675 short
    assert cost["total"] == pytest.approx(_expected([r[:2] for r in stored], 1, 4, 3))


def test_an_anthropic_batch_prices_the_one_hour_writes_with_the_discount(tmp_path):
    suite = write_echo_suite(tmp_path, 2)
    db = tmp_path / "b.db"
    prices = tmp_path / "p.yaml"
    prices.write_text("batch_discount: {anthropic: 0.5}\n" + PRICES, encoding="utf-8")
    with BatchServer(require_api_key="sk-batch-test") as server:
        server.prompt_cache_read, server.prompt_cache_write, server.prompt_cache_write_1h = 2, 3, 2
        out = _tuieval("run", suite, "--model", "anthropic/m", "--base-url", server.base_url.removesuffix("/v1"),
                       "--api-key-env", "BATCH_KEY", "--batch", "--poll-interval", "0", "--prices", prices,
                       "--db", db, "--quiet", BATCH_KEY="sk-batch-test")
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT response, input_tokens, cache_write_1h_tokens FROM samples").fetchall()
    assert len(stored) == 2 and all(r[2] == 2 for r in stored)
    store = Store(db)
    cost = build_report(store, run_id)["cost"]
    store.close()
    assert cost["total"] == pytest.approx(_expected([r[:2] for r in stored], 2, 3, 2, 0.5))
