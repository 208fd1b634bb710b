"""The models a report's clustering calls (an embeddings endpoint, a judge) and their errors.

A run's `variance:` config may name an embeddings model (`variance.model`) or a judge
(`variance.judge`). `Endpoints` builds their clients for one clustering — both asking the run's
response cache first, both replaying only from it under `--cache-only` (`replay_only`), the
embeddings client recording its usage when closed (`usage_recorder`) — and maps every failure
to `ClusteringBackendError`, whose message starts with the setting to fix.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Callable, Iterator

from tuieval.analysis.variance.config import VarianceConfig

#: Set while a report is built under `--cache-only` (`replay_only()`): the clustering's embedding
#: and judge calls are answered from the run's response cache or not at all.
_REPLAY_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("tuieval_replay_only", default=False)


@contextlib.contextmanager
def replay_only(on: bool = True) -> Iterator[None]:
    """Within this block, every clustering endpoint replays from the response cache and sends
    nothing (`run --cache-only`, `report --cache-only`); what the cache lacks ends the
    clustering with `CacheOnlyMissing`, which says how much is missing."""
    token = _REPLAY_ONLY.set(bool(on))
    try:
        yield
    finally:
        _REPLAY_ONLY.reset(token)


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


class CacheOnlyMissing(ClusteringBackendError):
    """Under `--cache-only` the response cache lacks some of the clustering's requests: none was
    sent, and the clustering is not reported from partial vectors. The message counts them."""

    def __init__(self, field: str, message: str, missing: dict[str, int]) -> None:
        super().__init__(field, message)
        self.missing = missing


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

    def __init__(self, var: VarianceConfig, method: str, cache_path: str | None = None, *,
                 usage: Callable[..., None] | None = None) -> None:
        self.var, self.method = var, method
        #: the run's response cache (`run --cache`): embedding and judge requests answered there
        #: are not sent
        self.cache_path = cache_path
        #: usage(model, counters, kind) records the embedding ("embeddings") and entailment judge
        #: ("judge") requests made (`usage_recorder`)
        self.usage = usage
        self.replay_only = _REPLAY_ONLY.get()
        self._cache: Any = None
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
        from tuieval.engine.caching import EmbeddingCache, EntailmentCache

        var, method = self.var, self.method
        if self.replay_only and not self.cache_path:
            field = "variance.model" if method == "embeddings" else "variance.judge"
            raise CacheOnlyMissing(field, f"{field}: --cache-only: the run has no response cache (it was not run "
                                   "with --cache), so its clustering's requests cannot be replayed", {})
        self._cache = _open_response_cache(self.cache_path)
        if self.replay_only and self._cache is None:
            raise CacheOnlyMissing(self.field, f"{self.field}: --cache-only: the response cache {self.cache_path} "
                                   "cannot be opened", {})
        try:
            if var.model and method in ("embeddings", "hybrid"):
                spec = str(var.model)
                on_usage = None if self.usage is None else (lambda c, spec=spec: self.usage(spec, c))
                self._embedder = EmbeddingClient(spec, base_url=var.model_url, field="variance.model",
                                                 cache=EmbeddingCache(self._cache) if self._cache else None,
                                                 on_usage=on_usage, replay_only=self.replay_only)
                self.embed = self._guard(self._embedder, "variance.model", "embeddings")
            if method in ("entailment", "hybrid"):
                judge_spec = str(var.judge)
                on_judge_usage = (None if self.usage is None
                                  else (lambda c, spec=judge_spec: self.usage(spec, c, "judge")))
                self._judge = ChatJudge(judge_spec, base_url=var.judge_url, field="variance.judge",
                                        cache=EntailmentCache(self._cache) if self._cache else None,
                                        replay_only=self.replay_only, on_usage=on_judge_usage)
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
            out.update(judge=self._judge.spec, judge_requests=c["requests"], judge_retries=c["retries"],
                       judge_cached_requests=c["cached_requests"])
        return out

    def missing(self) -> dict[str, int]:
        """Under --cache-only: the requests (and embedding strings) the cache did not hold."""
        out: dict[str, int] = {}
        if self._embedder is not None and self._embedder.missing_requests:
            out.update(embedding_requests=self._embedder.missing_requests,
                       embedding_texts=self._embedder.missing_texts)
        if self._judge is not None and self._judge.missing_requests:
            out["judge_requests"] = self._judge.missing_requests
        return out

    def __exit__(self, *exc: object) -> None:
        # closing the embedder hands its usage to the recorder, also when the clustering failed
        for client in (self._embedder, self._judge):
            if client is not None:
                client.close()
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        missing = self.missing()
        # zero rows for what is missing may also have failed the clustering: the missing requests
        # are the reason to report, not that failure
        if missing and (not exc or exc[0] is None or issubclass(exc[0], (ValueError, ClusteringBackendError))):
            raise self._missing_error(missing) from None

    def _missing_error(self, missing: dict[str, int]) -> CacheOnlyMissing:
        parts = []
        if "embedding_requests" in missing:
            parts.append(f"{missing['embedding_requests']} embedding request(s) ({missing['embedding_texts']} "
                         f"texts) to {self._embedder.spec}")
        if "judge_requests" in missing:
            parts.append(f"{missing['judge_requests']} judge request(s) to {self._judge.spec}")
        field = "variance.model" if "embedding_requests" in missing else "variance.judge"
        return CacheOnlyMissing(field, f"{field}: --cache-only: {' and '.join(parts)} are not in the response "
                                f"cache {self.cache_path} and were not sent; the clustering is not reported; "
                                "run the report without --cache-only to send them", missing)


def usage_recorder(store: Any, run_id: str, purpose: str) -> Callable[..., None]:
    """Where a clustering's remote requests are recorded, priced in the cost section: embedding
    requests in table embedding_usage, the entailment judge's in clustering_judge_usage. `purpose`
    says what clustered (clustering, perturbations, export, inspector, shadow)."""
    def record(model: str, counters: dict[str, int], kind: str = "embeddings") -> None:
        if kind == "judge":
            store.add_clustering_judge_usage(run_id, model, purpose, counters)
        else:
            store.add_embedding_usage(run_id, model, purpose, counters)

    return record


def _open_response_cache(path: str | None) -> Any:
    """The run's response cache, or None (no `--cache`, or a cache file that cannot be opened
    now: the report is then computed without it)."""
    if not path:
        return None
    from tuieval.store import StoreError
    from tuieval.store.response_cache import ResponseCache

    try:
        return ResponseCache(path)
    except StoreError:
        return None
