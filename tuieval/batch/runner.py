"""`tuieval run --batch`: a run's requests as provider batch jobs (OpenAI's Batch API, Anthropic's
Message Batches), stored as ordinary samples.

The order of work survives a kill -9 at any point: a batch row (with the requests it holds) is
written before its file is uploaded, the file id and the batch id as soon as the provider gives
them, so `--resume` polls the batch it had rather than submitting again; a batch created just
before a crash is found again by the id tuieval sent with it (`metadata.tuieval_local_id`;
Anthropic's batches carry no metadata, see tuieval.batch.anthropic_api).
Lines that expired, were cancelled or failed are stored as error samples with the reason, and
`--resume` sends only those, as a new smaller batch. A run larger than a batch file may hold
(requests or bytes) is split into several. Batch samples have no latency (not applicable).

With a response cache (`--cache`), a line whose request was answered before is stored from the
cache and not submitted, and every answered line is put in the cache (`--cache-only` submits
nothing and counts what is missing). With `--max-cost`, the requests still to submit are priced
up front from the price table at the batch price (input from the rendered prompts, about four
characters a token; output bounded by max_tokens): a batch cannot be stopped halfway, so one
whose estimate, with what the run has already cost, exceeds the limit is not submitted at all
(`BatchOverBudget`). The judges and `--compare-to` run after the batch, as for an interactive run.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from tuieval.batch import lines as L
from tuieval.batch.openai_api import TERMINAL, OpenAIBatches
from tuieval.store import batches as B


class BatchOverBudget(Exception):
    """The batch's estimate, with what the run has already cost, exceeds `--max-cost`: nothing was
    submitted. The message is one line."""


@dataclass
class BatchOutcome:
    status: str          # complete | partial
    n_done: int
    n_total: int
    n_errors: int
    n_batches: int       # batches submitted by this invocation
    problems: list[str]  # result lines that could not be read
    n_from_cache: int = 0    # lines stored from the response cache, not submitted
    n_cache_missing: int = 0  # --cache-only: lines not in the cache, not submitted


def provider_for(backend):
    """The batch API of a backend's provider."""
    if backend.spec.startswith("anthropic/"):
        from tuieval.batch.anthropic_api import AnthropicBatches

        return AnthropicBatches(backend)
    return OpenAIBatches(backend)


class BatchRunner:
    def __init__(self, store, engine, backend, run: dict[str, Any], *, poll_s: float = 30.0,
                 max_requests: int | None = None, max_bytes: int = L.MAX_BYTES,
                 on_progress: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_cost: float | None = None, prices: Any = None):
        from tuieval.scoring import build_scorers

        self.store, self.engine, self.backend, self.run = store, engine, backend, run
        self.api = provider_for(backend)
        self.poll_s, self.max_bytes = poll_s, max_bytes
        self.max_requests = max_requests or self.api.max_requests
        self.say = on_progress or (lambda line: None)
        self.sleep = sleep
        self.scorers = build_scorers(run["config"].get("scorers"))
        self.problems: list[str] = []
        self.n_submitted = 0
        #: the response cache (tuieval.store.response_cache) the engine was given, if any
        self.cache, self.cache_only = getattr(engine, "cache", None), bool(getattr(engine, "cache_only", False))
        self.n_from_cache = self.n_cache_missing = 0
        self.max_cost, self.prices = max_cost, prices

    # -- planning --------------------------------------------------------------------

    def _request_of(self, item):
        from tuieval.engine.runner import chat_request

        return chat_request(item, self.run, stream=False)

    def _items(self) -> dict[str, Any]:
        work, _ = self.engine.plan(self.run)
        return {self.api.custom_id(w): w for w in work}

    def _line(self, cid: str, item) -> bytes:
        _, body = self.backend.request_identity(self._request_of(item))
        return self.api.encode_line(cid, body)

    # -- the whole run ---------------------------------------------------------------

    def go(self, *, resumed: bool) -> BatchOutcome:
        run_id = self.run["id"]
        if resumed:
            again = B.drop_resubmittable(self.store, run_id, L.RESUBMITTABLE)
            if again:
                self.say(f"batch: sending {again} requests again (expired, cancelled or failed before)")
        try:
            for batch in B.batches(self.store, run_id, open_only=True):
                self._finish(batch)
            items = self._serve_cached(self._items())
            if items and self.cache_only:
                self.n_cache_missing = len(items)
                items = {}
            if items and self.max_cost is not None:
                self._check_budget(items)
            if items:
                encoded = [(cid, self._line(cid, item)) for cid, item in items.items()]
                for chunk in L.split([e for _, e in encoded], self.max_requests, self.max_bytes):
                    ids = [cid for cid, _ in encoded[:len(chunk)]]
                    encoded = encoded[len(chunk):]
                    self._finish(self._submit(ids, b"".join(chunk)))
        finally:
            self.api.close()
        n_total = self.run["n_expected"]
        n_done = len(self.store.done_keys(run_id))
        status = "complete" if n_done >= n_total else "partial"
        self.store.set_status(run_id, status)
        return BatchOutcome(status, n_done, n_total, self.store.count_errors(run_id), self.n_submitted,
                            self.problems, self.n_from_cache, self.n_cache_missing)

    # -- the response cache and the budget ----------------------------------------------

    def _cache_key(self, item) -> tuple[str, str, str]:
        from tuieval.engine.caching import cache_key

        return cache_key(self.backend, self._request_of(item))

    def _serve_cached(self, items: dict[str, Any]) -> dict[str, Any]:
        """Store the lines the cache answers; return the rest (to submit)."""
        if self.cache is None:
            return items
        from tuieval.engine.caching import result_from_row
        from tuieval.engine.runner import sample_row

        rest = {}
        for cid, item in items.items():
            hit = self.cache.get(self._cache_key(item)[0])
            if hit is None:
                rest[cid] = item
                continue
            self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers,
                                   result_from_row(hit), None, 1, None))
            self.n_from_cache += 1
        if self.n_from_cache:
            self.say(f"batch: {self.n_from_cache} requests answered from the response cache, not submitted")
        return rest

    def _check_budget(self, items: dict[str, Any]) -> None:
        from tuieval.cost.estimate import dollars, prompt_chars, tokens_from_chars
        from tuieval.cost.spend import run_prices, stored_cost

        # the prices the run started with (stored with it), else the table given now
        prices = run_prices(self.run, fallback=self.prices)
        price = prices.get(self.run["model"])
        if price is None:
            raise BatchOverBudget(f"--max-cost: no price for {self.run['model']}; give one with --prices FILE")
        max_tokens = self.run["max_tokens"]
        if max_tokens is None:
            raise BatchOverBudget("--max-cost: a batch is priced before it is submitted and its output has no bound "
                                  "without max_tokens; set --max-tokens")
        # the rule `run --dry-run` estimates by (tuieval.cost.estimate)
        input_tokens = tokens_from_chars(sum(prompt_chars(self._request_of(item).messages) for item in items.values()))
        output_bound = max_tokens * len(items)
        estimate = price.cost(input_tokens, output_bound, batch=True)
        spent = stored_cost(self.store, self.run, prices)["total"]
        if spent + estimate > self.max_cost:
            raise BatchOverBudget(
                f"--max-cost: the batch of {len(items):,} requests would cost up to {dollars(estimate)} at the batch "
                f"price (≈{input_tokens:,} input tokens, ≤ {output_bound:,} output tokens), with {dollars(spent)} "
                f"already spent that is over the limit {dollars(self.max_cost)}; a batch cannot be stopped halfway, "
                "so nothing was submitted")
        self.say(f"batch: estimated ≤ {dollars(estimate)} for {len(items):,} requests, within --max-cost "
                 f"{dollars(self.max_cost)} ({dollars(spent)} already spent)")

    # -- one batch -------------------------------------------------------------------

    def _submit(self, ids: list[str], data: bytes, local_id: str | None = None,
                file_id: str | None = None) -> dict[str, Any]:
        if local_id is None:
            local_id = f"{self.run['id']}-{uuid.uuid4().hex[:8]}"
            B.add_batch(self.store, local_id, self.run["id"], self.api.provider, self.backend.base_url, ids)

        def uploaded(fid: str) -> None:
            B.update_batch(self.store, local_id, input_file_id=fid, status="uploaded")

        created = self.api.submit(local_id, data, file_id, uploaded)
        self.n_submitted += 1
        B.update_batch(self.store, local_id, batch_id=created["id"], status=created.get("status") or "validating",
                       counts=created.get("request_counts"))
        self.say(f"batch {created['id']}: submitted {len(ids)} requests")
        return self._row(local_id)

    def _row(self, local_id: str) -> dict[str, Any]:
        return next(b for b in B.batches(self.store, self.run["id"]) if b["local_id"] == local_id)

    def _finish(self, batch: dict[str, Any]) -> None:
        """Poll a batch to its end, then store its lines."""
        local_id = batch["local_id"]
        if batch["batch_id"] is None:
            found = self.api.find(local_id)
            if found is not None:
                B.update_batch(self.store, local_id, batch_id=found["id"], status=found.get("status") or "validating")
            else:
                # never created (killed before or during submission): submit it now
                ids = B.batch_custom_ids(self.store, local_id)
                items = self._items()
                data = b"".join(self._line(cid, items[cid]) for cid in ids if cid in items)
                self._submit(ids, data, local_id, batch["input_file_id"])
            batch = self._row(local_id)
        state = self.api.get(batch["batch_id"])
        while True:
            counts = state.get("request_counts") or {}
            B.update_batch(self.store, local_id, status=state["status"], counts=counts,
                           output_file_id=state.get("output_file_id"), error_file_id=state.get("error_file_id"),
                           errors=state.get("errors"))
            self.say(f"batch {batch['batch_id']}: {state['status']}, {counts.get('completed', 0)}/"
                     f"{counts.get('total', batch['n_requests'])} done, {counts.get('failed', 0)} failed")
            if state["status"] in TERMINAL:
                break
            self.sleep(self.poll_s)
            state = self.api.get(batch["batch_id"])
        self._collect(self._row(local_id))

    def _collect(self, batch: dict[str, Any]) -> None:
        from tuieval.engine.runner import sample_row

        items = self._items()
        seen: set[str] = set()
        outcomes, problems = self.api.results(batch)
        self.problems += problems
        for o in outcomes:
            item = items.get(o.custom_id)
            if item is None or o.custom_id in seen:
                continue
            seen.add(o.custom_id)
            if self.cache is not None and o.result is not None:
                from tuieval.engine.caching import row_from_result

                key, endpoint, draw = self._cache_key(item)
                self.cache.put(key, endpoint, self.backend.spec, draw, row_from_result(o.result))
            self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers,
                                   o.result, o.error, 1, None))
        # lines the provider returned nothing for: the batch's own end is their reason
        kind = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(batch["status"], "batch_failed")
        why = ((batch.get("errors") or {}).get("data") or [{}])[0].get("message") if batch.get("errors") else None
        for cid in B.batch_custom_ids(self.store, batch["local_id"]):
            item = items.get(cid)
            if item is None or cid in seen:
                continue
            error = L.line_error(kind, f"batch {batch['status']}" + (f": {why}" if why else ""))
            self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers, None,
                                   error, 1, None))
        B.update_batch(self.store, batch["local_id"], collected=1)

    def _store(self, row: dict[str, Any]) -> None:
        self.store.add_sample(row)
