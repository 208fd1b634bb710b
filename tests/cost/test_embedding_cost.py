"""The clustering's embedding requests: priced into the cost section from the tokens the
embeddings response counted, and cached by `run --cache` like chat calls (a rerun of the same
configuration sends no embedding request and costs nothing). The real engine and report in this
process, the loopback server's /v1/embeddings (its usage is the inputs' word count), a real SQLite
file and a real cache file."""

from __future__ import annotations

import asyncio

import pytest

from tests.engine.test_remote_clustering import _write_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.embeddings import EmbeddingClient
from tuieval.backends.registry import create_backend
from tuieval.cost.prices import PriceTable, parse_table
from tuieval.engine import Engine, RunOptions
from tuieval.engine.caching import EmbeddingCache
from tuieval.report import build_report
from tuieval.store import Store
from tuieval.store.response_cache import ResponseCache
from tuieval.suite import load_suite

PRICES = PriceTable(parse_table({"models": {"openai-compatible/echo": {"input": 1000, "output": 2000},
                                            "openai-compatible/emb": {"input": 500, "output": 0}}}, "test"))


def _run(tmp_path, server, store, cache_path=None, variance=None, prices=PRICES):
    """One run of the embeddings-tier suite (or of another `variance`), then its report as
    `tuieval run` computes it: (run id, its cost section)."""
    variance = variance or {"method": "embeddings", "model": "openai-compatible/emb",
                            "base_url": server.openai_base_url}
    suite = load_suite(_write_suite(tmp_path, variance))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/echo", base_url=server.openai_base_url, timeouts=timeouts)
    cache = ResponseCache(cache_path) if cache_path else None
    options = RunOptions(model="openai-compatible/echo", base_url=server.openai_base_url, concurrency=4,
                         timeouts=timeouts, prices=prices, cache_path=cache.path if cache else None)
    engine = Engine(store, backend, cache=cache)
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    assert asyncio.run(go()).status == "complete"
    if cache is not None:
        cache.close()
    return run_id, build_report(store, run_id, persist_clusters=True)["cost"]


def test_embeddings_are_priced_and_a_cached_rerun_sends_none(tmp_path, model_server):
    store = Store(tmp_path / "runs.db")
    cache = tmp_path / "cache.db"
    first_id, first = _run(tmp_path, model_server, store, cache)
    assert model_server.embedding_requests == 1 and model_server.embedding_inputs == 6
    # by hand: the 6 distinct answers embedded (c0: three 4-word answers; c1: "blue"/"Blue." once,
    # "red", "the sky is blue") are 4+4+4 + 1+1+4 = 18 words, the server's token count
    (emb,) = first["embeddings"]
    assert (emb["model"], emb["n_requests"], emb["n_cached"], emb["input_tokens"]) == ("openai-compatible/emb", 1, 0,
                                                                                        18)
    assert emb["dollars"] == pytest.approx(18 * 500 / 1e6)
    i, o = store.conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM samples WHERE run_id = ?",
                              (first_id,)).fetchone()
    assert first["total"] == pytest.approx((i * 1000 + o * 2000) / 1e6 + 18 * 500 / 1e6)

    second_id, second = _run(tmp_path, model_server, store, cache)
    assert second_id != first_id
    assert model_server.embedding_requests == 1  # the whole embeddings request came from the cache
    (emb,) = second["embeddings"]
    assert (emb["n_requests"], emb["n_cached"], emb["dollars"]) == (0, 1, 0)
    assert second["total"] == 0  # the answers were cached too

    _, third = _run(tmp_path, model_server, store)  # no cache: this run pays for its embeddings
    assert model_server.embedding_requests == 2
    assert (third["embeddings"][0]["n_requests"], third["embeddings"][0]["input_tokens"]) == (1, 18)
    store.close()


def test_the_embedding_cache_returns_the_same_vectors_and_counts_no_tokens(tmp_path, model_server):
    cache = EmbeddingCache(ResponseCache(tmp_path / "c.db"))
    texts = ["the capital is Paris", "red"]
    with EmbeddingClient("openai-compatible/emb", base_url=model_server.openai_base_url, cache=cache) as a:
        first = a(texts)
    with EmbeddingClient("openai-compatible/emb", base_url=model_server.openai_base_url, cache=cache) as b:
        again = b(texts)
    assert model_server.embedding_requests == 1
    assert (a.tokens, b.tokens, b.cached_requests) == (5, 0, 1)  # 4 + 1 words, then nothing sent
    assert (first == again).all()
    cache.close()
