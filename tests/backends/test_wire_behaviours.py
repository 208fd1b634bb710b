"""What real servers and proxies do on the wire, against the loopback server: a slow close after
the answer, a total timeout mid-stream, a whole JSON body for a streamed request, rate-limit headers.

Each runs over both protocols and both transports (aiohttp's and httpx's own).
"""

from __future__ import annotations

from tests.backends.test_faults import BOTH, TRANSPORTS, _fails, _make, _req
from tests.support.model_server import ModelServer
from tuieval.backends.base import RequestTimeout, ServerError, Timeouts


@BOTH
@TRANSPORTS
async def test_a_slow_close_is_neither_timed_nor_able_to_fail_the_sample(protocol, transport,
                                                                         model_server: ModelServer) -> None:
    # The answer is complete at once; the server then holds the body open for 2 s — four
    # times the total timeout. The answer must come back whole, timed to its last event.
    model_server.configure(slow_close_ms=2000)
    timeouts = Timeouts(connect=1.0, read=5.0, total=0.5)
    backend = _make(protocol, model_server.url, transport, timeouts)
    try:
        result = await backend.complete(_req("Oslo"))
    finally:
        await backend.aclose()
    assert result.text == "Answer: Oslo"
    assert result.latency_ms < 2000  # the 2 s after the terminal event are not the model's


@BOTH
@TRANSPORTS
async def test_total_timeout_mid_stream_keeps_text_ttft_and_is_censored_at_the_timeout(
        protocol, transport, model_server: ModelServer) -> None:
    model_server.configure(tokens_per_s=10)  # one ~4-character delta every 100 ms
    timeouts = Timeouts(connect=1.0, read=5.0, total=0.45)
    exc = await _fails(_make(protocol, model_server.url, transport, timeouts), _req("Reykjavik-and-more"))
    assert type(exc) is RequestTimeout and exc.kind == "timeout"
    assert exc.reason == "total timeout (0.45s)"
    assert exc.partial_text and "Answer: Reykjavik-and-more".startswith(exc.partial_text)
    assert exc.partial_text != "Answer: Reykjavik-and-more"
    assert exc.ttft_ms is not None
    assert exc.latency_ms == 450.0  # right-censored at the timeout


@BOTH
@TRANSPORTS
async def test_a_whole_json_answer_to_a_streamed_request_is_an_answer(protocol, transport,
                                                                     model_server: ModelServer) -> None:
    model_server.configure(stream_reply="json")
    backend = _make(protocol, model_server.url, transport)
    try:
        result = await backend.complete(_req("Bern", stream=True))
    finally:
        await backend.aclose()
    assert model_server.last_body["stream"] is True  # it was asked to stream
    assert result.text == "Answer: Bern" and result.output_tokens == 3
    assert result.ttft_ms is None  # the whole answer arrived at once: no first token to time


@BOTH
@TRANSPORTS
async def test_a_json_error_body_to_a_streamed_request_is_that_error(protocol, transport,
                                                                    model_server: ModelServer) -> None:
    model_server.configure(stream_reply="json_error")
    exc = await _fails(_make(protocol, model_server.url, transport), _req(stream=True))
    assert type(exc) is ServerError and exc.kind == "server_error" and exc.retryable
    assert "the upstream model failed" in exc.reason and "stream cut" not in exc.reason


@BOTH
@TRANSPORTS
async def test_an_html_page_is_one_clear_error_not_a_stream_cut(protocol, transport,
                                                               model_server: ModelServer) -> None:
    model_server.configure(stream_reply="html")
    exc = await _fails(_make(protocol, model_server.url, transport), _req(stream=True))
    assert exc.kind == "bad_response"
    assert exc.reason == "expected an event stream, got text/html (HTTP 200)"


@BOTH
async def test_rate_limit_headers_reach_the_result(protocol, model_server: ModelServer) -> None:
    model_server.configure(ratelimit_headers=True, ratelimit_remaining=7, ratelimit_reset_s=2.5)
    backend = _make(protocol, model_server.url)
    try:
        result = await backend.complete(_req())
    finally:
        await backend.aclose()
    assert result.rate_limit is not None and result.rate_limit.remaining_requests == 7
    assert 2.0 <= result.rate_limit.reset_requests_s <= 2.5
