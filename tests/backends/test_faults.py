"""Backends against injected faults, headers, request bodies and non-streaming mode.

Most fault tests run over the three ways a backend sends: aiohttp used directly
(AiohttpPool, what a run uses), httpx's client on aiohttp's transport (make_client, with a
proxy set) and httpx's own transport (the fallback when httpx-aiohttp is missing), because
they raise different exceptions for the same failure.
"""

from __future__ import annotations

import socket

import pytest

from tests.support.model_server import ModelServer
from tuieval.backends.anthropic import AnthropicBackend
from tuieval.backends.base import (
    BackendError,
    ChatRequest,
    ClientError,
    ModelBackend,
    RateLimited,
    RequestTimeout,
    ServerError,
    Timeouts,
    TransportError,
)
from tuieval.backends.http import AiohttpPool, make_client
from tuieval.backends.openai import OpenAIBackend

OPENAI_KEY = "sk-proj-TESTKEY0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-api03-TESTKEY0123456789"
FAST = Timeouts(connect=1.0, read=2.0, total=10.0)


def _req(key: str = "Paris", stream: bool = True, **kw) -> ChatRequest:
    return ChatRequest([{"role": "user", "content": f"Capital of France? <<{key}>>"}], stream=stream, **kw)


def _make(protocol: str, url: str, transport: str = "pool", timeouts: Timeouts = FAST, key: str | None = "default"):
    # "pool": aiohttp used directly (what a run sends through); "aiohttp": httpx's client on
    # aiohttp's transport; "httpx": httpx's own transport (the fallbacks)
    client = AiohttpPool(timeouts) if transport == "pool" else make_client(timeouts, use_aiohttp=transport == "aiohttp")
    if protocol == "openai":
        return OpenAIBackend(
            "openai/test", "gpt-test", url + "/v1", OPENAI_KEY if key == "default" else key, client, timeouts
        )
    return AnthropicBackend(
        "anthropic/test", "claude-test", url, ANTHROPIC_KEY if key == "default" else key, client, timeouts
    )


BOTH = pytest.mark.parametrize("protocol", ["openai", "anthropic"])
TRANSPORTS = pytest.mark.parametrize("transport", ["pool", "aiohttp", "httpx"])
STREAM = pytest.mark.parametrize("stream", [True, False], ids=["stream", "whole"])


async def _fails(backend, request: ChatRequest) -> BackendError:
    try:
        result = await backend.complete(request)
    except BackendError as exc:
        return exc
    finally:
        await backend.aclose()
    raise AssertionError(f"expected a BackendError, got {result!r}")


# ------------------------------------------------------------------ happy paths


@BOTH
@STREAM
@TRANSPORTS
async def test_answer_usage_and_deltas(protocol, stream, transport, model_server: ModelServer) -> None:
    backend = _make(protocol, model_server.url, transport)
    assert isinstance(backend, ModelBackend) and backend.simulated is False
    deltas: list[str] = []
    try:
        result = await backend.complete(_req("Lisbon", stream=stream), deltas.append)
    finally:
        await backend.aclose()
    assert result.text == "Answer: Lisbon"
    assert "".join(deltas) == "Answer: Lisbon"
    # The server streams ~4-character pieces and reports one token per piece.
    assert result.output_tokens == 4
    assert result.input_tokens and result.input_tokens > 0
    assert result.finish_reason == ("stop" if protocol == "openai" else "end_turn")
    if stream:
        assert len(deltas) == 4
        assert result.ttft_ms is not None and result.ttft_ms <= result.latency_ms
    else:
        assert result.ttft_ms is None
    assert model_server.last_body["stream"] is stream


@BOTH
async def test_max_tokens_truncates_with_length_finish(protocol, model_server: ModelServer) -> None:
    backend = _make(protocol, model_server.url)
    try:
        result = await backend.complete(_req("Lisbon", max_tokens=2))
    finally:
        await backend.aclose()
    assert result.text == "Answer: "
    assert result.finish_reason == ("length" if protocol == "openai" else "max_tokens")


async def test_openai_request_body_and_auth_header(model_server: ModelServer) -> None:
    backend = _make("openai", model_server.url)
    try:
        await backend.complete(_req(temperature=0.7, max_tokens=55, seed=3, hint={"target": "secret"}))
    finally:
        await backend.aclose()
    body = model_server.last_body
    assert body["model"] == "gpt-test"
    assert body["temperature"] == 0.7 and body["max_tokens"] == 55 and body["seed"] == 3
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert "hint" not in body and "secret" not in str(body)
    assert model_server.last_headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert model_server.last_headers["accept"] == "text/event-stream"


async def test_openai_without_key_sends_no_authorization(model_server: ModelServer) -> None:
    backend = _make("openai", model_server.url, key=None)
    try:
        await backend.complete(_req(stream=False))
    finally:
        await backend.aclose()
    assert "authorization" not in model_server.last_headers
    body = model_server.last_body
    assert "max_tokens" not in body and "seed" not in body and "stream_options" not in body


@STREAM
async def test_anthropic_headers_system_field_and_default_max_tokens(stream, model_server: ModelServer) -> None:
    backend = _make("anthropic", model_server.url)
    request = ChatRequest(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Q <<Rome>>"},
        ],
        stream=stream,
        seed=5,
    )
    try:
        result = await backend.complete(request)
    finally:
        await backend.aclose()
    assert result.text == "Answer: Rome"
    headers = model_server.last_headers
    assert headers["x-api-key"] == ANTHROPIC_KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in headers
    body = model_server.last_body
    assert body["system"] == "Be brief."
    assert body["messages"] == [{"role": "user", "content": "Q <<Rome>>"}]
    assert body["max_tokens"] == 1024
    assert "seed" not in body  # the Messages API has none and rejects unknown fields


# ------------------------------------------------------------------ HTTP statuses


@BOTH
@STREAM
@TRANSPORTS
async def test_429_is_rate_limited_with_retry_after(protocol, stream, transport, model_server: ModelServer) -> None:
    model_server.always_fail(429)
    model_server.configure(retry_after="7")
    exc = await _fails(_make(protocol, model_server.url, transport), _req(stream=stream))
    assert isinstance(exc, RateLimited)
    assert exc.retryable and exc.status == 429
    assert exc.retry_after == 7.0


@BOTH
@STREAM
async def test_500_is_retryable_server_error(protocol, stream, model_server: ModelServer) -> None:
    model_server.always_fail(500)
    exc = await _fails(_make(protocol, model_server.url), _req(stream=stream))
    assert type(exc) is ServerError
    assert exc.retryable and exc.status == 500
    assert "injected HTTP 500" in exc.reason


@BOTH
@TRANSPORTS
async def test_401_is_not_retryable_and_never_shows_the_key(protocol, transport, model_server: ModelServer) -> None:
    # The server echoes the presented key in its message, as OpenAI does (masked) for bad keys.
    model_server.configure(require_api_key="the-right-key")
    exc = await _fails(_make(protocol, model_server.url, transport), _req())
    assert type(exc) is ClientError
    assert not exc.retryable and exc.status == 401
    assert "Incorrect API key" in exc.reason
    key = OPENAI_KEY if protocol == "openai" else ANTHROPIC_KEY
    texts = [exc.reason, str(exc), repr(exc), repr(exc.args)]
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        texts.append(repr(cause))
        cause = cause.__cause__ or cause.__context__
    for text in texts:
        assert key not in text
        assert key[-12:] not in text


async def test_backend_repr_has_no_key(model_server: ModelServer) -> None:
    backend = _make("openai", model_server.url)
    assert OPENAI_KEY not in repr(backend)
    await backend.aclose()


# ------------------------------------------------------------------ broken streams


@BOTH
@STREAM
@TRANSPORTS
async def test_cut_stream_is_transport_error_with_partial_text(protocol, stream, transport, model_server) -> None:
    model_server.always_fail("cut")
    exc = await _fails(_make(protocol, model_server.url, transport), _req("Copenhagen", stream=stream))
    assert type(exc) is TransportError and exc.retryable
    if stream:
        # Half the events arrived: some text, but not all of it.
        assert exc.partial_text and "Answer: Copenhagen".startswith(exc.partial_text)
        assert exc.partial_text != "Answer: Copenhagen"
    assert model_server.fault_counts["cut"] == 1


@BOTH
@TRANSPORTS
async def test_connection_reset_before_response_is_transport_error(protocol, transport, model_server) -> None:
    model_server.always_fail("reset")
    exc = await _fails(_make(protocol, model_server.url, transport), _req())
    assert type(exc) is TransportError and exc.retryable


@BOTH
@STREAM
async def test_malformed_chunk_is_retryable_server_error(protocol, stream, model_server: ModelServer) -> None:
    model_server.always_fail("malformed")
    exc = await _fails(_make(protocol, model_server.url), _req(stream=stream))
    assert type(exc) is ServerError and exc.retryable
    assert "malformed" in exc.reason


@BOTH
async def test_body_without_terminator_is_stream_cut(protocol, model_server: ModelServer) -> None:
    # A complete HTTP response whose SSE never says [DONE]/message_stop (nor a finish_reason).
    if protocol == "openai":
        body = b'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
    else:
        body = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}\n\n'
    model_server.replay(body)
    exc = await _fails(_make(protocol, model_server.url), _req())
    assert type(exc) is TransportError and exc.kind == "stream_cut"
    assert exc.reason == "stream cut: the body ended before the answer did"
    assert exc.partial_text == "Hel"


async def test_openai_finish_reason_without_done_is_accepted(model_server: ModelServer) -> None:
    model_server.replay(
        b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\n'
        b'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}\n\n'
    )
    backend = _make("openai", model_server.url)
    try:
        result = await backend.complete(_req())
    finally:
        await backend.aclose()
    assert result.text == "Hi" and result.finish_reason == "stop"


async def test_anthropic_invalid_request_error_event_is_client_error(model_server: ModelServer) -> None:
    model_server.replay(
        b'event: error\ndata: {"type":"error","error":{"type":"invalid_request_error","message":"bad"}}\n\n'
    )
    exc = await _fails(_make("anthropic", model_server.url), _req())
    assert type(exc) is ClientError and not exc.retryable


# ------------------------------------------------------------------ timeouts and connects


@BOTH
@STREAM
@TRANSPORTS
async def test_read_timeout_fires_when_first_byte_is_late(protocol, stream, transport, model_server) -> None:
    model_server.configure(latency_ms=1500)
    timeouts = Timeouts(connect=1.0, read=0.2, total=10.0)
    # Had the read timeout not fired, the answer would have come after 1.5 s, within the total.
    exc = await _fails(_make(protocol, model_server.url, transport, timeouts), _req(stream=stream))
    assert type(exc) is RequestTimeout and exc.retryable and exc.kind == "timeout"
    assert exc.reason == "read timeout (no byte for 0.2s)"


@STREAM
async def test_a_read_timeout_as_long_as_the_total_is_the_total_deadline(stream, model_server) -> None:
    # The pool arms no per-read timer when read >= total (the default): a silent server is
    # still cut off, by the total deadline, at the total.
    model_server.configure(latency_ms=1500)
    timeouts = Timeouts(connect=1.0, read=0.3, total=0.3)
    backend = _make("openai", model_server.url, "pool", timeouts)
    assert backend.client.read_timer is None and AiohttpPool(Timeouts(read=0.2, total=0.3)).read_timer == 0.2
    exc = await _fails(backend, _req(stream=stream))
    assert type(exc) is RequestTimeout and exc.reason == "total timeout (0.3s)"
    assert exc.latency_ms == 300.0


@TRANSPORTS
async def test_read_timeout_mid_stream_keeps_partial_text(transport, model_server: ModelServer) -> None:
    # Two writes 1.5 s apart: the first carries "Hel", then the server stalls.
    model_server.replay(
        b'data: {"choices":[{"index":0,"delta":{"content":"Hel"},"finish_reason":null}]}\n\n'
        b"\n@@SPLIT@@\n"
        b'data: {"choices":[{"index":0,"delta":{"content":"lo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n',
        delay_ms=1500,
    )
    timeouts = Timeouts(connect=1.0, read=0.2, total=10.0)
    exc = await _fails(_make("openai", model_server.url, transport, timeouts), _req())
    assert type(exc) is RequestTimeout and "read" in exc.reason
    assert exc.partial_text == "Hel"
    assert exc.ttft_ms is not None


async def test_total_timeout_bounds_a_slow_but_alive_stream(model_server: ModelServer) -> None:
    model_server.configure(tokens_per_s=20)  # ~8 events x 50 ms: alive, but > total
    timeouts = Timeouts(connect=1.0, read=1.0, total=0.2)
    exc = await _fails(_make("openai", model_server.url, timeouts=timeouts), _req())
    assert type(exc) is RequestTimeout and "total" in exc.reason
    assert exc.ttft_ms is not None and exc.partial_text.startswith("Answ")


@BOTH
@TRANSPORTS
async def test_connect_to_closed_port_is_transport_error(protocol, transport) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port now: the connect is refused.
    exc = await _fails(_make(protocol, f"http://127.0.0.1:{port}", transport), _req())
    assert type(exc) is TransportError and exc.retryable
    assert "connect" in exc.reason


# ------------------------------------------------------------------ server bookkeeping


async def test_fail_first_n_then_succeed_and_per_prompt_counts(model_server: ModelServer) -> None:
    model_server.fail_first(2, status=503, key="Oslo")
    backend = _make("openai", model_server.url)
    outcomes = []
    try:
        for _ in range(3):
            try:
                outcomes.append((await backend.complete(_req("Oslo"))).text)
            except ServerError as exc:
                outcomes.append(exc.status)
        outcomes.append((await backend.complete(_req("Bern"))).text)
    finally:
        await backend.aclose()
    assert outcomes == [503, 503, "Answer: Oslo", "Answer: Bern"]
    assert model_server.prompt_counts == {"Oslo": 3, "Bern": 1}
    assert model_server.status_counts == {503: 2, 200: 2}
    assert model_server.requests_total == 4


async def test_seeded_fault_probabilities_are_reproducible() -> None:
    async def outcomes(seed: int) -> list[str]:
        with ModelServer(seed=seed, p_429=0.3, p_500=0.2) as server:
            backend = _make("openai", server.url)
            kinds = []
            try:
                for i in range(20):
                    try:
                        await backend.complete(_req(f"k{i}", stream=False))
                        kinds.append("ok")
                    except BackendError as exc:
                        kinds.append(exc.kind)
            finally:
                await backend.aclose()
        return kinds

    first, again = await outcomes(11), await outcomes(11)
    assert first == again
    assert {"ok", "rate_limited", "server_error"} <= set(first)


@pytest.mark.parametrize("transport", ["pool", "aiohttp"])
async def test_backend_closes_only_clients_it_should(transport, model_server: ModelServer) -> None:
    client = AiohttpPool(FAST) if transport == "pool" else make_client(FAST)
    shared = OpenAIBackend("openai/a", "a", model_server.openai_base_url, None, client, FAST, close_client=False)
    await shared.aclose()
    assert not client.is_closed
    owner = OpenAIBackend("openai/a", "a", model_server.openai_base_url, None, client, FAST)
    assert (await owner.complete(_req("Kyiv"))).text == "Answer: Kyiv"
    await owner.aclose()
    assert client.is_closed


async def test_anthropic_provisional_output_tokens_are_not_counted(model_server: ModelServer) -> None:
    # message_start states output_tokens 9 provisionally; no message_delta states a count.
    model_server.replay(
        b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3,"output_tokens":9}}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"ok"}}\n\n'
        b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    backend = _make("anthropic", model_server.url)
    try:
        result = await backend.complete(_req())
    finally:
        await backend.aclose()
    assert (result.text, result.input_tokens, result.output_tokens) == ("ok", 3, None)
    assert result.finish_reason == "end_turn"


async def test_anthropic_thinking_deltas_are_reasoning_not_text(model_server: ModelServer) -> None:
    model_server.replay(
        b'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me see."}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"abc"}}\n\n'
        b'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}\n\n'
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"4"}}\n\n'
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )
    backend = _make("anthropic", model_server.url)
    try:
        result = await backend.complete(_req())
    finally:
        await backend.aclose()
    assert result.text == "4" and result.reasoning == "Let me see."


@BOTH
@STREAM
@TRANSPORTS
async def test_keep_alive_reuses_one_connection(protocol, stream, transport, model_server: ModelServer) -> None:
    # Streams are read to their end (past [DONE]/message_stop) so the connection returns to the pool.
    backend = _make(protocol, model_server.url, transport)
    try:
        for i in range(8):
            assert (await backend.complete(_req(f"k{i}", stream=stream))).text == f"Answer: k{i}"
    finally:
        await backend.aclose()
    assert model_server.requests_total == 8
    assert model_server.connections_total == 1
