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
(`BatchOverBudget`).

Judges go as a second batch: once the answers are stored, the judge requests of every answered
sample (one per judge scorer, judge model, judge sample and orientation) go to each judge
model's own provider as batches of their own, when that provider has a batch API (`openai/`,
`anthropic/`; an `openai-compatible/` judge's server may have none, so it is judged
interactively after the batch, as before), with the same lifecycle: the batch row (with its
purpose, `judges`, and judge model) is written before upload, its id before the first poll, a
`--resume` polls it rather than submitting again, and judge lines that expired, were cancelled
or failed are stored as failed judgements and sent again (only those) on `--resume`. A judge line
is named `j{n}`, n = the sample's dispatch order × the run's judge units + the unit's index, so
its name does not change between invocations. Judgements answered in a batch are marked
(`judgements.batched`) and priced with the batch discount. `--cache`, `--cache-only` and
`--max-cost` apply to judge batches as to the answers' (a judge batch's output is bounded by the
judge's `max_tokens`). `--compare-to`, and the judges without a batch API, run after the batches,
as for an interactive run.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

from tuieval.batch import judge_batchable
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
    n_judge_lines: int = 0   # judge requests submitted in batches by this invocation


def provider_for(backend):
    """The batch API of a backend's provider."""
    if backend.spec.startswith("anthropic/"):
        from tuieval.batch.anthropic_api import AnthropicBatches

        return AnthropicBatches(backend)
    return OpenAIBatches(backend)


@dataclass
class JudgeItem:
    """One judge request of a judge batch: the scorer, the sample's job, the unit, the request."""

    scorer: Any
    job: Any
    unit: tuple[str, str, int, str]
    request: Any


class _Lane:
    """One series of batches: the run's answers (`samples`), or one judge model's requests
    (`judges`). It names its lines, encodes them and stores what comes back."""

    def __init__(self, purpose: str, backend, api, model: str | None, items: Callable[[], dict[str, Any]],
                 request_of: Callable[[Any], Any], store: Callable[[Any, Any, Any, bool], None]) -> None:
        self.purpose, self.backend, self.api, self.model = purpose, backend, api, model
        self.items, self.request_of, self.store = items, request_of, store

    def line(self, cid: str, item) -> bytes:
        _, body = self.backend.request_identity(self.request_of(item))
        return self.api.encode_line(cid, body)


class BatchRunner:
    def __init__(self, store, engine, backend, run: dict[str, Any], *, poll_s: float = 30.0,
                 max_requests: int | None = None, max_bytes: int = L.MAX_BYTES,
                 on_progress: Callable[[str], None] | None = None, sleep: Callable[[float], None] = time.sleep,
                 max_cost: float | None = None, prices: Any = None):
        from tuieval.scoring import build_scorers

        self.store, self.engine, self.backend, self.run = store, engine, backend, run
        self.api = provider_for(backend)
        self.poll_s, self.max_bytes = poll_s, max_bytes
        self._max_requests = max_requests
        self.max_requests = max_requests or self.api.max_requests
        self.say = on_progress or (lambda line: None)
        self.sleep = sleep
        self.scorers = build_scorers(run["config"].get("scorers"))
        self.problems: list[str] = []
        self.n_submitted = 0
        self.n_judge_lines = 0
        #: the response cache (tuieval.store.response_cache) the engine was given, if any
        self.cache, self.cache_only = getattr(engine, "cache", None), bool(getattr(engine, "cache_only", False))
        self.n_from_cache = self.n_cache_missing = 0
        self.max_cost, self.prices = max_cost, prices
        self.samples = _Lane("samples", backend, self.api, None, self._items, self._request_of, self._store_sample)
        #: judge lanes by (spec, base_url, key variable), made when first needed
        self._judge_lanes: dict[tuple, _Lane] = {}

    # -- planning --------------------------------------------------------------------

    def _request_of(self, item):
        from tuieval.engine.runner import chat_request

        return chat_request(item, self.run, stream=False)

    def _items(self) -> dict[str, Any]:
        work, _ = self.engine.plan(self.run)
        return {self.api.custom_id(w): w for w in work}

    def _line(self, cid: str, item) -> bytes:
        return self.samples.line(cid, item)

    # -- the whole run ---------------------------------------------------------------

    def go(self, *, resumed: bool) -> BatchOutcome:
        run_id = self.run["id"]
        if resumed:
            again = B.drop_resubmittable(self.store, run_id, L.RESUBMITTABLE)
            if again:
                self.say(f"batch: sending {again} requests again (expired, cancelled or failed before)")
            again = B.drop_resubmittable_judgements(self.store, run_id, L.RESUBMITTABLE)
            if again:
                self.say(f"batch: sending {again} judge requests again (expired, cancelled or failed before)")
        try:
            for batch in B.batches(self.store, run_id, open_only=True):
                lane = self._lane_of(batch)
                if lane is not None:
                    self._finish(lane, batch)
            self._send(self.samples, self._serve_cached(self.samples, self._items()))
            self._judge_in_batches()
        finally:
            self.api.close()
            for lane in self._judge_lanes.values():
                lane.api.close()
        n_total = self.run["n_expected"]
        n_done = len(self.store.done_keys(run_id))
        status = "complete" if n_done >= n_total else "partial"
        self.store.set_status(run_id, status)
        return BatchOutcome(status, n_done, n_total, self.store.count_errors(run_id), self.n_submitted,
                            self.problems, self.n_from_cache, self.n_cache_missing, self.n_judge_lines)

    def _send(self, lane: _Lane, items: dict[str, Any]) -> None:
        """Submit `items` (not answered by the cache) in batches within the provider's limits,
        and see each to its end."""
        if items and self.cache_only:
            self.n_cache_missing += len(items)
            return
        if items and self.max_cost is not None:
            self._check_budget(lane, items)
        if not items:
            return
        max_requests = self._max_requests or lane.api.max_requests
        encoded = [(cid, lane.line(cid, item)) for cid, item in items.items()]
        for chunk in L.split([e for _, e in encoded], max_requests, self.max_bytes):
            ids = [cid for cid, _ in encoded[:len(chunk)]]
            encoded = encoded[len(chunk):]
            self._finish(lane, self._submit(lane, ids, b"".join(chunk)))

    # -- judges ----------------------------------------------------------------------

    def _judge_in_batches(self) -> None:
        """Every answered sample's judge requests to a batchable judge, as judge batches; then
        the verdicts of the samples whose judgements are all in."""
        from tuieval.engine import judging

        units = judging.all_units(self.scorers)
        if not any(judge_batchable(u[1]) for u in units):
            return
        # (this also writes the verdicts of samples whose judgements all arrived before a crash)
        owed = judging.pending_judging(self.store, self.run, self.scorers, self._cases())
        for key, scorer in self._batchable_judges().items():
            lane = self._judge_lane(key, scorer)
            if lane is not None:
                self._send(lane, self._serve_cached(lane, lane.items()))
        # a sample judged again on --resume has had a verdict before: written anew once all is in
        done = self.store.judgement_keys(self.run["id"])
        for job in owed:
            k = job.key
            if all((k.case_id, k.template, k.sample_index, *u) in done for u in units):
                judging.write_verdict(self.store, self.run["id"], k, self.scorers, job.scores)

    def _batchable_judges(self) -> dict[tuple, Any]:
        from tuieval.engine import judging

        out: dict[tuple, Any] = {}
        for scorer in judging.judge_scorers(self.scorers):
            for spec in scorer.models:
                if judge_batchable(spec):
                    out.setdefault(judging.backend_key(scorer, spec), scorer)
        return out

    def _judge_lane(self, key: tuple, scorer=None) -> _Lane | None:
        lane = self._judge_lanes.get(key)
        if lane is not None:
            return lane
        backend = (getattr(self.engine, "judge_backends", None) or {}).get(key)
        if backend is None:
            return None
        spec = key[0]
        lane = _Lane("judges", backend, provider_for(backend), spec, lambda: self._judge_items(key),
                     lambda item: item.request, self._store_judgement)
        self._judge_lanes[key] = lane
        return lane

    def _lane_of(self, batch: dict[str, Any]) -> _Lane | None:
        """The lane a stored batch belongs to (a judge batch: its judge model's, by spec and URL)."""
        if (batch.get("purpose") or "samples") == "samples":
            return self.samples
        for key, scorer in self._batchable_judges().items():
            backend = (getattr(self.engine, "judge_backends", None) or {}).get(key)
            if key[0] == batch.get("model") and (backend is None or backend.base_url == batch.get("base_url")):
                return self._judge_lane(key, scorer)
        self.problems.append(f"batch {batch['batch_id'] or batch['local_id']}: judge {batch.get('model')} is no "
                             "longer among the run's judges; left open")
        return None

    def _cases(self) -> dict[str, Any]:
        from tuieval.suite.model import Case

        return {c["case_id"]: Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"])
                for c in self.store.get_cases(self.run["id"])}

    def _judge_items(self, key: tuple) -> dict[str, JudgeItem]:
        """The judge requests to `key`'s judge model still owed by the run's answered samples,
        named `j{dispatch order × units + unit index}` (stable between invocations)."""
        from tuieval.engine import judging

        units = judging.all_units(self.scorers)
        scorers = {s.name: s for s in judging.judge_scorers(self.scorers)}
        order = {(r["case_id"], r["template"], r["sample_index"]): r["dispatch_order"] for r in self.store.get_samples(
            self.run["id"], columns=("case_id", "template", "sample_index", "dispatch_order"))}
        out: dict[str, JudgeItem] = {}
        for job in judging.pending_judging(self.store, self.run, self.scorers, self._cases()):
            k = job.key
            for unit in job.units:
                scorer = scorers[unit[0]]
                if judging.backend_key(scorer, unit[1]) != key:
                    continue
                cid = f"j{order[(k.case_id, k.template, k.sample_index)] * len(units) + units.index(unit)}"
                request = judging.judge_request(scorer, job, unit[1], unit[2], unit[3], self.run["seed"])
                out[cid] = JudgeItem(scorer, job, unit, request)
        return out

    def _store_judgement(self, item: JudgeItem, result, error, from_cache: bool) -> None:
        from tuieval.engine import judging

        row = judging.judgement_row(self.run["id"], item.scorer, item.job, item.unit, item.request, result, error,
                                    1, None)
        row["latency_ms"] = None  # a batch line has no latency
        row["batched"] = not from_cache
        self.store.add_judgement(row)

    # -- the response cache and the budget ----------------------------------------------

    def _cache_key(self, lane: _Lane, item) -> tuple[str, str, str]:
        from tuieval.engine.caching import cache_key

        return cache_key(lane.backend, lane.request_of(item))

    def _serve_cached(self, lane: _Lane, items: dict[str, Any]) -> dict[str, Any]:
        """Store the lines the cache answers; return the rest (to submit)."""
        if self.cache is None:
            return items
        from tuieval.engine.caching import result_from_row

        rest, served = {}, 0
        for cid, item in items.items():
            hit = self.cache.get(self._cache_key(lane, item)[0])
            if hit is None:
                rest[cid] = item
                continue
            lane.store(item, result_from_row(hit), None, True)
            served += 1
        self.n_from_cache += served
        if served:
            what = "requests" if lane.purpose == "samples" else f"judge requests to {lane.model}"
            self.say(f"batch: {served} {what} answered from the response cache, not submitted")
        return rest

    def _check_budget(self, lane: _Lane, items: dict[str, Any]) -> None:
        from tuieval.cost.estimate import dollars, prompt_chars, tokens_from_chars
        from tuieval.cost.spend import run_prices, stored_cost

        # the prices the run started with (stored with it), else the table given now
        prices = run_prices(self.run, fallback=self.prices)
        spec = self.run["model"] if lane.purpose == "samples" else lane.model
        price = prices.get(spec)
        what = "batch" if lane.purpose == "samples" else f"judge batch to {spec}"
        if price is None:
            raise BatchOverBudget(f"--max-cost: no price for {spec}; give one with --prices FILE")
        bounds = [lane.request_of(item).max_tokens for item in items.values()]
        if lane.purpose == "judges" and spec.startswith("anthropic/"):
            from tuieval.backends.anthropic import DEFAULT_MAX_TOKENS  # what the Messages request is sent with

            bounds = [DEFAULT_MAX_TOKENS if b is None else b for b in bounds]
        if any(b is None for b in bounds):
            fix = "set --max-tokens" if lane.purpose == "samples" else "give the judge scorer max_tokens"
            raise BatchOverBudget(f"--max-cost: a {what} is priced before it is submitted and its output has no "
                                  f"bound without max_tokens; {fix}")
        # the rule `run --dry-run` estimates by (tuieval.cost.estimate)
        input_tokens = tokens_from_chars(sum(prompt_chars(lane.request_of(item).messages) for item in items.values()))
        output_bound = sum(bounds)
        estimate = price.cost(input_tokens, output_bound, batch=True)
        spent = stored_cost(self.store, self.run, prices)["total"]
        if spent + estimate > self.max_cost:
            raise BatchOverBudget(
                f"--max-cost: the {what} of {len(items):,} requests would cost up to {dollars(estimate)} at the batch "
                f"price (≈{input_tokens:,} input tokens, ≤ {output_bound:,} output tokens), with {dollars(spent)} "
                f"already spent that is over the limit {dollars(self.max_cost)}; a batch cannot be stopped halfway, "
                "so nothing was submitted")
        self.say(f"batch: estimated ≤ {dollars(estimate)} for {len(items):,} requests, within --max-cost "
                 f"{dollars(self.max_cost)} ({dollars(spent)} already spent)")

    # -- one batch -------------------------------------------------------------------

    def _submit(self, lane: _Lane, ids: list[str], data: bytes, local_id: str | None = None,
                file_id: str | None = None) -> dict[str, Any]:
        if local_id is None:
            local_id = f"{self.run['id']}-{uuid.uuid4().hex[:8]}"
            B.add_batch(self.store, local_id, self.run["id"], lane.api.provider, lane.backend.base_url, ids,
                        purpose=lane.purpose, model=lane.model)

        def uploaded(fid: str) -> None:
            B.update_batch(self.store, local_id, input_file_id=fid, status="uploaded")

        created = lane.api.submit(local_id, data, file_id, uploaded)
        self.n_submitted += 1
        if lane.purpose == "judges":
            self.n_judge_lines += len(ids)
        B.update_batch(self.store, local_id, batch_id=created["id"], status=created.get("status") or "validating",
                       counts=created.get("request_counts"))
        what = "requests" if lane.purpose == "samples" else f"judge requests to {lane.model}"
        self.say(f"batch {created['id']}: submitted {len(ids)} {what}")
        return self._row(local_id)

    def _row(self, local_id: str) -> dict[str, Any]:
        return next(b for b in B.batches(self.store, self.run["id"]) if b["local_id"] == local_id)

    def _finish(self, lane: _Lane, batch: dict[str, Any]) -> None:
        """Poll a batch to its end, then store its lines."""
        local_id = batch["local_id"]
        if batch["batch_id"] is None:
            found = lane.api.find(local_id)
            if found is not None:
                B.update_batch(self.store, local_id, batch_id=found["id"], status=found.get("status") or "validating")
            else:
                # never created (killed before or during submission): submit it now
                ids = B.batch_custom_ids(self.store, local_id)
                items = lane.items()
                data = b"".join(lane.line(cid, items[cid]) for cid in ids if cid in items)
                self._submit(lane, ids, data, local_id, batch["input_file_id"])
            batch = self._row(local_id)
        state = lane.api.get(batch["batch_id"])
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
            state = lane.api.get(batch["batch_id"])
        self._collect(lane, self._row(local_id))

    def _collect(self, lane: _Lane, batch: dict[str, Any]) -> None:
        items = lane.items()
        seen: set[str] = set()
        outcomes, problems = lane.api.results(batch)
        self.problems += problems
        for o in outcomes:
            item = items.get(o.custom_id)
            if item is None or o.custom_id in seen:
                continue
            seen.add(o.custom_id)
            if self.cache is not None and o.result is not None:
                from tuieval.engine.caching import row_from_result

                key, endpoint, draw = self._cache_key(lane, item)
                self.cache.put(key, endpoint, lane.backend.spec, draw, row_from_result(o.result))
            lane.store(item, o.result, o.error, False)
        # lines the provider returned nothing for: the batch's own end is their reason
        kind = {"expired": "batch_expired", "cancelled": "batch_cancelled"}.get(batch["status"], "batch_failed")
        why = ((batch.get("errors") or {}).get("data") or [{}])[0].get("message") if batch.get("errors") else None
        for cid in B.batch_custom_ids(self.store, batch["local_id"]):
            item = items.get(cid)
            if item is None or cid in seen:
                continue
            error = L.line_error(kind, f"batch {batch['status']}" + (f": {why}" if why else ""))
            lane.store(item, None, error, False)
        B.update_batch(self.store, batch["local_id"], collected=1)

    def _store_sample(self, item, result, error, from_cache: bool) -> None:
        from tuieval.engine.runner import sample_row

        self._store(sample_row(self.run["id"], item, self._request_of(item).messages, self.scorers, result, error, 1,
                               None))

    def _store(self, row: dict[str, Any]) -> None:
        self.store.add_sample(row)
