"""Pure tests of the HTTP error layer: Retry-After, status mapping, exception mapping, redaction."""

from __future__ import annotations

import email.utils
import time

import aiohttp
import httpx
import pytest
from httpx_aiohttp.transport import map_aiohttp_exceptions

from tuieval.backends.base import ClientError, RateLimited, RequestTimeout, ServerError, TransportError
from tuieval.backends.classify import error_for_status, map_exception, parse_retry_after, redact


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after": " 1.5 "}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after": "-3"}, 0.0),
        ({"retry-after": "soon"}, None),
        ({}, None),
        ({"retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past: go now
    ],
)
def test_parse_retry_after(headers, expected) -> None:
    assert parse_retry_after(headers) == expected


def test_parse_retry_after_http_date_in_the_future() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= parse_retry_after({"retry-after": when}) <= 30


def test_status_mapping() -> None:
    exc = error_for_status(429, {"retry-after": "3"}, b'{"error": {"message": "slow down"}}')
    assert isinstance(exc, RateLimited) and exc.retry_after == 3.0 and exc.reason == "HTTP 429: slow down"
    exc = error_for_status(503, {}, b"<html><body>Service Unavailable</body></html>")
    assert type(exc) is ServerError and exc.retryable and exc.reason == "HTTP 503"
    exc = error_for_status(529, {}, b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}')
    assert type(exc) is ServerError and exc.reason == "HTTP 529: Overloaded"
    exc = error_for_status(404, {}, b'{"error": {"message": "The model `nope` does not exist", "code": "model_not_found"}}')
    assert type(exc) is ClientError and not exc.retryable and exc.status == 404
    assert exc.reason == "HTTP 404: The model `nope` does not exist"


def test_status_reason_is_short_and_redacted() -> None:
    key = "sk-proj-abcdefghijklmnop1234"
    body = ('{"error": {"message": "Incorrect API key provided: %s. ' % key + "x" * 500 + '"}}').encode()
    exc = error_for_status(401, {}, body, secrets=[key])
    assert key not in exc.reason and "abcdefghijklmnop" not in exc.reason
    assert len(exc.reason) <= 200


def test_redact_masked_and_provider_key_shapes() -> None:
    text = "bad key sk-proj-****************abcd and gsk_0123456789 and sk-ant-api03-XYZ and plain words"
    out = redact(text)
    assert "abcd" not in out and "0123456789" not in out and "XYZ" not in out
    assert out.endswith("and plain words")


def _through_transport(exc: Exception) -> Exception:
    """What httpx_aiohttp raises for an aiohttp exception (its own mapping)."""
    try:
        with map_aiohttp_exceptions():
            raise exc
    except Exception as mapped:  # noqa: BLE001 - the point is to capture it
        return mapped
    raise AssertionError("unreachable")


def _connector_error() -> aiohttp.ClientConnectorError:
    key = aiohttp.client_reqrep.ConnectionKey("127.0.0.1", 1, False, True, None, None, None)
    return aiohttp.ClientConnectorError(key, ConnectionRefusedError(111, "Connection refused"))


@pytest.mark.parametrize(
    ("aiohttp_exc", "expected", "reason_part"),
    [
        (aiohttp.ServerDisconnectedError(), TransportError, "closed the connection"),
        (aiohttp.ClientPayloadError("Response payload is not completed"), TransportError, "cut"),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), TransportError, "connection"),
        (aiohttp.SocketTimeoutError("Timeout on reading data from socket"), RequestTimeout, "read"),
        # Not a model latency (nothing reached the model): a connect failure, not a censored timeout.
        (aiohttp.ConnectionTimeoutError("Connection timeout to host"), TransportError, "connect timeout"),
        (_connector_error(), TransportError, "connect failed"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, Exception) else None,
)
def test_aiohttp_exceptions_through_the_transport(aiohttp_exc, expected, reason_part) -> None:
    # The transport maps e.g. a server disconnect to httpx.ConnectTimeout; the original
    # aiohttp exception (kept as __cause__) decides the category instead.
    raised = _through_transport(aiohttp_exc)
    assert isinstance(raised, httpx.HTTPError)
    mapped = map_exception(raised)
    assert type(mapped) is expected
    assert reason_part in mapped.reason


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectTimeout("t"), TransportError),
        (httpx.ReadTimeout("t"), RequestTimeout),
        (httpx.PoolTimeout("t"), RequestTimeout),
        (httpx.ConnectError("refused"), TransportError),
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), TransportError),
        (httpx.ReadError("reset"), TransportError),
        (httpx.UnsupportedProtocol("ftp"), ClientError),
        (ConnectionResetError(104, "reset"), TransportError),
    ],
)
def test_httpx_and_os_exceptions(exc, expected) -> None:
    assert type(map_exception(exc)) is expected


def test_unrelated_exceptions_are_not_swallowed() -> None:
    assert map_exception(ValueError("bug")) is None
    assert map_exception(KeyError("bug")) is None
