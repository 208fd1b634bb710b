"""The synchronous HTTP client the post-run analysis uses (embeddings, the entailment judge).

The analysis runs after a run, outside the engine's event loop, so these are plain
``httpx.Client`` calls. :class:`SyncJSONPoster` POSTs JSON, reads JSON and retries what the
failure table (tuieval.backends.classify) says is transient, waiting as
tuieval.backends.retry says; :class:`PostingClient` is the base of the clients built on it.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import httpx

from tuieval.backends.base import USER_AGENT, BackendError, ServerError, Timeouts
from tuieval.backends.classify import error_for_status, map_exception
from tuieval.backends.registry import Endpoint
from tuieval.backends.retry import BackoffPolicy, backoff_delay

__all__ = ["USER_AGENT", "RETRY_AFTER_CAP_S", "make_sync_client", "SyncJSONPoster", "PostingClient", "sleep"]

#: Longest wait honoured from a server's Retry-After before retrying anyway.
RETRY_AFTER_CAP_S = 30.0


def sleep(seconds: float) -> None:
    """The back-off wait (module-level so tests can replace it)."""
    time.sleep(seconds)


def make_sync_client(timeouts: Timeouts | None = None) -> httpx.Client:
    timeouts = timeouts or Timeouts()
    timeout = httpx.Timeout(connect=timeouts.connect, read=timeouts.read, write=timeouts.read, pool=timeouts.read)
    return httpx.Client(timeout=timeout, headers={"user-agent": USER_AGENT}, follow_redirects=False)


class SyncJSONPoster:
    """POST JSON, read JSON, retry what is transient; counts requests and retries.

    `sleep` is injectable for tests.  Errors are raised outside any ``except`` block so
    they never chain to an httpx exception (which holds the request and its headers).
    """

    def __init__(self, endpoint: Endpoint, client: httpx.Client | None = None, *, timeouts: Timeouts | None = None,
                 max_retries: int = 4, backoff_base_s: float = 0.5, backoff_cap_s: float = 8.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.endpoint = endpoint
        self._owns_client = client is None
        self.client = client if client is not None else make_sync_client(timeouts)
        self.max_retries = max(0, int(max_retries))
        self.policy = BackoffPolicy(base_s=backoff_base_s, cap_s=backoff_cap_s, retry_after_cap_s=RETRY_AFTER_CAP_S)
        self._sleep = sleep
        self.requests = 0
        self.retries = 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.endpoint!r})"

    def post(self, url: str, headers: dict[str, str], body: dict[str, Any],
             parse: Callable[[Any], Any]) -> Any:
        """POST `body`; `parse(json)` turns the decoded body into the result or raises a
        BackendError (a non-retryable one for a well-formed but unusable answer)."""
        secrets = (self.endpoint.api_key,)
        attempt = 0
        while True:
            error: BackendError | None = None
            self.requests += 1
            try:
                response = self.client.post(url, headers=headers, json=body)
                status = response.status_code
                content = response.content
            except Exception as exc:  # network failure, timeout: mapped below
                error = map_exception(exc, secrets)
                if error is None:
                    raise
            else:
                if status >= 300:
                    error = error_for_status(status, response.headers, content, secrets)
                else:
                    try:
                        obj = response.json()
                    except (ValueError, UnicodeDecodeError):
                        error = ServerError("malformed JSON response", status=status, kind="bad_response")
                    else:
                        try:
                            return parse(obj)
                        except BackendError as exc:
                            error = exc
            if not error.retryable or attempt >= self.max_retries:
                raise error
            attempt += 1
            self.retries += 1
            (self._sleep or sleep)(backoff_delay(attempt, error.retry_after, self.policy))

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class PostingClient:
    """What the embeddings client and the judge share: a SyncJSONPoster, its counters, and the
    hand-over of what was spent to `on_usage` (set by the subclass with `_handed_over = {}`)."""

    spec: str
    endpoint: Endpoint
    _poster: SyncJSONPoster
    on_usage: Callable[[dict[str, int]], None] | None
    _handed_over: dict[str, int]

    def counters(self) -> dict[str, int]:
        raise NotImplementedError

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"{type(self).__name__}(spec={self.spec!r}, base_url={self.endpoint.base_url!r})"

    @property
    def requests(self) -> int:
        return self._poster.requests

    @property
    def retries(self) -> int:
        return self._poster.retries

    def hand_over_usage(self) -> None:
        """Give `on_usage` what was spent since the last hand-over (nothing when nothing was asked)."""
        if self.on_usage is None:
            return
        now = self.counters()
        delta = {k: v - self._handed_over.get(k, 0) for k, v in now.items()}
        if delta["requests"] or delta["cached_requests"]:
            self.on_usage(delta)
        self._handed_over = now
