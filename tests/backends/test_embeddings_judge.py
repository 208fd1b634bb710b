"""The embeddings client and the entailment judge against the loopback server (real HTTP)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.support.model_server import EMBEDDINGS_KEY, JUDGE_KEY, embedding_vector
from tuieval.analysis.variance import parse_judge_reply
from tuieval.backends.base import ClientError, RateLimited, ServerError
from tuieval.backends.embeddings import EmbeddingClient, parse_embeddings, resolve_endpoint
from tuieval.backends.judge import JUDGE_MARKER, judge_messages, make_judge
from tuieval.backends.registry import BackendConfigError


@pytest.fixture(autouse=True)
def _no_provider_env(monkeypatch):
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "OLLAMA_BASE_URL",
                "VLLM_BASE_URL"):
        monkeypatch.delenv(key, raising=False)


def _client(server, **kw) -> EmbeddingClient:
    kw.setdefault("sleep", lambda s: None)
    return EmbeddingClient("openai-compatible/emb", base_url=server.openai_base_url, **kw)


# ------------------------------------------------------------------------------ embeddings

def test_batches_keep_input_order_although_the_server_reverses_it(model_server):
    texts = ["alpha beta", "gamma", "delta epsilon zeta", "eta", "theta iota"]
    with _client(model_server, batch_size=2) as emb:
        M = emb(texts)
    assert M.dtype == np.float32 and M.shape == (5, 384)
    assert model_server.embedding_batches == [2, 2, 1]
    assert model_server.last_body["input"] == ["theta iota"] and model_server.last_body["model"] == "emb"
    for row, t in zip(M, texts):
        np.testing.assert_allclose(row, embedding_vector(t), rtol=1e-6)


def test_each_distinct_string_is_sent_once_and_empty_strings_never(model_server):
    with _client(model_server, batch_size=10) as emb:
        a = emb(["Paris", "the capital is Paris", "Paris", "", "   "])
        b = emb(["the capital is Paris", "Lyon"])
        counters = emb.counters()
    assert model_server.embedding_batches == [2, 1]  # "Paris" twice in one call counts once; "" not sent
    # tokens: the server's word counts, 1 + 4 for the first request and 1 for "Lyon"
    assert counters == {"requests": 2, "retries": 0, "texts_sent": 3, "cache_hits": 1, "tokens": 6,
                        "tokens_estimated": 0, "cached_requests": 0,
                        "missing_requests": 0, "missing_texts": 0}
    assert not a[3].any() and not a[4].any()  # blank answers: zero rows, similar to nothing
    np.testing.assert_array_equal(a[1], b[0])
    assert a[0] @ a[1] == pytest.approx(1 / np.sqrt(4))  # one shared word of 1 and 4


def test_long_inputs_are_cut(model_server):
    with _client(model_server, max_chars=10) as emb:
        emb(["word " * 100])
    assert model_server.last_body["input"] == [("word " * 100)[:10]]


def test_parse_embeddings_orders_by_index_and_refuses_bad_answers():
    obj = {"data": [{"index": 2, "embedding": [0, 1]}, {"index": 0, "embedding": [1, 0]},
                    {"index": 1, "embedding": [1, 1]}]}
    np.testing.assert_array_equal(parse_embeddings(obj, 3), [[1, 0], [1, 1], [0, 1]])
    bad = [
        {"data": [{"index": 0, "embedding": [1.0]}]},                                          # 1 vector for 2
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 0, "embedding": [2.0]}]},      # repeated index
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1, "embedding": [1.0, 2.0]}]},  # ragged
        {"data": [{"index": 0, "embedding": [1.0]}, {"index": 1}]},                           # no vector
        [],
    ]
    for obj in bad:
        with pytest.raises(ServerError) as info:
            parse_embeddings(obj, 2)
        assert not info.value.retryable
    b64 = {"data": [{"index": 0, "embedding": "AACAPwAAAEA="}]}  # float32 [1, 2], base64
    np.testing.assert_array_equal(parse_embeddings(b64, 1), [[1.0, 2.0]])


def test_5xx_and_429_are_retried_with_bounded_back_off(model_server):
    model_server.configure(retry_after="3")
    model_server.fail_first(1, 429, key=EMBEDDINGS_KEY)
    waits: list[float] = []
    with _client(model_server, sleep=waits.append, backoff_base_s=0.25, backoff_cap_s=1.0) as emb:
        emb(["a"])
        model_server.reset()
        model_server.fail_first(3, 503, key=EMBEDDINGS_KEY)
        emb(["b"])
        assert emb.counters()["requests"] == 2 + 4 and emb.counters()["retries"] == 1 + 3
    # Retry-After honoured; then the engine's own full-jitter draw, under base·2^n up to the cap
    assert waits[0] == 3.0 and len(waits) == 4
    assert all(0.0 <= w <= ceiling for w, ceiling in zip(waits[1:], [0.25, 0.5, 1.0]))


def test_retries_are_bounded_and_client_errors_are_not_retried(model_server):
    model_server.always_fail(500)
    with _client(model_server, max_retries=2) as emb:
        with pytest.raises(ServerError, match="HTTP 500"):
            emb(["a"])
    assert model_server.embedding_requests == 3
    model_server.reset()
    model_server.always_fail(400)
    with _client(model_server) as emb:
        with pytest.raises(ClientError):
            emb(["a"])
    assert model_server.embedding_requests == 1
    model_server.reset()
    model_server.always_fail(429)
    with _client(model_server, max_retries=1) as emb:
        with pytest.raises(RateLimited):
            emb(["a"])


def test_the_key_is_sent_but_never_in_an_error(model_server, monkeypatch):
    secret = "sk-embed-SECRET-1234567890abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with _client(model_server) as emb:
        emb(["a"])
        assert model_server.last_headers["authorization"] == f"Bearer {secret}"
        model_server.require_api_key = "another-key"
        with pytest.raises(ClientError) as info:
            emb(["b"])
        assert "401" in info.value.reason and secret not in info.value.reason
        assert secret not in repr(emb) and secret not in repr(emb.endpoint)
        assert info.value.__cause__ is None and info.value.__context__ is None


def test_endpoints_follow_the_registry_rules(monkeypatch):
    ep = resolve_endpoint("ollama/nomic-embed-text", purpose="embeddings")
    assert (ep.base_url, ep.model, ep.api_key) == ("http://localhost:11434/v1", "nomic-embed-text", None)
    assert resolve_endpoint("vllm/e5", purpose="embeddings").base_url == "http://localhost:8000/v1"
    assert resolve_endpoint("ollama/x", "http://gpu:11434/v1/").base_url == "http://gpu:11434/v1"
    with pytest.raises(BackendConfigError, match=r"^variance.model: OPENAI_API_KEY is not set"):
        resolve_endpoint("openai/text-embedding-3-small", field="variance.model", purpose="embeddings")
    monkeypatch.setenv("OPENAI_API_KEY", "k" * 8)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://proxy/v1")
    assert resolve_endpoint("openai/text-embedding-3-small").base_url == "http://proxy/v1"
    with pytest.raises(BackendConfigError, match=r"^variance.model: .*base URL"):
        resolve_endpoint("openai-compatible/emb", field="variance.model", purpose="embeddings")
    with pytest.raises(BackendConfigError, match="no embeddings endpoint"):
        resolve_endpoint("anthropic/claude-3-5-haiku-latest", purpose="embeddings")
    with pytest.raises(BackendConfigError, match=r"^variance.judge: demo/steady is a simulated demo model, not a judge"):
        make_judge("demo/steady", field="variance.judge")
    with pytest.raises(BackendConfigError, match=r"^variance.judge: unknown provider"):
        make_judge("acme/judge", field="variance.judge")


# ------------------------------------------------------------------------------ judge

def test_judge_prompt_and_request_shape(model_server):
    judge = make_judge("openai-compatible/j", model_server.openai_base_url)
    reply = judge("What is the capital of France?", "Paris.\nDefinitely Paris", "paris")
    body = model_server.last_body
    assert body["temperature"] == 0 and body["stream"] is False and body["model"] == "j"
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert all(JUDGE_MARKER in m["content"] for m in body["messages"])
    assert model_server.judge_log == [("What is the capital of France?", "Paris.\nDefinitely Paris", "paris")]
    assert model_server.prompt_counts[JUDGE_KEY] == 1
    # default server rule: canonical forms differ ("paris definitely paris" vs "paris")
    assert parse_judge_reply(reply) == ("contradiction", True)
    counters = judge.counters()
    assert {k: counters[k] for k in ("calls", "requests", "retries", "cached_requests", "missing_requests")} == {
        "calls": 1, "requests": 1, "retries": 0, "cached_requests": 0, "missing_requests": 0}
    # the tokens are what the server billed for its one answer
    assert (counters["input_tokens"], counters["output_tokens"]) == (model_server.billed_input[JUDGE_KEY],
                                                                     model_server.billed_output[JUDGE_KEY])
    assert judge_messages("q", "a" * 50, "b", max_chars=10)[1]["content"].count("a") < 20


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_judge_replies_parse_through_the_real_server(model_server, provider, monkeypatch):
    base = model_server.openai_base_url if provider != "anthropic" else model_server.url
    if provider == "anthropic":
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-0000")
    judge = make_judge(f"{provider}/j", base)
    replies = {
        ("a", "b"): "Entailment",
        ("a", "c"): "contradiction.",
        ("a", "d"): "<think>\nThey share a city.\n</think>\nNeutral",
        ("a", "e"): "I really cannot tell if answer A entails B",  # "entail" after 30 chars
        ("a", "f"): "",
    }
    model_server.judge_rule = lambda premise, hypothesis: replies[(premise, hypothesis)]
    got = {pair: parse_judge_reply(judge("q", *pair)) for pair in replies}
    assert got == {("a", "b"): ("entailment", True), ("a", "c"): ("contradiction", True),
                   ("a", "d"): ("neutral", True), ("a", "e"): ("neutral", False), ("a", "f"): ("neutral", False)}
    if provider == "anthropic":
        body = model_server.last_body
        assert body["max_tokens"] > 0 and JUDGE_MARKER in body["system"] and body["temperature"] == 0
        assert model_server.last_headers["x-api-key"] == "sk-ant-test-0000"


def test_judge_retries_server_errors(model_server):
    model_server.fail_first(2, 502, key=JUDGE_KEY)
    waits: list[float] = []
    judge = make_judge("openai-compatible/j", model_server.openai_base_url, sleep=waits.append)
    assert parse_judge_reply(judge("q", "x", "x"))[0] == "entailment"
    counters = judge.counters()
    assert {k: counters[k] for k in ("calls", "requests", "retries", "cached_requests", "missing_requests")} == {
        "calls": 1, "requests": 3, "retries": 2, "cached_requests": 0, "missing_requests": 0} and len(waits) == 2
    # only the answered request's tokens count (the two 500s carried none)
    assert counters["input_tokens"] == model_server.billed_input[JUDGE_KEY]
