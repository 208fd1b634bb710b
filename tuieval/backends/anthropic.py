"""Anthropic Messages backend (``POST {base_url}/v1/messages``).

Stream events: ``message_start`` (input tokens; its provisional output count is
ignored), ``content_block_start``/``_delta``/``_stop`` (``text_delta`` is answer,
``thinking_delta`` is reasoning), ``message_delta`` (stop reason and the output
token count: the last one stated wins), ``ping``, ``message_stop`` (the end).

``event: error`` can arrive in the middle of an HTTP 200 stream. Its type is read as
the status it stands for, through the failure table of tuieval.backends.classify:
overload and API errors are retried, a rate-limit error backs off, an authentication or
not-found error stops the run, any other means the request itself is wrong (not retried).
A body that ends before ``message_stop`` was cut: TransportError.

:func:`build_request` and :func:`parse_body` are the wire format; the synchronous judge
(tuieval.backends.judge) uses them too.
"""

from __future__ import annotations

import json
from typing import Any

from tuieval.backends.base import BackendError, ChatRequest, ServerError, TransportError
from tuieval.backends.classify import error_for_provider_type
from tuieval.backends.http import HTTPChatBackend, StreamAccumulator, as_int
from tuieval.backends.classify import STREAM_ENDED
from tuieval.backends.sse import SSEEvent

__all__ = ["AnthropicBackend", "ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "build_request", "parse_body"]

ANTHROPIC_VERSION = "2023-06-01"
#: The API requires max_tokens; used when the request leaves it unset.
DEFAULT_MAX_TOKENS = 1024
DEFAULT_BASE_URL = "https://api.anthropic.com"



def build_request(model: str, base_url: str, api_key: str | None,
                  request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and JSON body of one Messages request (system messages go to ``system``)."""
    system = [m["content"] for m in request.messages if m.get("role") == "system"]
    messages = [{"role": m["role"], "content": m["content"]} for m in request.messages if m.get("role") != "system"]
    body: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens if request.max_tokens is not None else DEFAULT_MAX_TOKENS,
        "messages": messages,
        "temperature": request.temperature,
        "stream": request.stream,
    }
    if system:
        body["system"] = "\n\n".join(system)
    # The Messages API has no seed parameter and rejects unknown fields.
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if request.stream else "application/json",
        "anthropic-version": ANTHROPIC_VERSION,
    }
    if api_key:
        headers["x-api-key"] = api_key
    return f"{base_url}/v1/messages", headers, body


def error_from_payload(payload: Any, where: str, secrets: tuple[str | None, ...] = ()) -> BackendError:
    """The BackendError an Anthropic ``{"type": "error", "error": {...}}`` object states."""
    err = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(err, dict):
        err = {}
    return error_for_provider_type(str(err.get("type") or "error"), str(err.get("message") or ""), where, secrets)


def parse_body(obj: Any, acc: StreamAccumulator, secrets: tuple[str | None, ...] = ()) -> None:
    """Fill ``acc`` from a whole (non-streamed) Messages response, or raise its error."""
    if not isinstance(obj, dict):
        raise ServerError("malformed response (not an object)", kind="bad_response")
    if obj.get("type") == "error":
        raise error_from_payload(obj, "in response", secrets)
    for block in obj.get("content") or ():
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text":
            acc.answer(block.get("text") or "")
        elif block.get("type") == "thinking":
            acc.reason(block.get("thinking") or "")
    acc.finish_reason = obj.get("stop_reason")
    take_usage(obj.get("usage"), acc)


def take_usage(usage: Any, acc: StreamAccumulator, *, output: bool = True) -> None:
    """Token counts from a Messages usage object (whole, message_start, message_delta, or a batch
    result). Anthropic's ``input_tokens`` leaves out the prompt tokens read from its cache
    (``cache_read_input_tokens``) and those written to it (``cache_creation_input_tokens``); they
    are added back so that input_tokens is the whole prompt, as OpenAI counts it, with the two
    parts kept beside it to be priced at their own rates. The writes are split by lifetime in
    ``cache_creation`` (``ephemeral_5m_input_tokens``, ``ephemeral_1h_input_tokens``): the one-hour
    part is kept as ``cache_write_1h_tokens`` (of ``cache_write_tokens``). A count an object leaves
    out keeps the value an earlier event gave."""
    if not isinstance(usage, dict):
        return
    if output:
        out = as_int(usage.get("output_tokens"))
        if out is not None:
            acc.output_tokens = out
    read = as_int(usage.get("cache_read_input_tokens"))
    if read is not None:
        acc.cached_tokens = read
    write = as_int(usage.get("cache_creation_input_tokens"))
    # the writes by lifetime: a one-hour write is priced higher than a five-minute one
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        five, hour = as_int(split.get("ephemeral_5m_input_tokens")), as_int(split.get("ephemeral_1h_input_tokens"))
        if hour is not None:
            acc.cache_write_1h_tokens = hour
        if write is None and (five is not None or hour is not None):
            write = (five or 0) + (hour or 0)
    if write is not None:
        acc.cache_write_tokens = write
    uncached = as_int(usage.get("input_tokens"))
    if uncached is not None:
        acc.input_tokens = uncached + (acc.cached_tokens or 0) + (acc.cache_write_tokens or 0)


class AnthropicBackend(HTTPChatBackend):
    """``base_url`` is the host without the version, e.g. ``https://api.anthropic.com``."""

    def __init__(self, spec: str, model: str, base_url: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(spec, model, base_url or DEFAULT_BASE_URL, *args, **kwargs)

    def _prepare(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        return build_request(self.model, self.base_url, self._api_key, request)

    def _on_event(self, event: SSEEvent, acc: StreamAccumulator) -> bool:
        try:
            obj = json.loads(event.data)
        except ValueError:
            raise ServerError("malformed stream chunk (invalid JSON)", kind="bad_response") from None
        if not isinstance(obj, dict):
            raise ServerError("malformed stream chunk (not an object)", kind="bad_response")
        kind = event.event if event.event != "message" else obj.get("type")
        if kind == "content_block_delta":
            delta = obj.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                acc.answer(delta.get("text") or "")
            elif dtype == "thinking_delta":
                acc.reason(delta.get("thinking") or "")
        elif kind == "content_block_start":
            block = obj.get("content_block") or {}
            if block.get("type") == "text":
                acc.answer(block.get("text") or "")
            elif block.get("type") == "thinking":
                acc.reason(block.get("thinking") or "")
        elif kind == "message_delta":
            take_usage(obj.get("usage"), acc)
            stop = (obj.get("delta") or {}).get("stop_reason")
            if stop:
                acc.finish_reason = stop
        elif kind == "message_start":
            # its output_tokens is a placeholder (1); message_delta brings the count
            take_usage((obj.get("message") or {}).get("usage"), acc, output=False)
        elif kind == "message_stop":
            return True
        elif kind == "error":
            raise error_from_payload(obj, "in stream", (self._api_key,))
        return False

    def _end_of_stream(self, acc: StreamAccumulator, finished: bool) -> None:
        if not finished:
            raise TransportError(STREAM_ENDED)

    def _parse_body(self, obj: Any, acc: StreamAccumulator) -> None:
        parse_body(obj, acc, (self._api_key,))
