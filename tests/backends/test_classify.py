"""The failure table: every status and transport error to a kind and an action, tested as a table.

Expected rows are written from the official SDKs' retry rules (openai-python and
anthropic-sdk-python retry 408, 409, 429 and every 5xx; 425 and Anthropic's 529 overload are
retried too) and from what each status means for the rest of a run, not read from the code.
"""

from __future__ import annotations

import socket

import aiohttp
import httpx
import pytest

from tuieval.backends.base import BACK_OFF, FAIL, RETRY, STOP
from tuieval.backends.classify import error_for_provider_type, error_for_status, map_exception, parse_rate_limit
from tuieval.backends.retry import BackoffPolicy, backoff_delay

#: A body the connection cut short reads the same whatever the socket said.
CUT = "stream cut: the connection closed before the answer ended"

STATUS_ROWS = [
    (400, "client_error", FAIL),
    (401, "auth", STOP),
    (403, "auth", STOP),
    (404, "not_found", STOP),
    (408, "request_timeout", RETRY),
    (409, "conflict", RETRY),
    (413, "client_error", FAIL),
    (418, "client_error", FAIL),
    (422, "client_error", FAIL),
    (425, "too_early", RETRY),
    (429, "rate_limited", BACK_OFF),
    (500, "server_error", RETRY),
    (501, "server_error", RETRY),
    (502, "server_error", RETRY),
    (503, "server_error", RETRY),
    (504, "server_error", RETRY),
    (529, "overloaded", RETRY),
    (302, "client_error", FAIL),
]


@pytest.mark.parametrize(("status", "kind", "action"), STATUS_ROWS)
def test_every_status_has_a_kind_and_an_action(status, kind, action) -> None:
    err = error_for_status(status, {}, b'{"error": {"message": "something"}}')
    assert (err.kind, err.action) == (kind, action)
    assert err.reason == f"HTTP {status}: something" and err.status == status


@pytest.mark.parametrize("body", [
    b'{"error": {"message": "litellm.BadRequestError: Invalid model name passed in model=gpt-nope"}}',
    b'{"error": {"message": "The model `gpt-nope` does not exist or you do not have access to it."}}',
    b'{"error": {"message": "litellm.BadRequestError: LLM Provider NOT provided. You passed model=x"}}',
    b'{"error": {"message": "Authentication Error, Invalid proxy server token passed"}}',
    b'{"error": {"message": "Incorrect API key provided: sk-****"}}',
])
def test_a_400_that_names_a_bad_model_or_key_stops_the_run(body) -> None:
    err = error_for_status(400, {}, body)
    assert err.action == STOP and err.kind in ("auth", "not_found")


def test_an_ordinary_400_fails_only_its_sample() -> None:
    err = error_for_status(400, {}, b'{"error": {"message": "max_tokens is too large: 99999"}}')
    assert err.action == FAIL and err.kind == "client_error"


@pytest.mark.parametrize(("error_type", "kind", "action"), [
    ("overloaded_error", "overloaded", RETRY),
    ("api_error", "server_error", RETRY),
    ("timeout_error", "server_error", RETRY),
    ("rate_limit_error", "rate_limited", BACK_OFF),
    ("authentication_error", "auth", STOP),
    ("permission_error", "auth", STOP),
    ("not_found_error", "not_found", STOP),
    ("invalid_request_error", "client_error", FAIL),
])
def test_anthropic_error_types_read_as_their_status(error_type, kind, action) -> None:
    err = error_for_provider_type(error_type, "msg", "in stream")
    assert (err.kind, err.action) == (kind, action)


def _connector_error(os_error: OSError) -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, os_error)


def _dns_error() -> aiohttp.ClientConnectorDNSError:
    key = aiohttp.client_reqrep.ConnectionKey("nowhere.invalid", 80, False, True, None, None, None)
    return aiohttp.ClientConnectorDNSError(key, socket.gaierror(-2, "Name or service not known"))


EXC_ROWS = [
    # (exception, responded, kind, action, unreachable, reason)
    (_connector_error(ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)")), False,
     "connect", RETRY, True, "connect failed: connection refused"),
    (_dns_error(), False, "connect", RETRY, True, "cannot resolve host: name or service not known"),
    (httpx.ConnectError("[Errno 111] Connection refused"), False, "connect", RETRY, False, "connect failed"),
    (aiohttp.ConnectionTimeoutError("Connection timeout to host"), False, "connect", RETRY, False, "connect timeout"),
    (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), True, "timeout", RETRY, False, "read timeout"),
    (httpx.ReadTimeout("t"), True, "timeout", RETRY, False, "read timeout"),
    (aiohttp.ServerDisconnectedError(), False, "disconnected", RETRY, False, "server closed the connection"),
    (aiohttp.ServerDisconnectedError(), True, "stream_cut", RETRY, False, CUT),
    (aiohttp.http_exceptions.TransferEncodingError("Not enough data to satisfy transfer length header."), True,
     "stream_cut", RETRY, False, CUT),
    (aiohttp.ClientPayloadError("Response payload is not completed"), True, "stream_cut", RETRY, False,
     CUT),
    (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), True,
     "stream_cut", RETRY, False, CUT),
    (ConnectionResetError(104, "Connection reset by peer"), False, "disconnected", RETRY, False,
     "connection lost: connection reset by peer"),
    (httpx.UnsupportedProtocol("Request URL is missing an 'http://' or 'https://' protocol."), False,
     "client_error", STOP, False, "bad URL"),
]


@pytest.mark.parametrize(("exc", "responded", "kind", "action", "unreachable", "reason"), EXC_ROWS,
                         ids=[f"{type(r[0]).__name__}-{r[1]}" for r in EXC_ROWS])
def test_every_transport_error_has_a_kind_an_action_and_a_plain_reason(exc, responded, kind, action,
                                                                      unreachable, reason) -> None:
    err = map_exception(exc, responded=responded)
    assert (err.kind, err.action, err.unreachable, err.reason) == (kind, action, unreachable, reason)


def test_the_transport_table_judges_the_original_aiohttp_error_first() -> None:
    # httpx-aiohttp re-raises a server disconnect as httpx.ConnectTimeout (from the original)
    try:
        try:
            raise aiohttp.ServerDisconnectedError()
        except aiohttp.ServerDisconnectedError as inner:
            raise httpx.ConnectTimeout("Server disconnected") from inner
    except httpx.ConnectTimeout as outer:
        err = map_exception(outer, responded=True)
    assert err.kind == "stream_cut"


def test_rate_limit_headers_of_both_providers() -> None:
    openai = parse_rate_limit({"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1m30s",
                               "x-ratelimit-remaining-tokens": "1200", "x-ratelimit-reset-tokens": "250ms"})
    assert (openai.remaining_requests, openai.reset_requests_s) == (0, 90.0)
    assert (openai.remaining_tokens, openai.reset_tokens_s) == (1200, 0.25)
    from datetime import datetime, timedelta, timezone

    soon = (datetime.now(timezone.utc) + timedelta(seconds=20)).isoformat().replace("+00:00", "Z")
    anthropic = parse_rate_limit({"anthropic-ratelimit-requests-remaining": "3",
                                  "anthropic-ratelimit-requests-reset": soon})
    assert anthropic.remaining_requests == 3 and 17 <= anthropic.reset_requests_s <= 20
    assert parse_rate_limit({"content-type": "application/json"}) is None


def test_one_back_off_full_jitter_under_a_doubling_ceiling() -> None:
    policy = BackoffPolicy(base_s=0.5, cap_s=3.0, retry_after_cap_s=10.0)
    ceilings = [backoff_delay(n, None, policy, uniform=lambda lo, hi: hi) for n in (1, 2, 3, 4, 5)]
    assert ceilings == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff_delay(3, None, policy, uniform=lambda lo, hi: lo) == 0.0
    assert backoff_delay(1, 4.0, policy) == 4.0  # a server's Retry-After replaces the draw
    assert backoff_delay(1, 99.0, policy) == 10.0  # ... up to its cap
