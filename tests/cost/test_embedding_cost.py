"""The clustering's embedding requests: priced into the cost section from the tokens the
embeddings response counted, and cached by `run --cache` like chat calls (a rerun of the same
configuration sends no embedding request and costs nothing). Real subprocesses, the loopback
server's /v1/embeddings (its usage is the inputs' word count), a real SQLite file."""

from __future__ import annotations

import json
import sqlite3
import subprocess

import pytest

from tests.engine.test_remote_clustering import SECRET, TUIEVAL, _env, _write_suite
from tuieval.backends.embeddings import EmbeddingClient
from tuieval.engine.caching import EmbeddingCache
from tuieval.store.response_cache import ResponseCache

PRICES = ("models:\n  openai-compatible/echo: {input: 1000, output: 2000}\n"
          "  openai-compatible/emb: {input: 500, output: 0}\n")


def _run(tmp_path, server, db, *flags):
    suite = _write_suite(tmp_path, {"method": "embeddings", "model": "openai-compatible/emb",
                                    "base_url": server.openai_base_url})
    prices = tmp_path / "p.yaml"
    prices.write_text(PRICES, encoding="utf-8")
    out = subprocess.run(TUIEVAL + ["run", str(suite), "--model", "openai-compatible/echo", "--base-url",
                                    server.openai_base_url, "--prices", str(prices), "--db", str(db), "-q",
                                    *flags], capture_output=True, text=True, timeout=60,
                         env=_env(OPENAI_API_KEY=SECRET))
    assert out.returncode == 0, out.stderr
    run_id = out.stdout.strip().splitlines()[-1]
    report = subprocess.run(TUIEVAL + ["report", run_id, "--db", str(db), "--format", "json"],
                            capture_output=True, text=True, timeout=60, env=_env(OPENAI_API_KEY=SECRET))
    return run_id, json.loads(report.stdout)["cost"]


def test_embeddings_are_priced_and_a_cached_rerun_sends_none(tmp_path, model_server):
    db = tmp_path / "runs.db"
    cache = tmp_path / "cache.db"
    first_id, first = _run(tmp_path, model_server, db, "--cache", "--cache-path", cache)
    assert model_server.embedding_requests == 1 and model_server.embedding_inputs == 6
    # by hand: the 6 distinct answers embedded (c0: three 4-word answers; c1: "blue"/"Blue." once,
    # "red", "the sky is blue") are 4+4+4 + 1+1+4 = 18 words, the server's token count
    (emb,) = first["embeddings"]
    assert (emb["model"], emb["n_requests"], emb["n_cached"], emb["input_tokens"]) == ("openai-compatible/emb", 1, 0,
                                                                                        18)
    assert emb["dollars"] == pytest.approx(18 * 500 / 1e6)
    with sqlite3.connect(db) as conn:
        i, o = conn.execute("SELECT SUM(input_tokens), SUM(output_tokens) FROM samples WHERE run_id = ?",
                            (first_id,)).fetchone()
    assert first["total"] == pytest.approx((i * 1000 + o * 2000) / 1e6 + 18 * 500 / 1e6)

    second_id, second = _run(tmp_path, model_server, db, "--cache", "--cache-path", cache)
    assert second_id != first_id
    assert model_server.embedding_requests == 1  # the whole embeddings request came from the cache
    (emb,) = second["embeddings"]
    assert (emb["n_requests"], emb["n_cached"], emb["dollars"]) == (0, 1, 0)
    assert second["total"] == 0  # the answers were cached too


def test_without_the_cache_every_run_pays_for_its_embeddings(tmp_path, model_server):
    db = tmp_path / "runs.db"
    _run(tmp_path, model_server, db)
    _, cost = _run(tmp_path, model_server, db)
    assert model_server.embedding_requests == 2
    assert cost["embeddings"][0]["n_requests"] == 1 and cost["embeddings"][0]["input_tokens"] == 18


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
