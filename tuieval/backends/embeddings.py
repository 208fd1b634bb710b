"""Embeddings over the OpenAI-compatible ``POST {base}/embeddings`` endpoint (synchronous).

OpenAI, Ollama (``…/v1``), vLLM (``vllm serve --task embed``), llama.cpp, LM Studio,
TEI and most gateways serve it: ``{"model": m, "input": [texts]}`` in,
``{"data": [{"index": i, "embedding": [...]}, ...]}`` out.  The clustering analysis runs
after a run, outside the engine's event loop, so this client is a plain
``httpx.Client``.

* Model specs are the chat specs (``openai/…``, ``ollama/…``, ``vllm/…``,
  ``openai-compatible/…``) with the same environment keys and default base URLs as
  :mod:`tuieval.backends.registry`; ``base_url`` overrides.  ``anthropic`` has no
  embeddings endpoint and ``demo`` models are simulators: both are refused.
* Inputs go in batches of ``batch_size``; rows come back in input order (the
  response is sorted by ``index``), as a float32 matrix.
* Vectors are cached per distinct string for the client's life (one report), so a
  string is sent at most once.  Given a response cache (``cache``, a
  tuieval.engine.caching.EmbeddingCache: a run made with ``--cache``), a whole request
  already answered there is not sent again and costs nothing.
* Replay only (``replay_only``, a report under ``--cache-only``): a request the response cache
  does not hold is not sent; it is counted (``missing_requests``, ``missing_texts``) and its
  strings get zero rows, so the caller can say what is missing (tuieval.report.endpoints).
* Usage: given ``on_usage``, the client hands it its counters (what was spent since the last
  hand-over) when it is closed — the one place embedding spending is recorded, whoever calls
  the client (the report, export, the app's inspector, shadow).
* Tokens: ``usage.prompt_tokens`` of each response is counted (``tokens``); a response
  without it has its inputs' tokens estimated from their length (about four characters a
  token, ``tokens_estimated``), so the cost section can price the embeddings.  Empty or whitespace-only strings are not sent (OpenAI
  rejects them): they get a zero row, which is similar to nothing.  Inputs longer than
  ``max_chars`` are cut.
* What is retried (429, 408, 5xx, timeouts, dropped connections) and how long to wait
  follow the one failure table and back-off policy (tuieval.backends.classify,
  tuieval.backends.retry), through :class:`tuieval.backends.sync_http.SyncJSONPoster`,
  up to ``max_retries`` times.  Failures are :class:`~tuieval.backends.base.BackendError`
  subclasses whose reason never holds the API key.

Endpoints are resolved by :func:`tuieval.backends.registry.resolve_endpoint`, as for chat models.
"""

from __future__ import annotations

import base64
from typing import Any, Callable, Sequence

import httpx
import numpy as np

from tuieval.backends.base import ServerError, Timeouts
from tuieval.backends.registry import Endpoint, resolve_endpoint
from tuieval.backends.sync_http import PostingClient, SyncJSONPoster
from tuieval.cost.budget import tokens_from_text

__all__ = ["Endpoint", "resolve_endpoint", "EmbeddingClient", "make_embedder", "parse_embeddings"]

DEFAULT_BATCH_SIZE = 128
DEFAULT_MAX_CHARS = 8000


def _vector(item: Any) -> list[float] | np.ndarray:
    emb = item.get("embedding") if isinstance(item, dict) else None
    if isinstance(emb, str):  # encoding_format=base64, should a gateway force it
        try:
            return np.frombuffer(base64.b64decode(emb), dtype="<f4")
        except (ValueError, TypeError):
            raise ServerError("malformed embeddings response (bad base64 vector)", retryable=False) from None
    if not isinstance(emb, list) or not emb:
        raise ServerError("malformed embeddings response (item without an embedding)", retryable=False)
    return emb


def parse_embeddings(obj: Any, n: int) -> np.ndarray:
    """The (n, d) float32 matrix of an embeddings response, rows in `index` order."""
    if not isinstance(obj, dict):
        raise ServerError("malformed embeddings response (not an object)", retryable=False)
    if obj.get("error"):
        err = obj["error"]
        msg = err.get("message") if isinstance(err, dict) else str(err)
        raise ServerError(f"error in response: {str(msg)[:150]}")
    data = obj.get("data")
    if not isinstance(data, list) or len(data) != n:
        got = len(data) if isinstance(data, list) else "no"
        raise ServerError(f"malformed embeddings response ({got} vectors for {n} inputs)", retryable=False)
    rows: list[Any] = [None] * n
    for pos, item in enumerate(data):
        idx = item.get("index", pos) if isinstance(item, dict) else pos
        if not isinstance(idx, int) or isinstance(idx, bool) or not 0 <= idx < n or rows[idx] is not None:
            raise ServerError("malformed embeddings response (bad or repeated index)", retryable=False)
        rows[idx] = _vector(item)
    try:
        matrix = np.asarray(rows, dtype=np.float32)
    except (ValueError, TypeError):
        raise ServerError("malformed embeddings response (vectors differ in length)", retryable=False) from None
    if matrix.ndim != 2 or not np.isfinite(matrix).all():
        raise ServerError("malformed embeddings response (vectors differ in length or are not finite)",
                          retryable=False)
    return matrix


def usage_tokens(obj: Any) -> int | None:
    """The tokens an embeddings response says its inputs were (``usage.prompt_tokens``), if any."""
    usage = obj.get("usage") if isinstance(obj, dict) else None
    value = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


class EmbeddingClient(PostingClient):
    """A callable ``texts → float32 matrix`` (the analysis's `Embed`) over ``/embeddings``.

    Counters: ``requests`` (HTTP requests, retries included), ``retries``,
    ``texts_sent`` (distinct strings sent), ``cache_hits`` (strings met before in this client),
    ``cached_requests`` (requests answered from the response cache), ``tokens`` (counted by the
    server) and ``tokens_estimated``.  Use as a context manager or
    call :meth:`close`.
    """

    def __init__(self, spec: str, *, base_url: str | None = None, api_key_env: str | None = None,
                 timeouts: Timeouts | None = None, batch_size: int = DEFAULT_BATCH_SIZE, max_retries: int = 4,
                 backoff_base_s: float = 0.5, backoff_cap_s: float = 8.0, max_chars: int = DEFAULT_MAX_CHARS,
                 client: httpx.Client | None = None, field: str = "--model",
                 sleep: Callable[[float], None] | None = None, cache: Any = None,
                 on_usage: Callable[[dict[str, int]], None] | None = None, replay_only: bool = False) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be ≥ 1")
        self.endpoint = resolve_endpoint(spec, base_url, api_key_env=api_key_env, field=field, purpose="embeddings")
        self.spec = spec
        self.batch_size = int(batch_size)
        self.max_chars = int(max_chars)
        self._poster = SyncJSONPoster(self.endpoint, client, timeouts=timeouts, max_retries=max_retries,
                                      backoff_base_s=backoff_base_s, backoff_cap_s=backoff_cap_s, sleep=sleep)
        self._cache: dict[str, np.ndarray] = {}
        self._dim: int | None = None
        self.response_cache = cache
        self.texts_sent = 0
        self.cache_hits = 0
        self.tokens = 0
        self.tokens_estimated = 0
        self.cached_requests = 0
        self.on_usage = on_usage
        self.replay_only = bool(replay_only)
        self.missing_requests = 0
        self.missing_texts = 0
        self._handed_over: dict[str, int] = {}

    def counters(self) -> dict[str, int]:
        return {"requests": self.requests, "retries": self.retries, "texts_sent": self.texts_sent,
                "cache_hits": self.cache_hits, "tokens": self.tokens, "tokens_estimated": self.tokens_estimated,
                "cached_requests": self.cached_requests, "missing_requests": self.missing_requests,
                "missing_texts": self.missing_texts}

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.endpoint.api_key:
            headers["authorization"] = f"Bearer {self.endpoint.api_key}"
        return headers

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray | None:
        """One request (with retries) for `texts`, or its answer from the response cache: rows
        in input order. None when replaying only and the cache does not hold it (not sent)."""
        body = {"model": self.endpoint.model, "input": list(texts)}
        n = len(texts)
        url = f"{self.endpoint.base_url}/embeddings"
        if self.response_cache is not None:
            hit = self.response_cache.get(url, self.spec, body)
            if hit is not None:
                self.cached_requests += 1
                return hit[0]
        if self.replay_only:
            self.missing_requests += 1
            self.missing_texts += n
            return None
        matrix, counted = self._poster.post(url, self._headers(), body,
                                            lambda obj: (parse_embeddings(obj, n), usage_tokens(obj)))
        if counted is None:
            self.tokens_estimated += sum(tokens_from_text(t) for t in texts)
        else:
            self.tokens += counted
        if self.response_cache is not None:
            self.response_cache.put(url, self.spec, body, matrix, counted)
        return matrix

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        todo: list[str] = []
        seen: set[str] = set()
        for t in texts:
            if t in self._cache or t in seen or not t.strip():
                if t in self._cache:
                    self.cache_hits += 1
                continue
            seen.add(t)
            todo.append(t)
        for i in range(0, len(todo), self.batch_size):
            batch = todo[i: i + self.batch_size]
            matrix = self.embed_batch([t[: self.max_chars] for t in batch])
            if matrix is None:  # replaying only, not in the cache: zero rows, counted as missing
                continue
            if self._dim is None:
                self._dim = int(matrix.shape[1])
            elif matrix.shape[1] != self._dim:
                raise ServerError(f"embedding size changed from {self._dim} to {matrix.shape[1]}", retryable=False)
            for t, row in zip(batch, matrix):
                self._cache[t] = row
            self.texts_sent += len(batch)
        dim = self._dim or 1
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for i, t in enumerate(texts):
            row = self._cache.get(t)
            if row is not None:
                out[i] = row
        return out

    def close(self) -> None:
        self.hand_over_usage()
        self._poster.close()

    def __enter__(self) -> EmbeddingClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_embedder(spec: str, base_url: str | None = None, **kw: Any) -> EmbeddingClient:
    """An :class:`EmbeddingClient` for `spec` (config errors raise BackendConfigError)."""
    return EmbeddingClient(spec, base_url=base_url, **kw)
