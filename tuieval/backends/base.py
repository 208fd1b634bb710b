"""The ModelBackend protocol and the request/result/error types every backend shares.

Backends never import Textual or Rich; the engine drives them and turns their
results into stored samples.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, runtime_checkable

#: The User-Agent of every request tuieval sends (async and sync clients alike).
USER_AGENT = "tuieval/0.1"

#: Called with each piece of answer text as it arrives (never with reasoning text).
DeltaCallback = Callable[[str], None]


@dataclass
class ChatRequest:
    """One chat completion to perform."""

    messages: list[dict[str, str]]
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int | None = None
    stream: bool = True
    #: Only the simulated demo backend reads this (target, metadata, vars, ids):
    #: real backends must ignore it and never send it anywhere.
    hint: dict[str, Any] = field(default_factory=dict)


@dataclass
class ChatResult:
    """What one successful request produced."""

    text: str
    reasoning: str = ""
    finish_reason: str | None = None
    output_tokens: int | None = None
    input_tokens: int | None = None
    ttft_ms: float | None = None
    latency_ms: float = 0.0
    #: Of input_tokens (always the whole prompt), those the provider read from its prompt cache
    #: (priced at the cached-input rate) and those it wrote to it (Anthropic's cache writes).
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    #: Of cache_write_tokens, those written with Anthropic's one-hour lifetime (priced higher).
    cache_write_1h_tokens: int | None = None
    #: What the server's rate-limit headers said on this response, if it sent any.
    rate_limit: RateLimitInfo | None = None
    #: Answered from the response cache (tuieval run --cache), not by the server just now.
    cached: bool = False


@dataclass(frozen=True)
class RateLimitInfo:
    """A provider's rate-limit headers (``x-ratelimit-*``, ``anthropic-ratelimit-*``), parsed.

    ``None`` means the header was absent. Reset values are seconds from when the response
    arrived until that budget is full again.
    """

    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    #: The budget's size (``x-ratelimit-limit-requests``): with it, a spent budget's next
    #: request is due after reset / limit, not after the whole reset.
    limit_requests: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None


#: What the engine does about a failure (see tuieval.backends.classify for the table).
RETRY, BACK_OFF, FAIL, STOP = "retry", "back_off", "fail", "stop"


class BackendError(Exception):
    """A request that failed. `reason` is short, human-readable and never holds a key.

    `kind` is a stable word a query can group by (rate_limited, server_error, timeout,
    stream_cut, connect, ...); `retryable` tells the engine whether another attempt may
    succeed; `fatal` that every request of the run would fail the same way (stop the run);
    `unreachable` that nothing answered at all (connection refused, host unknown);
    `retry_after` (seconds) is the server's Retry-After when it sent one. What arrived
    before the failure (text, TTFT, token counts) is kept on the error.
    """

    kind = "error"

    def __init__(
        self,
        reason: str,
        *,
        retryable: bool = False,
        retry_after: float | None = None,
        status: int | None = None,
        partial_text: str = "",
        ttft_ms: float | None = None,
        kind: str | None = None,
        fatal: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.partial_text = partial_text
        self.ttft_ms = ttft_ms
        if kind is not None:
            self.kind = kind
        self.fatal = fatal
        self.unreachable = unreachable
        self.output_tokens: int | None = None
        self.input_tokens: int | None = None
        self.cached_tokens: int | None = None
        self.cache_write_tokens: int | None = None
        self.cache_write_1h_tokens: int | None = None
        #: Set on timeouts: when the attempt was given up (a right-censored latency).
        self.latency_ms: float | None = None
        self.rate_limit: RateLimitInfo | None = None

    @property
    def action(self) -> str:
        """stop (the run), back_off (retry after a wait, lower concurrency), retry, or fail."""
        if self.fatal:
            return STOP
        if not self.retryable:
            return FAIL
        return BACK_OFF if self.kind == "rate_limited" else RETRY


class RateLimited(BackendError):
    """HTTP 429: back off (honouring Retry-After) and lower concurrency."""

    kind = "rate_limited"

    def __init__(self, reason: str = "rate limited (429)", **kw: Any) -> None:
        kw.setdefault("retryable", True)
        kw.setdefault("status", 429)
        super().__init__(reason, **kw)


class ServerError(BackendError):
    """HTTP 5xx, or an error event inside a stream (e.g. overloaded): retry with back-off."""

    kind = "server_error"

    def __init__(self, reason: str, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(reason, **kw)


class TransportError(BackendError):
    """Connection refused/reset (kind connect/disconnected), or a stream cut before it
    finished (stream_cut): retry with back-off."""

    kind = "stream_cut"

    def __init__(self, reason: str, **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(reason, **kw)


class RequestTimeout(BackendError):
    """Connect, read or total timeout: retryable, and censored for latency statistics."""

    kind = "timeout"

    def __init__(self, reason: str = "timeout", **kw: Any) -> None:
        kw.setdefault("retryable", True)
        super().__init__(reason, **kw)


class ClientError(BackendError):
    """HTTP 4xx that another attempt will not fix (bad key, unknown model, bad request): not retried."""

    kind = "client_error"


@dataclass
class Timeouts:
    """Seconds, each honoured exactly: ``connect`` the TCP/TLS connect, ``read`` the longest
    silent gap between received bytes, ``total`` one attempt from request start to the
    answer's last byte (``--connect-timeout``, ``--read-timeout``, ``--timeout``)."""

    connect: float = 10.0
    read: float = 60.0
    total: float = 300.0


@runtime_checkable
class ModelBackend(Protocol):
    """Something that answers chat requests. One instance serves a whole run."""

    #: The model spec as the user wrote it, e.g. "openai/gpt-4o-mini".
    spec: str
    #: True for the built-in demo models, which are simulators and labelled so.
    simulated: bool

    async def complete(self, request: ChatRequest, on_delta: DeltaCallback | None = None) -> ChatResult:
        """Perform one request; raise a BackendError subclass on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
