"""An entailment judge over a chat model, for the `entailment` and `hybrid` clustering tiers.

``make_judge(spec)`` returns a callable ``judge(question, premise, hypothesis) → raw reply``
(the analysis's `Judge`, see tuieval.analysis.variance): it asks the model whether the
premise answer entails the hypothesis answer, given the question, and to reply with one
word — entailment, contradiction or neutral.  The analysis reads the first 30
characters of the reply (`parse_judge_reply`) and counts replies it cannot read.

* Synchronous, non-streaming, temperature 0: OpenAI Chat Completions
  (``POST {base}/chat/completions``) for openai / ollama / vllm / openai-compatible,
  Anthropic Messages (``POST {base}/v1/messages``) for anthropic.  Keys and base URLs as
  in tuieval.backends.registry; ``base_url`` overrides.  Demo models are refused.
* Requests are built and answers parsed by the chat backends' own wire functions
  (tuieval.backends.openai / .anthropic ``build_request`` and ``parse_body``), and retried
  like every synchronous call (tuieval.backends.sync_http: the one failure table and back-off).
* A leading ``<think>…</think>`` block (reasoning models that inline their thinking)
  is removed from the reply; a separate reasoning field is never read.
* Each answer is cut to ``max_chars`` characters inside the prompt.
* Given a response cache (``cache``, a tuieval.engine.caching.EntailmentCache: a run made with
  ``--cache``), a request already answered there is not sent again; with ``replay_only`` (a
  report under ``--cache-only``) one it does not hold is not sent at all: it is counted in
  ``missing_requests`` and answered with an empty reply (read as unparsed), so the caller can
  say what is missing.
* Usage: each answered request's tokens are counted as the server gave them (``input_tokens``,
  ``output_tokens``, ``cached_input_tokens``); a reply without counts has its prompt and reply
  estimated from their length (``estimated_input_tokens``, ``estimated_output_tokens``, about four
  characters a token). Given ``on_usage``, the judge hands it what was spent since the last
  hand-over when it is closed, so the cost section can price the clustering's judge calls.

The prompt puts the question and the two answers inside ``<question>``, ``<premise>``
and ``<hypothesis>`` tags, and both prompts contain :data:`JUDGE_MARKER` (the loopback
test server recognises judge requests by it).
"""

from __future__ import annotations

import re
from typing import Any, Callable

import httpx

from tuieval.backends import anthropic, openai
from tuieval.backends.base import ChatRequest, Timeouts
from tuieval.backends.http import StreamAccumulator
from tuieval.backends.registry import Endpoint, resolve_endpoint
from tuieval.backends.sync_http import PostingClient, SyncJSONPoster
from tuieval.cost.budget import tokens_from_text

__all__ = ["JUDGE_MARKER", "JUDGE_SYSTEM", "judge_messages", "ChatJudge", "make_judge"]

#: Present in the judge's system and user prompts.
JUDGE_MARKER = "entailment, contradiction or neutral"
#: Anthropic requires max_tokens; a one-word reply needs a handful.
ANTHROPIC_MAX_TOKENS = 16
DEFAULT_MAX_CHARS = 4000

JUDGE_SYSTEM = (
    "You compare two answers to the same question. Answer A entails answer B when, if A is true, "
    "B must also be true. They contradict when they cannot both be true. Otherwise the relation is "
    f"neutral. Reply with exactly one word: {JUDGE_MARKER}."
)

_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.S | re.I)


def judge_messages(question: str, premise: str, hypothesis: str, max_chars: int = DEFAULT_MAX_CHARS) -> list[dict]:
    """The chat messages of one judge call (system, then user)."""
    user = (
        f"<question>\n{question[:max_chars]}\n</question>\n\n"
        f"Answer A:\n<premise>\n{premise[:max_chars]}\n</premise>\n\n"
        f"Answer B:\n<hypothesis>\n{hypothesis[:max_chars]}\n</hypothesis>\n\n"
        "As answers to this question, does answer A entail answer B? "
        f"Reply with one word: {JUDGE_MARKER}."
    )
    return [{"role": "system", "content": JUDGE_SYSTEM}, {"role": "user", "content": user}]


class ChatJudge(PostingClient):
    """``judge(question, premise, hypothesis) → reply``; see the module docstring.

    Counters: ``calls`` (judge invocations), ``requests`` (HTTP requests, retries
    included), ``retries``.  Use as a context manager or call :meth:`close`.
    """

    def __init__(self, spec: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 timeouts: Timeouts | None = None, max_retries: int = 4, backoff_base_s: float = 0.5,
                 backoff_cap_s: float = 8.0, max_chars: int = DEFAULT_MAX_CHARS, client: httpx.Client | None = None,
                 field: str = "--model", sleep: Callable[[float], None] | None = None, cache: Any = None,
                 replay_only: bool = False, on_usage: Callable[[dict[str, int]], None] | None = None) -> None:
        self.endpoint: Endpoint = resolve_endpoint(spec, base_url, api_key_env=api_key_env, field=field,
                                                   purpose="chat")
        self.spec = spec
        self.max_chars = int(max_chars)
        self._poster = SyncJSONPoster(self.endpoint, client, timeouts=timeouts, max_retries=max_retries,
                                      backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s, sleep=sleep)
        self.calls = 0
        self.response_cache = cache
        self.replay_only = bool(replay_only)
        self.cached_requests = 0
        self.missing_requests = 0
        self.input_tokens = self.output_tokens = self.cached_input_tokens = 0
        self.estimated_input_tokens = self.estimated_output_tokens = 0
        self.on_usage = on_usage
        self._handed_over: dict[str, int] = {}

    def counters(self) -> dict[str, int]:
        return {"calls": self.calls, "requests": self.requests, "retries": self.retries,
                "cached_requests": self.cached_requests, "missing_requests": self.missing_requests,
                "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                "cached_input_tokens": self.cached_input_tokens,
                "estimated_input_tokens": self.estimated_input_tokens,
                "estimated_output_tokens": self.estimated_output_tokens}

    def _count(self, body: dict[str, Any], acc: StreamAccumulator) -> None:
        """Add one answered request's tokens: the server's counts, else estimates from the text."""
        if acc.input_tokens is not None:
            self.input_tokens += acc.input_tokens
            self.cached_input_tokens += acc.cached_tokens or 0
        else:
            prompt = "".join(str(m.get("content") or "") for m in body.get("messages") or () if isinstance(m, dict))
            self.estimated_input_tokens += tokens_from_text(prompt + str(body.get("system") or ""))
        if acc.output_tokens is not None:
            self.output_tokens += acc.output_tokens
        else:
            self.estimated_output_tokens += tokens_from_text(acc.text)

    def _request(self, messages: list[dict]) -> tuple[str, dict[str, str], dict[str, Any], Callable[[Any], str]]:
        ep = self.endpoint
        secrets = (ep.api_key,)
        if ep.provider == "anthropic":
            wire, request = anthropic, ChatRequest(messages, temperature=0, max_tokens=ANTHROPIC_MAX_TOKENS,
                                                   stream=False)
        else:
            # No max_tokens: newer OpenAI models reject it, and the reply is one word anyway.
            wire, request = openai, ChatRequest(messages, temperature=0, stream=False)
        url, headers, body = wire.build_request(ep.model, ep.base_url, ep.api_key, request)

        def parse(obj: Any) -> str:
            acc = StreamAccumulator()
            wire.parse_body(obj, acc, secrets)
            self._count(body, acc)
            return acc.text

        return url, headers, body, parse

    def __call__(self, question: str, premise: str, hypothesis: str) -> str:
        self.calls += 1
        url, headers, body, parse = self._request(
            judge_messages(str(question or ""), str(premise), str(hypothesis), self.max_chars))
        reply = None if self.response_cache is None else self.response_cache.get(url, self.spec, body)
        if reply is not None:
            self.cached_requests += 1
        elif self.replay_only:
            self.missing_requests += 1
            return ""
        else:
            reply = self._poster.post(url, headers, body, parse)
            if self.response_cache is not None:
                self.response_cache.put(url, self.spec, body, reply)
        return _THINK.sub("", reply).strip()

    def close(self) -> None:
        self.hand_over_usage()
        self._poster.close()

    def __enter__(self) -> ChatJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_judge(spec: str, base_url: str | None = None, **kw: Any) -> ChatJudge:
    """The entailment judge for chat model `spec` (config errors raise BackendConfigError;
    a demo spec is refused with a message saying it is a simulator, not a judge)."""
    return ChatJudge(spec, base_url=base_url, **kw)
