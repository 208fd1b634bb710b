"""OpenAI Chat Completions backend, for api.openai.com and every compatible server.

Ollama, vLLM, llama.cpp, SGLang, LM Studio, OpenRouter, Groq, Together, DeepSeek
and NIM all speak this dialect with small variations, which the parser tolerates:

* only choice index 0 is read (``n > 1`` interleaves choices in one stream);
* ``delta.content`` is the answer; ``reasoning_content`` (DeepSeek, llama.cpp, vLLM)
  or ``reasoning`` (OpenRouter, Ollama) go to ``ChatResult.reasoning``; ``refusal``
  is neither;
* usage may come on the finish chunk, on a trailing ``choices: []`` chunk, or twice:
  the last stated count wins;
* an ``error`` object inside a data chunk or a 2xx body (OpenRouter does this with HTTP
  200) fails the request as its ``code`` says when that is an HTTP status (the failure
  table of tuieval.backends.classify), else as a retryable ServerError;
* a data line that is not JSON is treated the same way: the stream is corrupt, and
  another attempt may well succeed;
* ``[DONE]`` ends the stream. A body that ends without it is accepted only if a
  ``finish_reason`` was seen; otherwise it was cut, which is a TransportError.

:func:`build_request` and :func:`parse_body` are the wire format; the synchronous judge
(tuieval.backends.judge) uses them too.
"""

from __future__ import annotations

import json
import json.scanner
from typing import Any

from tuieval.backends.base import STOP, BackendError, ChatRequest, ServerError, TransportError
from tuieval.backends.classify import classified_error, error_message, redact, status_rule
from tuieval.backends.http import HTTPChatBackend, StreamAccumulator, as_int
from tuieval.backends.classify import STREAM_ENDED
from tuieval.backends.sse import SSEEvent

#: json.loads without its per-call wrapper (the same decoder json.loads uses for a str)
_decode_json = json.JSONDecoder().decode
#: That decoder's scanner: one JSON value from an index, without decode's two whitespace matches
_scan_json = json.scanner.make_scanner(json.JSONDecoder())
#: What _decode_chunk gives for a "[DONE]" that only its surrounding spaces kept from matching
_DONE: dict[str, Any] = {}


def _decode_chunk(data: str) -> Any:
    """A stream chunk's JSON as ``json.loads(data)`` gives it (the same values, the same errors as a
    ServerError), or _DONE for ``[DONE]`` with whitespace around it. The common chunk (a value
    from the first character to the last) is read by the scanner alone; anything else (leading or
    trailing whitespace, trailing garbage) goes through the whole decoder."""
    try:
        value, end = _scan_json(data, 0)
    except (StopIteration, ValueError):
        end = -1
    if end == len(data):
        return value
    try:
        return _decode_json(data)
    except ValueError:
        if data.strip() == "[DONE]":  # not JSON, so only checked once JSON has failed
            return _DONE
        raise ServerError("malformed stream chunk (invalid JSON)", kind="bad_response") from None

__all__ = ["OpenAIBackend", "build_request", "parse_body", "content_text"]


def content_text(value: Any) -> str:
    """Content as a string; some servers send a list of ``{"type": "text"}`` parts."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(p.get("text", "") for p in value if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def _error_reason(err: Any, secrets: tuple[str | None, ...], where: str = "in stream") -> str:
    if isinstance(err, dict):
        msg = err.get("message") or err.get("type") or "error"
        code = err.get("code")
        text = f"{msg} (code {code})" if code is not None else str(msg)
    else:
        text = str(err)
    return redact(f"error {where}: {text}", secrets)[:200]


def _body_error(err: Any, secrets: tuple[str | None, ...], where: str) -> BackendError:
    """An error object in a 2xx body or chunk: a retryable server error, unless its ``code``
    or message says the key or the model is wrong (then the run stops, as for 401/404)."""
    code = err.get("code") if isinstance(err, dict) else None
    status = code if isinstance(code, int) and not isinstance(code, bool) and 400 <= code < 600 else 500
    message = error_message({"error": err})
    reason = _error_reason(err, secrets, where)
    if status_rule(status, message).action == STOP:
        return classified_error(status, message, reason)
    # Upstream failures relayed inside a 200 (OpenRouter: "Token limit reached", code 400)
    # are transient as often as not: another attempt may well succeed.
    return ServerError(reason)


def build_request(model: str, base_url: str, api_key: str | None,
                  request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and JSON body of one Chat Completions request."""
    body: dict[str, Any] = {
        "model": model,
        "messages": request.messages,
        "temperature": request.temperature,
        "stream": request.stream,
    }
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if request.max_tokens is not None:
        body["max_tokens"] = request.max_tokens
    if request.seed is not None:
        body["seed"] = request.seed
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if request.stream else "application/json",
    }
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return f"{base_url}/chat/completions", headers, body


def parse_body(obj: Any, acc: StreamAccumulator, secrets: tuple[str | None, ...] = ()) -> None:
    """Fill ``acc`` from a whole (non-streamed) Chat Completions response, or raise its error."""
    if not isinstance(obj, dict):
        raise ServerError("malformed response (not an object)", kind="bad_response")
    if obj.get("error"):
        raise _body_error(obj["error"], secrets, "in response")
    choice = next(
        (c for c in obj.get("choices") or () if isinstance(c, dict) and c.get("index", 0) == 0),
        None,
    )
    if choice is None:
        raise ServerError("response has no choice 0", kind="bad_response")
    message = choice.get("message") or {}
    acc.answer(content_text(message.get("content")))
    reasoning = message.get("reasoning_content") or message.get("reasoning")
    if isinstance(reasoning, str):
        acc.reason(reasoning)
    acc.finish_reason = choice.get("finish_reason")
    take_usage(obj.get("usage"), acc)


def take_usage(usage: Any, acc: StreamAccumulator) -> None:
    """Token counts from a Chat Completions usage object (streamed or whole, or a batch output
    line): prompt_tokens is the whole prompt, of which ``prompt_tokens_details.cached_tokens``
    came from the provider's prompt cache (priced at the cached-input rate)."""
    acc.take_usage(usage, "completion_tokens", "prompt_tokens")
    details = usage.get("prompt_tokens_details") if isinstance(usage, dict) else None
    if isinstance(details, dict):
        cached = as_int(details.get("cached_tokens"))
        if cached is not None:
            acc.cached_tokens = cached


class OpenAIBackend(HTTPChatBackend):
    """``POST {base_url}/chat/completions``; ``base_url`` includes the version (``…/v1``)."""

    def _prepare(self, request: ChatRequest) -> tuple[str, dict[str, str], dict[str, Any]]:
        return build_request(self.model, self.base_url, self._api_key, request)

    def _on_event(self, event: SSEEvent, acc: StreamAccumulator) -> bool:
        return self._on_data(event.data, acc, event.event == "error")

    def _on_data(self, data: str, acc: StreamAccumulator, error_event: bool = False) -> bool:  # type: ignore[override]
        # Once per streamed token: the common chunk (one choice 0 with a text delta, no usage)
        # is read with as few lookups as the rules allow.
        if data == "[DONE]":
            return True
        chunk = _decode_chunk(data)
        if type(chunk) is not dict:  # json gives exactly dict for an object
            raise ServerError("malformed stream chunk (not an object)", kind="bad_response")
        if chunk is _DONE:  # " [DONE] ": whitespace kept it from the match above
            return True
        err = chunk.get("error")
        if err or error_event:
            raise _body_error(err or chunk, (self._api_key,), "in stream")
        usage = chunk.get("usage")
        if usage is not None:
            take_usage(usage, acc)
        for choice in chunk.get("choices") or ():
            if type(choice) is not dict or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta")
            if type(delta) is dict:
                content = delta.get("content")
                if content:
                    acc.answer(content if type(content) is str else content_text(content))
                # Servers that send both fields send the same text twice: take one.
                reasoning = delta.get("reasoning_content") or delta.get("reasoning")
                if reasoning and isinstance(reasoning, str):
                    acc.reason(reasoning)
            finish = choice.get("finish_reason")
            if finish:
                acc.finish_reason = finish
        return False

    def _end_of_stream(self, acc: StreamAccumulator, finished: bool) -> None:
        # Some servers close right after the finish chunk without [DONE]: the answer is whole.
        if not finished and acc.finish_reason is None:
            raise TransportError(STREAM_ENDED)

    def _parse_body(self, obj: Any, acc: StreamAccumulator) -> None:
        parse_body(obj, acc, (self._api_key,))
