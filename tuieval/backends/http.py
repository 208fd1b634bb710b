"""HTTP plumbing shared by the real model backends.

* :func:`make_client` builds the one ``httpx.AsyncClient`` a run shares. It rides on
  aiohttp's connection pool through ``httpx_aiohttp.AiohttpTransport``: httpx's own
  pool costs several times aiohttp's CPU per request at high concurrency
  (encode/httpx#3215). If that package is missing, httpx's default transport is used.
* :func:`error_for_status` and :func:`map_exception` turn HTTP statuses and
  httpx/aiohttp exceptions into the :class:`~tuieval.backends.base.BackendError`
  family the engine understands (what to retry, how long to wait).
* :class:`HTTPChatBackend` is the request/stream/timeout skeleton that
  ``openai.py`` and ``anthropic.py`` fill in with their wire formats.

No function here ever puts a request header (and so an API key) into a reason.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

import httpx

from tuieval.backends.base import (
    BackendError,
    ChatRequest,
    ChatResult,
    ClientError,
    DeltaCallback,
    RateLimited,
    RequestTimeout,
    ServerError,
    Timeouts,
    TransportError,
)
from tuieval.backends.sse import SSEDecoder, SSEEvent

try:  # aiohttp comes with httpx-aiohttp; without it only httpx exceptions can occur
    import aiohttp
except ImportError:  # pragma: no cover - exercised only without the dependency
    aiohttp = None  # type: ignore[assignment]

__all__ = [
    "make_client",
    "parse_retry_after",
    "error_for_status",
    "map_exception",
    "redact",
    "StreamAccumulator",
    "HTTPChatBackend",
]

USER_AGENT = "tuieval/0.1"
#: Longest reason kept from a server's error message.
MAX_REASON = 200
#: After a stream's terminator, how long to keep reading so the connection can go back
#: to the pool (the chunked-body end usually follows within microseconds).
DRAIN_SECONDS = 1.0


def make_client(timeouts: Timeouts, max_connections: int = 100, *, use_aiohttp: bool = True) -> httpx.AsyncClient:
    """The shared client: aiohttp's pool behind the httpx API, keep-alive on.

    ``timeouts.connect`` bounds the TCP/TLS connect, ``timeouts.read`` each gap between
    received bytes (so a slow stream is fine while tokens keep arriving). Waiting for a
    free pooled connection is not bounded here: the engine's concurrency limit already
    is, and ``timeouts.total`` (enforced by the backends) bounds the whole attempt.
    ``use_aiohttp=False`` forces httpx's own transport (the fallback; tests use it).
    """
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    timeout = httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=None)
    transport: httpx.AsyncBaseTransport | None
    transport = None
    if use_aiohttp:
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:  # pragma: no cover - the package is a declared dependency
            pass
        else:
            transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        timeout=timeout,
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
    )


# --------------------------------------------------------------------------- errors

# Provider keys look like sk-..., sk-ant-..., sk-or-v1-..., gsk_...; some servers echo a
# masked key ("sk-proj-****abcd") in 401 messages. Long opaque tokens go too.
_KEYLIKE = re.compile(r"\b(?:sk|gsk|pk|rk|xai)[-_][A-Za-z0-9_\-*.]{4,}|[A-Za-z0-9_\-]{32,}")


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """Remove given secrets and anything key-shaped from a human-readable reason."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)


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


def _error_message(body: bytes) -> str:
    """The human part of an error body: OpenAI/Anthropic ``{"error": {"message": ...}}``."""
    try:
        obj = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        text = body[:MAX_REASON].decode("utf-8", "replace").strip()
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


def _short(reason: str, secrets: Iterable[str | None]) -> str:
    reason = " ".join(redact(reason, secrets).split())
    return reason if len(reason) <= MAX_REASON else reason[: MAX_REASON - 1] + "…"


def error_for_status(
    status: int, headers: Mapping[str, str], body: bytes = b"", secrets: Iterable[str | None] = ()
) -> BackendError:
    """The BackendError for a non-2xx response (429 → RateLimited, 5xx → ServerError, …)."""
    message = _error_message(body)
    reason = _short(f"HTTP {status}: {message}" if message else f"HTTP {status}", secrets)
    retry_after = parse_retry_after(headers)
    if status == 429:
        return RateLimited(reason, retry_after=retry_after)
    if status >= 500:
        return ServerError(reason, status=status, retry_after=retry_after)
    return ClientError(reason, status=status)


def _walk(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def _from_aiohttp(exc: BaseException) -> BackendError | None:
    # httpx_aiohttp re-raises aiohttp errors as httpx ones, but coarsely (a server
    # disconnect becomes httpx.ConnectTimeout), so the original is judged first.
    if aiohttp is None or not isinstance(exc, aiohttp.ClientError):
        return None
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return RequestTimeout("connect timeout")
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return RequestTimeout("read timeout")
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return RequestTimeout("timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransportError(f"connect failed: {detail}")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return TransportError(f"response body cut: {detail}")
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return TransportError("server disconnected")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return TransportError(f"connection error: {detail}")
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return ClientError(f"bad URL: {detail}")
    # e.g. ClientResponseError raised by aiohttp's parser on a malformed HTTP response.
    return TransportError(f"protocol error: {detail}")


def _from_httpx(exc: BaseException) -> BackendError | None:
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeout("connect timeout")
    if isinstance(exc, httpx.ReadTimeout):
        return RequestTimeout("read timeout")
    if isinstance(exc, httpx.WriteTimeout):
        return RequestTimeout("write timeout")
    if isinstance(exc, httpx.PoolTimeout):
        return RequestTimeout("pool timeout")
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeout("timeout")
    if isinstance(exc, (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL)):
        return ClientError(f"bad request setup: {detail}")
    if isinstance(exc, httpx.ConnectError):
        return TransportError(f"connect failed: {detail}")
    if isinstance(exc, httpx.RemoteProtocolError):
        return TransportError(f"protocol error: {detail}")
    if isinstance(exc, (httpx.TransportError, httpx.DecodingError)):
        return TransportError(f"{type(exc).__name__}: {detail}")
    return None


def map_exception(exc: BaseException, secrets: Iterable[str | None] = ()) -> BackendError | None:
    """Translate an httpx/aiohttp/OS exception to a BackendError; None if it is not one.

    ``None`` means "not a network failure" (a bug, a cancellation): let it propagate.
    """
    if isinstance(exc, BackendError):
        return exc
    chain = list(_walk(exc))
    mapped = None
    for link in chain:
        mapped = _from_aiohttp(link)
        if mapped is not None:
            break
    if mapped is None:
        for link in chain:
            mapped = _from_httpx(link)
            if mapped is not None:
                break
    if mapped is None:
        if isinstance(exc, TimeoutError):
            mapped = RequestTimeout("timeout")
        elif isinstance(exc, OSError):
            mapped = TransportError(f"connection error: {exc.strerror or type(exc).__name__}")
        else:
            return None
    mapped.reason = _short(mapped.reason, secrets)
    mapped.args = (mapped.reason,)
    return mapped


# --------------------------------------------------------------------------- backends


class StreamAccumulator:
    """One attempt's answer, reasoning, usage and timing, filled as a stream is parsed."""

    __slots__ = (
        "start",
        "on_delta",
        "text_parts",
        "reasoning_parts",
        "finish_reason",
        "output_tokens",
        "input_tokens",
        "ttft_ms",
    )

    def __init__(self, on_delta: DeltaCallback | None = None) -> None:
        self.start = time.perf_counter()
        self.on_delta = on_delta
        self.text_parts: list[str] = []
        self.reasoning_parts: list[str] = []
        self.finish_reason: str | None = None
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None
        self.ttft_ms: float | None = None

    def answer(self, piece: str) -> None:
        if not piece:
            return
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.start) * 1000.0
        self.text_parts.append(piece)
        if self.on_delta is not None:
            self.on_delta(piece)

    def reason(self, piece: str) -> None:
        if not piece:
            return
        if self.ttft_ms is None:
            self.ttft_ms = (time.perf_counter() - self.start) * 1000.0
        self.reasoning_parts.append(piece)

    def take_usage(self, usage: Any, output_key: str, input_key: str) -> None:
        """Record token counts from a usage object; the last one a stream states wins, and a
        count the object leaves out keeps its earlier value."""
        if not isinstance(usage, dict):
            return
        out = as_int(usage.get(output_key))
        if out is not None:
            self.output_tokens = out
        inp = as_int(usage.get(input_key))
        if inp is not None:
            self.input_tokens = inp

    @property
    def text(self) -> str:
        return "".join(self.text_parts)

    def result(self) -> ChatResult:
        return ChatResult(
            text=self.text,
            reasoning="".join(self.reasoning_parts),
            finish_reason=self.finish_reason,
            output_tokens=self.output_tokens,
            input_tokens=self.input_tokens,
            ttft_ms=self.ttft_ms,
            latency_ms=(time.perf_counter() - self.start) * 1000.0,
        )


def as_int(value: Any) -> int | None:
    """A token count from JSON, tolerating null and floats."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


class HTTPChatBackend:
    """Skeleton of a backend that POSTs JSON and reads JSON or an SSE stream back.

    Subclasses implement :meth:`_prepare`, :meth:`_on_event`, :meth:`_end_of_stream`
    and :meth:`_parse_body`. If ``client`` is None the backend makes its own.
    :meth:`aclose` closes the client (the protocol's "release connections") unless
    ``close_client=False``: pass that when one client is shared by several backends.
    """

    simulated = False

    def __init__(
        self,
        spec: str,
        model: str,
        base_url: str,
        api_key: str | None = None,
        client: httpx.AsyncClient | None = None,
        timeouts: Timeouts | None = None,
        *,
        close_client: bool = True,
    ) -> None:
        self.spec = spec
        self.model = model
        self.base_url = base_url.rstrip("/")
        # Kept private and out of repr so it cannot end up in logs by accident.
        self._api_key = api_key or None
        self.timeouts = timeouts or Timeouts()
        self._owns_client = client is None or close_client
        self.client = client if client is not None else make_client(self.timeouts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, base_url={self.base_url!r})"

    # -- hooks ---------------------------------------------------------------

    def _prepare(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and JSON body for one request."""
        raise NotImplementedError

    def _on_event(self, event: SSEEvent, acc: StreamAccumulator) -> bool:
        """Apply one SSE event; return True when it ends the stream; raise on an error event."""
        raise NotImplementedError

    def _end_of_stream(self, acc: StreamAccumulator, finished: bool) -> None:
        """Called when the body ends; raise if the stream was incomplete."""
        if not finished:
            raise TransportError("stream cut")

    def _parse_body(self, obj: Any, acc: StreamAccumulator) -> None:
        """Fill ``acc`` from a non-streaming JSON response."""
        raise NotImplementedError

    # -- driver --------------------------------------------------------------

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        url, headers, body = self._prepare(request)
        acc = StreamAccumulator(on_delta)
        deadline = asyncio.timeout(self.timeouts.total)
        error: BackendError | None = None
        try:
            async with deadline:
                if request.stream:
                    await self._stream(url, headers, body, acc)
                else:
                    await self._once(url, headers, body, acc)
        except BackendError as exc:
            error = exc
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired():
                error = RequestTimeout(f"total timeout ({self.timeouts.total:g}s)")
            else:
                error = map_exception(exc, (self._api_key,))
                if error is None:
                    raise
        if error is not None:
            # Raised outside the except block so the new error does not chain to the
            # httpx exception, which holds the request with its headers (and the key).
            raise self._annotate(error, acc)
        return acc.result()

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()

    @staticmethod
    def _annotate(exc: BackendError, acc: StreamAccumulator) -> BackendError:
        if not exc.partial_text:
            exc.partial_text = acc.text
        if exc.ttft_ms is None:
            exc.ttft_ms = acc.ttft_ms
        return exc

    async def _check_status(self, response: httpx.Response) -> None:
        if response.status_code >= 300:
            body = await response.aread()
            raise error_for_status(response.status_code, response.headers, body, (self._api_key,))

    async def _stream(
        self, url: str, headers: dict[str, str], body: dict[str, Any], acc: StreamAccumulator
    ) -> None:
        async with self.client.stream("POST", url, headers=headers, json=body) as response:
            await self._check_status(response)
            decoder = SSEDecoder()
            finished = False
            chunks = response.aiter_bytes()
            async for chunk in chunks:
                for event in decoder.feed(chunk):
                    if self._on_event(event, acc):
                        finished = True
                        break
                if finished:
                    break
            decoder.flush()
            self._end_of_stream(acc, finished)
            if finished:
                await _drain(chunks)

    async def _once(self, url: str, headers: dict[str, str], body: dict[str, Any], acc: StreamAccumulator) -> None:
        response = await self.client.post(url, headers=headers, json=body)
        await self._check_status(response)
        try:
            obj = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            raise ServerError("malformed JSON response", status=response.status_code) from None
        self._parse_body(obj, acc)
        # The whole answer arrived at once: there is no first token to time.
        acc.ttft_ms = None


async def _drain(chunks: AsyncIterator[bytes]) -> None:
    """Read what follows a stream's terminator so the connection stays reusable.

    Bounded and silent: the answer is already complete, so a server that keeps the
    body open or drops the connection here must not turn it into a failure.
    """
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except Exception:
        pass
