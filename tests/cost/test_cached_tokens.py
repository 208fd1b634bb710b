"""Prompt-cache tokens: read from both providers' usage (streamed, whole, batch lines), stored
beside input_tokens, and priced at the cached-input (and cache-write) rate. Every dollar figure
here is worked out by hand from the loopback server's token rule (prompt tokens =
max(1, len(json.dumps(messages)) // 4); one output token per 4-character delta)."""

from __future__ import annotations

import json
import math
import sqlite3
import subprocess

import pytest

from tests.backends.test_faults import STREAM, _make, _req
from tests.engine.test_cli_process import TUIEVAL, _env
from tests.support.batch_server import BatchServer
from tests.support.model_server import ModelServer
from tests.support.suites import write_echo_suite
from tuieval.batch.anthropic_api import read_result
from tuieval.batch.lines import read_line
from tuieval.cost.prices import Price
from tuieval.report import build_report
from tuieval.report.formats.markdown import to_markdown
from tuieval.store import Store


def test_a_request_with_cached_and_written_prompt_tokens_by_hand():
    price = Price("x/m", input=3.0, output=15.0, cached_input=0.30, cache_write=3.75, batch_discount=0.5)
    # 1,000 prompt tokens: 600 read from the cache, 100 written to it, 300 plain; 200 out.
    # 300·3 + 600·0.30 + 100·3.75 + 200·15 = 900 + 180 + 375 + 3000 = 4455 per million
    assert price.cost(1000, 200, cached_tokens=600, cache_write_tokens=100) == pytest.approx(4455e-6)
    assert price.cost(1000, 200, cached_tokens=600, cache_write_tokens=100, batch=True) == pytest.approx(2227.5e-6)
    # No cached-input price: cached tokens cost the input rate (1000·3 + 200·15 = 6000)
    assert Price("x/n", input=3.0, output=15.0).cost(1000, 200, cached_tokens=600) == pytest.approx(6000e-6)


def _prompt_tokens(messages) -> int:
    return max(1, len(json.dumps(messages)) // 4)


@STREAM
async def test_openai_cached_tokens_are_read_streamed_and_whole(stream, model_server: ModelServer):
    model_server.configure(prompt_cache_read=5)
    backend = _make("openai", model_server.url)
    request = _req("Paris", stream=stream)
    try:
        result = await backend.complete(request)
    finally:
        await backend.aclose()
    assert result.input_tokens == _prompt_tokens(request.messages)  # the whole prompt, cached part included
    assert result.cached_tokens == 5 and not result.cache_write_tokens


@STREAM
async def test_anthropic_cache_reads_and_writes_are_added_back_into_the_prompt(stream, model_server: ModelServer):
    model_server.configure(prompt_cache_read=4, prompt_cache_write=3)
    backend = _make("anthropic", model_server.url)
    request = _req("Paris", stream=stream)
    try:
        result = await backend.complete(request)
    finally:
        await backend.aclose()
    # the server's input_tokens left 7 out (Anthropic's way); tuieval counts the whole prompt
    assert result.input_tokens == _prompt_tokens(request.messages)
    assert (result.cached_tokens, result.cache_write_tokens) == (4, 3)
    assert result.output_tokens == math.ceil(len("Answer: Paris") / 4)


def test_batch_output_lines_carry_cached_tokens_for_both_providers():
    openai_line = {"custom_id": "x", "error": None, "response": {"status_code": 200, "body": {
        "choices": [{"index": 0, "message": {"content": "hi"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 32}}}}}
    got = read_line(openai_line).result
    assert (got.input_tokens, got.cached_tokens) == (50, 32)
    anthropic_line = {"custom_id": "r0", "result": {"type": "succeeded", "message": {
        "type": "message", "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 30,
                  "cache_creation_input_tokens": 8}}}}
    got = read_result(anthropic_line).result
    assert (got.input_tokens, got.cached_tokens, got.cache_write_tokens) == (48, 30, 8)


def _tuieval(*args, **env):
    return subprocess.run(TUIEVAL + [str(a) for a in args], capture_output=True, text=True, env=_env(**env),
                          timeout=120)


def test_a_run_stores_cached_tokens_and_the_report_prices_them_at_the_cached_rate(tmp_path, model_server):
    model_server.configure(prompt_cache_read=6)
    suite = write_echo_suite(tmp_path, 4)
    prices = tmp_path / "p.yaml"
    prices.write_text("models:\n  openai-compatible/echo: {input: 1000, output: 2000, cached_input: 100}\n",
                      encoding="utf-8")
    db = tmp_path / "r.db"
    out = _tuieval("run", suite, "--model", "openai-compatible/echo", "--base-url", model_server.openai_base_url,
                   "--prices", prices, "--db", db, "--quiet")
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT prompt, response, input_tokens, cached_tokens FROM samples").fetchall()
    expected = 0.0
    for prompt, response, input_tokens, cached in rows:
        whole = _prompt_tokens(json.loads(prompt))
        assert (input_tokens, cached) == (whole, 6)
        out_tokens = math.ceil(len(response) / 4)
        expected += ((whole - 6) * 1000 + 6 * 100 + out_tokens * 2000) / 1e6
    store = Store(db)
    report = build_report(store, run_id)
    store.close()
    cost = report["cost"]
    assert cost["total"] == pytest.approx(expected)
    assert cost["model"]["cached_input_tokens"] == 6 * 4
    assert "24 came from the provider's prompt cache" in to_markdown(report)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_batch_run_prices_cached_tokens_with_the_batch_discount(tmp_path, provider):
    suite = write_echo_suite(tmp_path, 3)
    db = tmp_path / "b.db"
    prices = tmp_path / "p.yaml"
    spec = f"{'openai-compatible' if provider == 'openai' else 'anthropic'}/m"
    prices.write_text(f"batch_discount: {{{spec.split('/')[0]}: 0.5}}\nmodels:\n  {spec}: {{input: 1000, "
                      "output: 2000, cached_input: 100, cache_write: 1250}\n", encoding="utf-8")
    with BatchServer(require_api_key="sk-batch-test") as server:
        server.prompt_cache_read, server.prompt_cache_write = 5, (2 if provider == "anthropic" else 0)
        base = server.base_url if provider == "openai" else server.base_url.removesuffix("/v1")
        out = _tuieval("run", suite, "--model", spec, "--base-url", base, "--api-key-env", "BATCH_KEY", "--batch",
                       "--poll-interval", "0", "--prices", prices, "--db", db, "--quiet", BATCH_KEY="sk-batch-test")
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    write = 2 if provider == "anthropic" else 0
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT response, input_tokens, cached_tokens, cache_write_tokens FROM samples").fetchall()
    assert len(rows) == 3
    expected = 0.0
    for response, input_tokens, cached, written in rows:
        assert cached == 5 and (written or 0) == write
        expected += ((input_tokens - 5 - write) * 1000 + 5 * 100 + write * 1250
                     + math.ceil(len(response) / 4) * 2000) / 1e6 * 0.5
    store = Store(db)
    cost = build_report(store, run_id)["cost"]
    store.close()
    assert cost["batch"] is True and cost["total"] == pytest.approx(expected)
