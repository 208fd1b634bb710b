"""One table of what every failure means: HTTP statuses, provider error types and transport
exceptions, each mapped to a stable ``error_kind``, a short reason and an action.

Actions (``BackendError.action``): **retry** (another attempt, exponential back-off with
jitter), **back_off** (retry after the server's Retry-After, and lower concurrency),
**fail** (store this sample as an error, go on with the run) and **stop** (every request of
the run would fail the same way: stop it, exit 2).

The status table follows what the official OpenAI and Anthropic SDKs retry (408, 409, 429,
5xx) plus 425 and 529. A 400 whose message says the model is unknown or the key is bad
(LiteLLM answers both that way) is treated like 401/404. Transport exceptions are matched
most specific first; aiohttp's own exception (kept as ``__cause__`` by httpx-aiohttp, which
re-raises coarsely: a server disconnect becomes ``httpx.ConnectTimeout``) is judged before
the httpx one. Reasons are fixed phrases (never a library's repr) and never hold a key.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import re
import socket
import ssl
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from tuieval.backends.base import (
    BackendError,
    ClientError,
    RateLimited,
    RateLimitInfo,
    RequestTimeout,
    ServerError,
    TransportError,
)

try:  # aiohttp comes with httpx-aiohttp; without it only httpx exceptions can occur
    # the first import of aiohttp on every path: without its two unused CA-bundle loads
    from tuieval.backends.aiohttp_import import import_aiohttp

    aiohttp = import_aiohttp()
except ImportError:  # pragma: no cover - exercised only without the dependency
    aiohttp = None  # type: ignore[assignment]

__all__ = [
    "StatusRule",
    "STATUS_TABLE",
    "ANTHROPIC_ERROR_STATUS",
    "status_rule",
    "classified_error",
    "error_for_status",
    "error_for_provider_type",
    "error_message",
    "map_exception",
    "parse_retry_after",
    "parse_rate_limit",
    "redact",
    "short_reason",
    "MAX_REASON",
    "STREAM_CUT",
    "STREAM_ENDED",
]

#: Longest reason kept from a server's error message.
MAX_REASON = 200


@dataclass(frozen=True)
class StatusRule:
    """What a status means: the failure kind and what the engine does about it."""

    kind: str
    action: str  # retry | back_off | fail | stop


# --------------------------------------------------------------------------- the status table

STATUS_TABLE: dict[int, StatusRule] = {
    400: StatusRule("client_error", "fail"),  # "stop" when the body names a bad key or model
    401: StatusRule("auth", "stop"),
    403: StatusRule("auth", "stop"),
    404: StatusRule("not_found", "stop"),
    408: StatusRule("request_timeout", "retry"),
    409: StatusRule("conflict", "retry"),
    413: StatusRule("client_error", "fail"),
    422: StatusRule("client_error", "fail"),
    425: StatusRule("too_early", "retry"),
    429: StatusRule("rate_limited", "back_off"),
    500: StatusRule("server_error", "retry"),
    502: StatusRule("server_error", "retry"),
    503: StatusRule("server_error", "retry"),
    504: StatusRule("server_error", "retry"),
    529: StatusRule("overloaded", "retry"),
}
#: Statuses not listed: any other 5xx is a retried server_error; any other 3xx/4xx a failed
#: client_error (redirects are not followed: a base URL that redirects is a setup mistake).
DEFAULT_5XX = StatusRule("server_error", "retry")
DEFAULT_4XX = StatusRule("client_error", "fail")

#: Anthropic error types (in error bodies and ``event: error``) as the status they stand for.
ANTHROPIC_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

# A 400 that says the key or the model is wrong (LiteLLM: "Invalid model name passed in
# model=...", "LLM Provider NOT provided", "Authentication Error, Invalid proxy server token").
_BAD_KEY = re.compile(
    r"invalid_api_key|\b(?:invalid|incorrect|missing|bad|no)\b[\w\s]{0,20}\b(?:api[\s_-]?key|token|credentials)"
    r"|authenticat\w*\s+(?:error|fail)|unauthori[sz]ed",
    re.I,
)
_BAD_MODEL = re.compile(
    r"model_not_found|unknown model|invalid model|llm provider not provided"
    r"|\b(?:model|deployment)\b[^.]{0,80}?\b(?:not found|does not exist|doesn't exist|is not supported|unknown)",
    re.I,
)


def status_rule(status: int, message: str = "") -> StatusRule:
    """The row of the table for ``status`` (with the 400 body rule applied)."""
    if status == 400:
        if _BAD_KEY.search(message):
            return StatusRule("auth", "stop")
        if _BAD_MODEL.search(message):
            return StatusRule("not_found", "stop")
    rule = STATUS_TABLE.get(status)
    if rule is not None:
        return rule
    return DEFAULT_5XX if status >= 500 else DEFAULT_4XX


def classified_error(status: int, message: str, reason: str, *, http_status: int | None = None,
                     retry_after: float | None = None) -> BackendError:
    """The BackendError the table gives ``status`` (an HTTP status, or the one an error object
    in a 2xx body stands for), with ``reason`` already written."""
    return _error_for_rule(status_rule(status, message), reason, http_status, retry_after)


def _error_for_rule(rule: StatusRule, reason: str, status: int | None, retry_after: float | None) -> BackendError:
    if rule.action == "back_off":
        return RateLimited(reason, retry_after=retry_after, status=status, kind=rule.kind)
    if rule.action == "retry":
        return ServerError(reason, status=status, retry_after=retry_after, kind=rule.kind)
    return ClientError(reason, status=status, kind=rule.kind, fatal=rule.action == "stop")


# --------------------------------------------------------------------------- reasons and headers

# Provider keys look like sk-..., sk-ant-..., sk-or-v1-..., gsk_...; some servers echo a
# masked key ("sk-proj-****abcd") in 401 messages. Long opaque tokens go too.
_KEYLIKE = re.compile(r"\b(?:sk|gsk|pk|rk|xai)[-_][A-Za-z0-9_\-*.]{4,}|[A-Za-z0-9_\-]{32,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove given secrets and anything key-shaped from a human-readable reason."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


def short_reason(reason: str, secrets: Iterable[str | None] = ()) -> str:
    """One line, redacted, at most MAX_REASON characters."""
    reason = " ".join(redact(reason, secrets).split())
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def error_message(body: bytes | str | object) -> str:
    """The human part of an error body: OpenAI/Anthropic ``{"error": {"message": ...}}``."""
    obj = body
    if isinstance(body, (bytes, str)):
        try:
            obj = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raw = body[:MAX_REASON]
            text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
            text = text.strip()
            # An HTML error page says nothing useful in one line.
            return "" if text.startswith("<") else " ".join(text.split())
    if not isinstance(obj, dict):
        return ""
    err = obj.get("error", obj)
    if isinstance(err, str):
        return err
    if isinstance(err, dict):
        msg = err.get("message") or err.get("type") or err.get("code") or ""
        return str(msg)
    return ""


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta-seconds or HTTP-date) or ``retry-after-ms``."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = math.nan
        if math.isfinite(value):
            return max(0.0, value)
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def _reset_seconds(raw: str | None) -> float | None:
    """OpenAI's ``6m0s`` / ``1.5s`` / ``20ms`` durations, bare seconds, or Anthropic's RFC 3339 time."""
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
    except ValueError:
        pass
    else:
        return max(0.0, value) if math.isfinite(value) else None
    parts = _DURATION_PART.findall(raw)
    if parts and "".join(n + u for n, u in parts) == raw:
        return sum(float(n) * _UNIT_S[u] for n, u in parts)
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def _count(raw: str | None) -> int | None:
    try:
        return int(float(raw)) if raw is not None else None
    except ValueError:
        return None


def parse_rate_limit(headers: Mapping[str, str]) -> RateLimitInfo | None:
    """The rate-limit headers OpenAI (``x-ratelimit-{remaining,reset}-{requests,tokens}``) and
    Anthropic (``anthropic-ratelimit-{requests,tokens}-{remaining,reset}``) send; None if none."""
    get = headers.get
    remaining_requests = get("x-ratelimit-remaining-requests") or get("anthropic-ratelimit-requests-remaining")
    reset_requests = get("x-ratelimit-reset-requests") or get("anthropic-ratelimit-requests-reset")
    limit_requests = get("x-ratelimit-limit-requests") or get("anthropic-ratelimit-requests-limit")
    remaining_tokens = get("x-ratelimit-remaining-tokens") or get("anthropic-ratelimit-tokens-remaining")
    reset_tokens = get("x-ratelimit-reset-tokens") or get("anthropic-ratelimit-tokens-reset")
    if not (remaining_requests or reset_requests or limit_requests or remaining_tokens or reset_tokens):
        return None  # the usual case of a server without them: no object built on every response
    info = RateLimitInfo(
        remaining_requests=_count(remaining_requests),
        reset_requests_s=_reset_seconds(reset_requests),
        limit_requests=_count(limit_requests),
        remaining_tokens=_count(remaining_tokens),
        reset_tokens_s=_reset_seconds(reset_tokens),
    )
    return None if info == RateLimitInfo() else info


# --------------------------------------------------------------------------- statuses and bodies


def error_for_status(
    status: int, headers: Mapping[str, str], body: bytes = b"", secrets: Iterable[str | None] = ()
) -> BackendError:
    """The BackendError for a non-2xx response, by the table (reason: status and the provider's message)."""
    message = error_message(body)
    reason = short_reason(f"HTTP {status}: {message}" if message else f"HTTP {status}", secrets)
    error = _error_for_rule(status_rule(status, message), reason, status, parse_retry_after(headers))
    error.rate_limit = parse_rate_limit(headers)
    return error


def error_for_provider_type(
    error_type: str, message: str, where: str, secrets: Iterable[str | None] = (), status: int | None = None
) -> BackendError:
    """An error object inside a 2xx body or stream (Anthropic's types; anything else is a server error)."""
    equivalent = ANTHROPIC_ERROR_STATUS.get(error_type, 500)
    reason = short_reason(f"{error_type} {where}: {message}".strip().rstrip(":"), secrets)
    return _error_for_rule(status_rule(equivalent, message), reason, status, None)


# --------------------------------------------------------------------------- transport exceptions


#: The one reason of a body the connection cut short (reset, closed, bad chunking: the same
#: failure to a person, so one phrase; the kind is stream_cut).
STREAM_CUT = "stream cut: the connection closed before the answer ended"
#: The body ended cleanly, but before the stream's terminal event.
STREAM_ENDED = "stream cut: the body ended before the answer did"


@dataclass(frozen=True)
class _ExcRule:
    """What a transport exception means (kind, reason, whether nothing answered, fatal)."""

    kind: str
    reason: str
    unreachable: bool = False  # nothing answered: refused, or the host does not resolve
    fatal: bool = False


def _build_exception_table(with_httpx: bool = True) -> list[tuple[type[BaseException], _ExcRule]]:
    # a certificate the client does not trust (aiohttp's ClientConnectorCertificateError is one,
    # httpx wraps one in ConnectError): named as such, not as the OS's "operation not permitted"
    # its errno 1 would read as; only at the handshake, so nothing answered
    rows: list[tuple[type[BaseException], _ExcRule]] = [
        (ssl.SSLCertVerificationError, _ExcRule("connect", "TLS certificate not trusted", unreachable=True))]
    if aiohttp is not None:
        rows += [
            (aiohttp.ClientSSLError, _ExcRule("connect", "TLS handshake failed", unreachable=True)),
            (aiohttp.ConnectionTimeoutError, _ExcRule("connect", "connect timeout")),
            (aiohttp.SocketTimeoutError, _ExcRule("timeout", "read timeout")),
            (aiohttp.ServerTimeoutError, _ExcRule("timeout", "timeout")),
            (aiohttp.ClientConnectorDNSError, _ExcRule("connect", "cannot resolve host", unreachable=True)),
            (aiohttp.ClientConnectorError, _ExcRule("connect", "connect failed", unreachable=True)),
            # TransferEncodingError, ContentLengthError: the body stopped short of what was promised.
            (aiohttp.ClientPayloadError, _ExcRule("stream_cut", STREAM_CUT)),
            (aiohttp.http_exceptions.TransferEncodingError, _ExcRule("stream_cut", STREAM_CUT)),
            (aiohttp.http_exceptions.ContentLengthError, _ExcRule("stream_cut", STREAM_CUT)),
            (aiohttp.http_exceptions.HttpProcessingError, _ExcRule("bad_response", "malformed HTTP response")),
            (aiohttp.ServerDisconnectedError, _ExcRule("disconnected", "server closed the connection")),
            (aiohttp.InvalidURL, _ExcRule("client_error", "bad URL", fatal=True)),
            (aiohttp.ClientOSError, _ExcRule("disconnected", "connection lost")),
            (aiohttp.ClientConnectionError, _ExcRule("disconnected", "connection lost")),
            # e.g. ClientResponseError raised by the parser on a malformed HTTP response.
            (aiohttp.ClientError, _ExcRule("bad_response", "malformed HTTP response")),
        ]
    httpx = sys.modules.get("httpx") if with_httpx else None
    if httpx is not None:
        rows += [
            (httpx.ConnectTimeout, _ExcRule("connect", "connect timeout")),
            (httpx.ReadTimeout, _ExcRule("timeout", "read timeout")),
            (httpx.WriteTimeout, _ExcRule("timeout", "write timeout")),
            (httpx.PoolTimeout, _ExcRule("timeout", "pool timeout")),
            (httpx.TimeoutException, _ExcRule("timeout", "timeout")),
            (httpx.UnsupportedProtocol, _ExcRule("client_error", "bad URL", fatal=True)),
            (httpx.InvalidURL, _ExcRule("client_error", "bad URL", fatal=True)),
            (httpx.LocalProtocolError, _ExcRule("client_error", "bad request setup")),
        ]
    rows += [
        # before httpx.ConnectError: a refused connection under it means nothing is there
        (socket.gaierror, _ExcRule("connect", "cannot resolve host", unreachable=True)),
        (ConnectionRefusedError, _ExcRule("connect", "connect failed", unreachable=True)),
    ]
    if httpx is not None:
        rows += [
            (httpx.ConnectError, _ExcRule("connect", "connect failed")),
            (httpx.RemoteProtocolError, _ExcRule("disconnected", "server closed the connection")),
            (httpx.ReadError, _ExcRule("disconnected", "connection lost")),
            (httpx.DecodingError, _ExcRule("bad_response", "undecodable response body")),
            (httpx.TransportError, _ExcRule("disconnected", "connection lost")),
        ]
    rows += [
        (TimeoutError, _ExcRule("timeout", "timeout")),
        (OSError, _ExcRule("disconnected", "connection lost")),
    ]
    return rows


#: (exception type, rule), most specific first: the first row any link of the chain matches wins.
#: Built on first use; with httpx rows only once httpx is imported (no httpx exception can exist
#: before, and the run's own request path does not import it: tuieval.backends.http).
_TABLES: dict[bool, list[tuple[type[BaseException], _ExcRule]]] = {}


def exception_table() -> list[tuple[type[BaseException], _ExcRule]]:
    with_httpx = "httpx" in sys.modules
    table = _TABLES.get(with_httpx)
    if table is None:
        table = _TABLES[with_httpx] = _build_exception_table(with_httpx)
    return table


def _walk(exc: BaseException) -> list[BaseException]:
    seen: set[int] = set()
    out: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        out.append(cur)
        cur = cur.__cause__ or cur.__context__
    return out


def _os_detail(chain: list[BaseException]) -> str:
    """"connection refused", "name or service not known": the OS's words, not a library's repr."""
    for link in chain:
        for err in (getattr(link, "os_error", None), link):
            if isinstance(err, ssl.SSLCertVerificationError):
                return (err.verify_message or "").lower()
            if isinstance(err, ssl.SSLError):  # the library's reason, not errno 1's words
                return (err.reason or "").lower().replace("_", " ")
            if isinstance(err, socket.gaierror) and err.strerror:
                return err.strerror.lower()
            errno = getattr(err, "errno", None)
            if isinstance(err, OSError) and isinstance(errno, int) and errno > 0:
                return os.strerror(errno).lower()
    return ""


def map_exception(
    exc: BaseException, secrets: Iterable[str | None] = (), *, responded: bool = False
) -> BackendError | None:
    """Translate an httpx/aiohttp/OS exception to a BackendError; None if it is not one.

    ``None`` means "not a network failure" (a bug, a cancellation): let it propagate.
    ``responded``: the response had begun, so a lost connection cut the body (stream_cut).
    """
    if isinstance(exc, BackendError):
        return exc
    chain = _walk(exc)
    rule = next((r for cls, r in exception_table() for link in chain if isinstance(link, cls)), None)
    if rule is None:
        return None
    kind = rule.kind
    if responded and kind == "disconnected":
        kind = "stream_cut"
    reason = STREAM_CUT if kind == "stream_cut" else rule.reason
    if rule.kind == "connect" or kind == "disconnected" and rule.reason == "connection lost":
        detail = _os_detail(chain)
        if detail and detail not in reason:
            reason = f"{reason}: {detail}"
    reason = short_reason(reason, secrets)
    error: BackendError
    if kind == "timeout":
        error = RequestTimeout(reason)
    elif kind == "client_error":
        error = ClientError(reason, kind=kind, fatal=rule.fatal)
    elif kind == "bad_response":
        error = ServerError(reason, kind=kind)
    else:
        error = TransportError(reason, kind=kind, unreachable=rule.unreachable)
    return error
