"""HTTP plumbing shared by the real model backends.

* :class:`AiohttpPool` is what a run's backends send through: aiohttp's connection pool used
  directly, with no httpx objects made per request. httpx's client layers (request and URL
  objects, cookies, auth, redirects, header re-encoding) cost a run about twice aiohttp's own
  CPU per request, and with the model server on the same two cores that CPU is wall time
  (benchmarks/README.md, "Whole-process `tuieval run`"). It is used when aiohttp is installed
  and no proxy is set in the environment; otherwise :func:`make_client`'s httpx client is.
* :func:`make_client` builds an ``httpx.AsyncClient``, riding on aiohttp's pool through
  ``httpx_aiohttp.AiohttpTransport`` (httpx's own pool costs several times aiohttp's CPU per
  request at high concurrency, encode/httpx#3215), or httpx's own transport if that package
  is missing. A backend takes either; both are read through the same few response methods
  (``status_code``, ``headers``, ``aread``, ``aiter_bytes``, ``aclose``).
* :class:`HTTPChatBackend` is the request/stream/timeout skeleton that
  ``openai.py`` and ``anthropic.py`` fill in with their wire formats. What a status or an
  exception means comes from the one table in :mod:`tuieval.backends.classify`.

Timing: a sample's latency ends at the answer's last byte — the terminal event
(``[DONE]``, ``message_stop``) or the end of the body. What follows (the chunked body's
end, a server or proxy that closes slowly) is read by a background task so the connection
can go back to the pool; it is neither timed nor able to fail the sample.

A streamed request may be answered by a whole JSON body (LiteLLM's Anthropic endpoint does):
the body is read by its content type — a JSON answer is an answer (no TTFT), a JSON error
is that error, anything that is neither an event stream nor JSON is one clear error.

When the total timeout fires, what arrived (text, TTFT, token counts) is kept on the
RequestTimeout, as for a read timeout. No function here ever puts a request header (and
so an API key) into a reason.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

from tuieval import json_text
from tuieval.backends.base import (
    USER_AGENT,
    BackendError,
    ChatRequest,
    ChatResult,
    DeltaCallback,
    RateLimitInfo,
    RequestTimeout,
    ServerError,
    Timeouts,
    TransportError,
)
from tuieval.backends.deadlines import Deadlines
from tuieval.backends.classify import STREAM_ENDED, error_for_status, map_exception, parse_rate_limit
from tuieval.backends.sse import SSEDecoder, SSEEvent

if TYPE_CHECKING:  # httpx is imported only where its client is used (the import costs a run's start)
    import httpx

__all__ = ["make_client", "make_pool", "AiohttpPool", "StreamAccumulator", "HTTPChatBackend", "as_int",
           "DRAIN_SECONDS"]

#: After a stream's terminator, how long a background task keeps reading so the connection
#: can go back to the pool (the chunked-body end usually follows within microseconds).
#: Off the sample's clock: nothing here is timed.
DRAIN_SECONDS = 1.0
#: How long a finished request waits for its drain before leaving it to the background
#: (the chunked-body end usually follows within microseconds). Not timed, cannot fail.
DRAIN_GRACE_S = 0.1
#: json.dumps(body, ensure_ascii=False, separators=(",", ":")) with its C encoder made once, not
#: once per request (tuieval.json_text: the same arguments, so the same bytes)
_encode_body = json_text.encoder(ensure_ascii=False, separators=(",", ":"))


def make_client(timeouts: Timeouts, max_connections: int = 100, *, use_aiohttp: bool = True) -> "httpx.AsyncClient":
    """The shared client: aiohttp's pool behind the httpx API, keep-alive on.

    ``timeouts.connect`` bounds the TCP/TLS connect, ``timeouts.read`` each gap between
    received bytes (so a slow stream is fine while tokens keep arriving). Waiting for a
    free pooled connection is not bounded here: the engine's concurrency limit already
    is, and ``timeouts.total`` (enforced by the backends) bounds the whole attempt.
    ``use_aiohttp=False`` forces httpx's own transport (the fallback; tests use it).
    """
    import httpx

    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    timeout = httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=None)
    transport = None
    if use_aiohttp:
        try:
            from httpx_aiohttp import AiohttpTransport
        except ImportError:  # pragma: no cover - the package is a declared dependency
            pass
        else:
            # aiohttp's default contexts serve a TLS proxy on this path: give them their CA
            # bundle now (tuieval.backends.aiohttp_import deferred it)
            from tuieval.backends.aiohttp_import import load_deferred_verify_paths

            load_deferred_verify_paths()
            transport = AiohttpTransport(limits=limits)
    return httpx.AsyncClient(
        transport=transport,
        limits=limits,
        timeout=timeout,
        headers={"user-agent": USER_AGENT},
        follow_redirects=False,
    )


#: Environment variables that route requests through a proxy: aiohttp used directly would
#: ignore them, so with any of them set the backends go through httpx (which honours them).
_PROXY_VARIABLES = frozenset({"http_proxy", "https_proxy", "all_proxy"})


def _proxy_configured() -> bool:
    return any(value and name.lower() in _PROXY_VARIABLES for name, value in os.environ.items())


def make_pool(timeouts: Timeouts, max_connections: int = 100) -> "AiohttpPool | httpx.AsyncClient":
    """What a run's backends send through: an :class:`AiohttpPool`, or :func:`make_client`'s httpx
    client when aiohttp is missing or a proxy is configured."""
    if not _proxy_configured():
        try:
            import aiohttp  # noqa: F401
        except ImportError:  # pragma: no cover - aiohttp comes with httpx-aiohttp, a dependency
            pass
        else:
            return AiohttpPool(timeouts, max_connections)
    return make_client(timeouts, max_connections)


class _AiohttpReply:
    """An aiohttp response read through the names httpx's Response has (so one code path reads both)."""

    __slots__ = ("_response", "_body", "status_code", "headers")

    def __init__(self, response: Any) -> None:
        self._response = response
        self._body: bytes | None = None
        self.status_code: int = response.status
        self.headers = response.headers  # case-insensitive, as httpx's

    async def aread(self) -> bytes:
        # kept here: aiohttp refuses a second read once the connection is released
        if self._body is None:
            self._body = await self._response.read()
        return self._body

    def aiter_bytes(self) -> AsyncIterator[bytes]:
        return self._response.content.iter_any()

    def at_eof(self) -> bool:
        """The whole body has arrived (usually so right after a stream's terminal event: the
        chunked body's end comes in the same read), so no background drain is needed."""
        return self._response.content.at_eof()

    async def aclose(self) -> None:
        # Back to the pool when the body was read to its end, else the connection is closed.
        self._response.release()


class AiohttpPool:
    """aiohttp's ClientSession behind the few calls a backend makes (see the module docstring).

    The same timeouts as :func:`make_client`: ``connect`` bounds the TCP/TLS connect, ``read``
    each gap between received bytes (only when shorter than ``total``, which bounds them all);
    waiting for a pooled connection is unbounded (the engine's
    limit bounds it, ``timeouts.total`` the attempt). The session is made on first use, inside
    the running loop, as aiohttp requires. TLS verification uses certifi's bundle, or
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set, as httpx does.
    """

    def __init__(self, timeouts: Timeouts, max_connections: int = 100) -> None:
        import aiohttp

        self.max_connections = max_connections
        # A read timeout as long as the attempt's total (the default) cannot fire first: the
        # backend's total deadline (HTTPChatBackend.complete) starts before the request and
        # covers every read. aiohttp would otherwise re-arm a read timer on every received chunk.
        self.read_timer = timeouts.read if timeouts.read < timeouts.total else None
        self._timeout = aiohttp.ClientTimeout(total=None, connect=None, sock_connect=timeouts.connect,
                                              sock_read=self.read_timer)
        self._session: Any = None
        self._ssl: Any = None
        self.is_closed = False

    def _session_now(self) -> Any:
        if self._session is None:
            import aiohttp

            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self.max_connections),
                headers={"user-agent": USER_AGENT})
        return self._session

    def _ssl_context(self) -> Any:
        if self._ssl is None:  # made for the first https request: a loopback run never pays for it
            import ssl

            if os.environ.get("SSL_CERT_FILE"):
                self._ssl = ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])
            elif os.environ.get("SSL_CERT_DIR"):
                self._ssl = ssl.create_default_context(capath=os.environ["SSL_CERT_DIR"])
            else:
                import certifi

                self._ssl = ssl.create_default_context(cafile=certifi.where())
        return self._ssl

    async def post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> _AiohttpReply:
        """POST ``body`` as JSON (encoded as httpx encodes it); the response's status and headers
        have arrived, the body is read through the reply."""
        data = _encode_body(body).encode("utf-8")
        kwargs: dict[str, Any] = {}
        if url.startswith("https:"):
            kwargs["ssl"] = self._ssl_context()
        response = await self._session_now().post(url, data=data, headers=headers, timeout=self._timeout,
                                                  allow_redirects=False, **kwargs)
        return _AiohttpReply(response)

    async def aclose(self) -> None:
        self.is_closed = True
        if self._session is not None:
            await self._session.close()


# --------------------------------------------------------------------------- backends


class StreamAccumulator:
    """One attempt's answer, reasoning, usage and timing, filled as a stream is parsed.

    Made once per request: only what every request sets is set in ``__init__``; the rest starts
    as the class's value (None, or an empty tuple of reasoning parts until the first one)."""

    #: When the answer's last byte arrived (set by :meth:`mark_end`).
    end: float | None = None
    #: The response had begun (a status line arrived): a lost connection now cuts the body.
    responded = False
    rate_limit: RateLimitInfo | None = None
    #: The background task reading what follows the terminal event, if any.
    drain: asyncio.Task[None] | None = None
    reasoning_parts: list[str] | tuple[()] = ()
    finish_reason: str | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    ttft_ms: float | None = None

    def __init__(self, on_delta: DeltaCallback | None = None) -> None:
        self.start = time.perf_counter()
        self.on_delta = on_delta
        self.text_parts: list[str] = []

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
        if not self.reasoning_parts:
            self.reasoning_parts = []
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

    def mark_end(self) -> None:
        """The answer is complete: its latency ends now, whatever the connection does next."""
        if self.end is None:
            self.end = time.perf_counter()

    def elapsed_ms(self) -> float:
        return ((self.end if self.end is not None else time.perf_counter()) - self.start) * 1000.0

    def result(self) -> ChatResult:
        return ChatResult(
            text=self.text,
            reasoning="".join(self.reasoning_parts),
            finish_reason=self.finish_reason,
            output_tokens=self.output_tokens,
            input_tokens=self.input_tokens,
            cached_tokens=self.cached_tokens,
            cache_write_tokens=self.cache_write_tokens,
            cache_write_1h_tokens=self.cache_write_1h_tokens,
            ttft_ms=self.ttft_ms,
            latency_ms=self.elapsed_ms(),
            rate_limit=self.rate_limit,
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
        client: "AiohttpPool | httpx.AsyncClient | None" = None,
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
        self.client = client if client is not None else make_pool(self.timeouts)
        # Background readers of what follows a finished stream (see the module docstring).
        self._drains: set[asyncio.Task[None]] = set()
        self._deadlines = Deadlines()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(spec={self.spec!r}, base_url={self.base_url!r})"

    # -- hooks ---------------------------------------------------------------

    def _prepare(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        """URL, headers and JSON body for one request."""
        raise NotImplementedError

    def _on_event(self, event: SSEEvent, acc: StreamAccumulator) -> bool:
        """Apply one SSE event; return True when it ends the stream; raise on an error event."""
        raise NotImplementedError

    #: Optional: ``_on_data(data, acc) -> bool``, the same as :meth:`_on_event` for an event of
    #: type ``message`` given by its data alone (the event id is never read). A backend that has
    #: it is handed the common reads' events that way (SSEDecoder.feed_data).
    _on_data: Callable[[str, StreamAccumulator], bool] | None = None

    def _end_of_stream(self, acc: StreamAccumulator, finished: bool) -> None:
        """Called when the body ends; raise if the stream was incomplete."""
        if not finished:
            raise TransportError(STREAM_ENDED)

    def _parse_body(self, obj: Any, acc: StreamAccumulator) -> None:
        """Fill ``acc`` from a non-streaming JSON response."""
        raise NotImplementedError

    def request_identity(self, request: ChatRequest) -> tuple[str, dict[str, Any]]:
        """The URL and JSON body this request would be sent with (not the headers: they hold the
        key). The response cache keys on them (tuieval.engine.caching)."""
        url, _headers, body = self._prepare(request)
        return url, body

    def auth_headers(self) -> dict[str, str]:
        """The headers that authenticate this backend (for the batch API's own requests)."""
        _, headers, _ = self._prepare(ChatRequest(messages=[]))
        return {k: v for k, v in headers.items() if k.lower() not in ("content-type", "accept")}

    # -- driver --------------------------------------------------------------

    #: This backend enforces Timeouts.total itself (the engine adds no clock of its own).
    enforces_total_timeout = True

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        url, headers, body = self._prepare(request)
        acc = StreamAccumulator(on_delta)
        secrets = (self._api_key,)
        error: BackendError | None = None
        # The attempt's total timeout, with asyncio.timeout's rules (tuieval.backends.deadlines).
        clock = self._deadlines.start(self.timeouts.total)
        timed_out = False
        try:
            try:
                if request.stream:
                    await self._stream(url, headers, body, acc)
                else:
                    await self._once(url, headers, body, acc)
            finally:
                timed_out = self._deadlines.finish(clock)
        except asyncio.CancelledError:
            if not timed_out:
                raise  # cancelled from outside (the run stopped): not a timeout
            error = RequestTimeout(f"total timeout ({self.timeouts.total:g}s)")
            error.latency_ms = self.timeouts.total * 1000.0
        except BackendError as exc:
            error = exc
        except Exception as exc:
            error = map_exception(exc, secrets, responded=acc.responded)
            if error is None:
                raise
            if error.kind == "timeout" and error.reason == "read timeout":
                error.reason = f"read timeout (no byte for {self.timeouts.read:g}s)"
                error.args = (error.reason,)
            elif error.reason.startswith("connect timeout"):
                error.reason = f"connect timeout ({self.timeouts.connect:g}s)"
                error.args = (error.reason,)
        if error is not None:
            # Raised outside the except block so the new error does not chain to the
            # httpx exception, which holds the request with its headers (and the key).
            raise self._annotate(error, acc)
        result = acc.result()  # timed: the latency ended at the answer's last byte
        drain = acc.drain
        if drain is not None and not drain.done():
            # Give the body's end a moment to arrive so the next request reuses this
            # connection; a server that closes slowly is left to the background task.
            await asyncio.wait({drain}, timeout=DRAIN_GRACE_S)
        return result

    async def aclose(self) -> None:
        drains, self._drains = list(self._drains), set()
        for task in drains:
            task.cancel()
        if drains:
            await asyncio.gather(*drains, return_exceptions=True)
        if self._owns_client:
            await self.client.aclose()

    @staticmethod
    def _annotate(exc: BackendError, acc: StreamAccumulator) -> BackendError:
        """Keep on the error what arrived before it: text, TTFT, token counts, rate limits."""
        if not exc.partial_text:
            exc.partial_text = acc.text
        if exc.ttft_ms is None:
            exc.ttft_ms = acc.ttft_ms
        if exc.output_tokens is None:
            exc.output_tokens = acc.output_tokens
        if exc.input_tokens is None:
            exc.input_tokens = acc.input_tokens
            exc.cached_tokens, exc.cache_write_tokens = acc.cached_tokens, acc.cache_write_tokens
            exc.cache_write_1h_tokens = acc.cache_write_1h_tokens
        if exc.kind == "timeout" and exc.latency_ms is None:
            exc.latency_ms = acc.elapsed_ms()
        if exc.rate_limit is None:
            exc.rate_limit = acc.rate_limit
        return exc

    async def _send(self, url: str, headers: dict[str, str], body: dict[str, Any], stream: bool) -> Any:
        """The response to one POST, its status and headers in, its body still to read."""
        client = self.client
        if isinstance(client, AiohttpPool):
            return await client.post(url, headers, body)
        return await client.send(client.build_request("POST", url, headers=headers, json=body), stream=True)

    async def _check_status(self, response: Any, acc: StreamAccumulator) -> None:
        acc.responded = True
        acc.rate_limit = parse_rate_limit(response.headers)
        if response.status_code >= 300:
            body = await response.aread()
            raise error_for_status(response.status_code, response.headers, body, (self._api_key,))

    def _json_answer(self, raw: bytes, acc: StreamAccumulator, status: int) -> None:
        """A whole JSON body: an answer, or the error it states."""
        try:
            obj = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise ServerError("malformed JSON response", status=status, kind="bad_response") from None
        self._parse_body(obj, acc)
        # The whole answer arrived at once: there is no first token to time.
        acc.ttft_ms = None

    async def _stream(
        self, url: str, headers: dict[str, str], body: dict[str, Any], acc: StreamAccumulator
    ) -> None:
        response = await self._send(url, headers, body, True)
        handed_off = False
        try:
            await self._check_status(response, acc)
            ctype = _content_type(response)
            if ctype.endswith("json"):
                raw = await response.aread()
                acc.mark_end()
                self._json_answer(raw, acc, response.status_code)
                return
            decoder = SSEDecoder()
            finished = False
            seen_event = False
            chunks = response.aiter_bytes()
            on_data = self._on_data
            feed_data = decoder.feed_data if on_data is not None else _no_fast_read
            async for chunk in chunks:
                # Nearly every read is whole `data:` events: their data strings go straight to
                # the backend (no SSEEvent each); any other read goes through the line rules.
                payloads = feed_data(chunk)
                if payloads is not None:
                    for data in payloads:
                        seen_event = True
                        if on_data(data, acc):
                            finished = True
                            break
                else:
                    for event in decoder.feed(chunk):
                        seen_event = True
                        if self._on_event(event, acc):
                            finished = True
                            break
                if finished:
                    break
            acc.mark_end()
            decoder.flush()
            if not finished and not seen_event and ctype != "text/event-stream":
                # Neither an event stream nor JSON: say what it was, not "stream cut".
                shown = ctype or "no content-type"
                raise ServerError(f"expected an event stream, got {shown} (HTTP {response.status_code})",
                                  status=response.status_code, kind="bad_response")
            self._end_of_stream(acc, finished)
            if finished and not getattr(response, "at_eof", _never)():
                acc.drain = self._spawn_drain(response, chunks)
                handed_off = True
        finally:
            if not handed_off:
                await response.aclose()

    def _spawn_drain(self, response: Any, chunks: AsyncIterator[bytes]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(_drain(response, chunks))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)
        return task

    async def _once(self, url: str, headers: dict[str, str], body: dict[str, Any], acc: StreamAccumulator) -> None:
        response = await self._send(url, headers, body, False)
        try:
            raw = await response.aread()
            acc.mark_end()
        finally:
            await response.aclose()
        await self._check_status(response, acc)
        ctype = _content_type(response)
        if ctype and not ctype.endswith("json"):
            raise ServerError(f"expected JSON, got {ctype} (HTTP {response.status_code})",
                              status=response.status_code, kind="bad_response")
        self._json_answer(raw, acc, response.status_code)


def _never() -> bool:
    return False


def _no_fast_read(data: bytes) -> None:
    return None


def _content_type(response: Any) -> str:
    """``application/json``, ``text/event-stream``, ... (lower case, no parameters)."""
    return response.headers.get("content-type", "").split(";")[0].strip().lower()


async def _drain(response: Any, chunks: AsyncIterator[bytes]) -> None:
    """Read what follows a stream's terminator so the connection stays reusable.

    Bounded and silent: the answer is already complete and stored, so a server that keeps
    the body open or drops the connection here changes nothing but whether the connection
    is reused.
    """
    try:
        async with asyncio.timeout(DRAIN_SECONDS):
            async for _ in chunks:
                pass
    except Exception:
        pass
    finally:
        try:
            await response.aclose()
        except Exception:
            pass
