"""The models a report's clustering calls (an embeddings endpoint, a judge) and their errors.

A run's `variance:` config may name an embeddings model (`variance.model`) or a judge
(`variance.judge`). `Endpoints` builds their clients for one clustering and maps every
failure to `ClusteringBackendError`, whose message starts with the setting to fix.
"""

from __future__ import annotations

from typing import Any, Callable

from tuieval.analysis.variance.config import VarianceConfig


class ClusteringBackendError(Exception):
    """The embeddings model or judge named in a run's `variance:` config cannot be used.

    Raised while building a report when the endpoint is misconfigured (no key, no base URL,
    a demo spec) or fails after its retries (refused, 401, 5xx, timeout, malformed answer).
    ``str(exc)`` is one line that starts with the setting to fix — ``variance.model`` or
    ``variance.judge`` — and never holds an API key; ``field`` is that setting. The CLI shows
    it as ``tuieval: <message>`` and exits 2.
    """

    def __init__(self, field: str, message: str) -> None:
        message = " ".join(str(message).split())
        self.field = field
        super().__init__(message if message.startswith(field) else f"{field}: {message}")


#: words in a clustering ValueError → the setting it is about (most specific first)
_VALUE_ERROR_FIELDS = (("linkage", "variance.linkage"), ("rule", "variance.rule"), ("embed", "variance.model"))


def clustering_error(method: str, exc: ValueError, default_field: str) -> ClusteringBackendError:
    """A ValueError from a remote tier (e.g. an embeddings answer of the wrong shape) as the
    setting to fix."""
    text = str(exc)
    field = next((f for word, f in _VALUE_ERROR_FIELDS if word in text), default_field)
    return ClusteringBackendError(field, f"{method} clustering failed: {text}")


def _where(base_url: str) -> str:
    """scheme://host[:port]/path of an endpoint: no credentials or query string in a message."""
    import httpx

    try:
        url = httpx.URL(base_url)
    except Exception:
        return base_url
    return f"{url.scheme}://{url.host}" + (f":{url.port}" if url.port else "") + url.path


class Endpoints:
    """The embed / judge callables a run's variance config names, for one clustering.

    Clients are built on entry (configuration errors surface at once) and closed on exit;
    each call maps a BackendError to ClusteringBackendError naming its field.
    """

    def __init__(self, var: VarianceConfig, method: str, cache_path: str | None = None) -> None:
        self.var, self.method = var, method
        #: the run's response cache (`run --cache`): embedding requests answered there are not sent
        self.cache_path = cache_path
        self.embed: Callable[..., Any] | None = None
        self.judge: Callable[..., Any] | None = None
        self._embedder: Any = None
        self._judge: Any = None
        self.field = "variance.model" if method == "embeddings" else "variance.judge"

    def __enter__(self) -> "Endpoints":
        if self.method not in ("embeddings", "entailment", "hybrid"):
            return self
        from tuieval.backends.embeddings import EmbeddingClient
        from tuieval.backends.judge import ChatJudge
        from tuieval.backends.registry import BackendConfigError

        var, method = self.var, self.method
        try:
            if var.model and method in ("embeddings", "hybrid"):
                self._embedder = EmbeddingClient(str(var.model), base_url=var.model_url, field="variance.model",
                                                 cache=_embedding_cache(self.cache_path))
                self.embed = self._guard(self._embedder, "variance.model", "embeddings")
            if method in ("entailment", "hybrid"):
                self._judge = ChatJudge(str(var.judge), base_url=var.judge_url, field="variance.judge")
                self.judge = self._guard(self._judge, "variance.judge", "judge")
        except BackendConfigError as exc:
            self.__exit__()
            field = "variance.model" if str(exc).startswith("variance.model") else "variance.judge"
            raise ClusteringBackendError(field, str(exc)) from None
        return self

    @staticmethod
    def _guard(client: Any, field: str, what: str) -> Callable[..., Any]:
        from tuieval.backends.base import BackendError

        where = _where(client.endpoint.base_url)

        def call(*args: Any) -> Any:
            try:
                return client(*args)
            except BackendError as exc:
                error = ClusteringBackendError(field, f"{what} model {client.spec} at {where} failed: {exc.reason}")
            raise error

        return call

    def counters(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self._embedder is not None:
            c = self._embedder.counters()
            out.update(model=self._embedder.spec, embedding_requests=c["requests"], embedding_retries=c["retries"],
                       embedding_texts_sent=c["texts_sent"], embedding_tokens=c["tokens"],
                       embedding_tokens_estimated=c["tokens_estimated"],
                       embedding_cached_requests=c["cached_requests"])
        if self._judge is not None:
            c = self._judge.counters()
            out.update(judge=self._judge.spec, judge_requests=c["requests"], judge_retries=c["retries"])
        return out

    def __exit__(self, *exc: object) -> None:
        for client in (self._embedder, self._judge):
            if client is not None:
                client.close()
        if self._embedder is not None and self._embedder.response_cache is not None:
            self._embedder.response_cache.close()
            self._embedder.response_cache = None

    def record_usage(self, store: Any, run_id: str, purpose: str) -> None:
        """Store what the embeddings client spent (tuieval.cost prices it in the cost section)."""
        if self._embedder is None:
            return
        c = self._embedder.counters()
        if c["requests"] or c["cached_requests"]:
            store.add_embedding_usage(run_id, self._embedder.spec, purpose, c)


def _embedding_cache(path: str | None) -> Any:
    """The run's response cache for embedding requests, or None (no `--cache`, or a cache file
    that cannot be opened now: the report is then computed without it)."""
    if not path:
        return None
    from tuieval.engine.caching import EmbeddingCache
    from tuieval.store import StoreError
    from tuieval.store.response_cache import ResponseCache

    try:
        return EmbeddingCache(ResponseCache(path))
    except StoreError:
        return None
