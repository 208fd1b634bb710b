"""How the engine asks the response cache (tuieval.store.response_cache): the key of a request
and the conversion between a cached row and a ChatResult.

Embedding requests (the clustering's embeddings tier) go through `EmbeddingCache`, keyed by the
same rule with one draw index for all (an embedding is not a draw). The entailment judge of the
entailment and hybrid tiers goes through `EntailmentCache`, keyed by the same rule too: its
draw index is one for all as well, because the clustering asks it each ordered pair of answers
once, at temperature 0 (the question and both answers are in the body, so two pairs never share
a key).

The key covers what decides the answer — the endpoint, the model, the whole request body the
backend would send (never its headers, which hold the key) — plus the draw index: the sample
index of a model request, the judgement's own index for a judge request. Without the draw index
the N samples of a case (same body, same seed) would all come back as the first one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from tuieval.backends.base import ChatRequest, ChatResult


def request_identity(backend: Any, request: ChatRequest) -> tuple[str, dict[str, Any]]:
    """(endpoint, body) of a request: the HTTP backends' own URL and JSON body; for a backend
    with no wire format (the simulators) the request's fields under the model spec."""
    identity = getattr(backend, "request_identity", None)
    if identity is not None:
        return identity(request)
    body = {"model": backend.spec, "messages": request.messages, "temperature": request.temperature,
            "max_tokens": request.max_tokens, "seed": request.seed, "stream": request.stream}
    return f"{backend.spec}", body


def draw_index(request: ChatRequest) -> str:
    judge = request.hint.get("judge") or {}
    if judge.get("key"):
        return f"judge:{judge['key']}"
    return f"sample:{request.hint.get('sample_index', 0)}"


def body_key(endpoint: str, spec: str, body: Any, draw: str) -> str:
    """The cache key of one request body: the one rule for chat, judge and embedding calls."""
    blob = json.dumps([endpoint, spec, body, draw], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def cache_key(backend: Any, request: ChatRequest) -> tuple[str, str, str]:
    """(key, endpoint, draw) of one request."""
    endpoint, body = request_identity(backend, request)
    draw = draw_index(request)
    return body_key(endpoint, backend.spec, body, draw), endpoint, draw


#: The draw index of an embeddings request: an embedding is a function of its input, not a
#: draw, so every request with the same body has the same answer.
EMBEDDING_DRAW = "embedding"


class EmbeddingCache:
    """The response cache as the embeddings client asks it (tuieval.backends.embeddings): one
    entry per embeddings request, keyed like a chat request (endpoint, model, whole body), the
    vectors kept as little-endian float32 bytes (base64) with their shape, and the tokens the
    server counted for it. A hit costs nothing."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def get(self, url: str, spec: str, body: dict[str, Any]):
        import base64

        import numpy as np

        hit = self.cache.get(body_key(url, spec, body, EMBEDDING_DRAW))
        if hit is None:
            return None
        data = json.loads(hit["text"])
        matrix = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4").reshape(data["shape"])
        return matrix.astype(np.float32), hit.get("input_tokens")

    def put(self, url: str, spec: str, body: dict[str, Any], matrix: Any, tokens: int | None) -> None:
        import base64

        import numpy as np

        m = np.ascontiguousarray(matrix, dtype="<f4")
        text = json.dumps({"shape": list(m.shape), "vectors": base64.b64encode(m.tobytes()).decode("ascii")})
        self.cache.put(body_key(url, spec, body, EMBEDDING_DRAW), url, spec, EMBEDDING_DRAW,
                       {"text": text, "input_tokens": tokens})

    def close(self) -> None:
        self.cache.close()


#: The draw index of an entailment judge request: one per body (see the module docstring).
ENTAILMENT_DRAW = "entailment"


class EntailmentCache:
    """The response cache as the entailment judge asks it (tuieval.backends.judge.ChatJudge):
    one entry per judge request, keyed by its endpoint, model and whole body; the raw reply is
    kept (the analysis reads it as it would a fresh one)."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def get(self, url: str, spec: str, body: dict[str, Any]) -> str | None:
        hit = self.cache.get(body_key(url, spec, body, ENTAILMENT_DRAW))
        return None if hit is None else hit["text"]

    def put(self, url: str, spec: str, body: dict[str, Any], reply: str) -> None:
        self.cache.put(body_key(url, spec, body, ENTAILMENT_DRAW), url, spec, ENTAILMENT_DRAW, {"text": reply})


def result_from_row(row: dict[str, Any]) -> ChatResult:
    return ChatResult(text=row["text"], reasoning=row.get("reasoning") or "", finish_reason=row.get("finish_reason"),
                      output_tokens=row.get("output_tokens"), input_tokens=row.get("input_tokens"),
                      ttft_ms=row.get("ttft_ms"), latency_ms=row.get("latency_ms") or 0.0, cached=True)


def row_from_result(result: ChatResult) -> dict[str, Any]:
    data = asdict(result)
    data.pop("rate_limit", None)
    return data
