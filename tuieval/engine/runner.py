"""The async scheduler: turns a suite and a model into stored samples.

Work is dispatched in a seeded random order (so live statistics see an unbiased stream and
a resumed run dispatches the same way), through an adaptive concurrency limit
(tuieval.engine.limiter), with bounded retries: what to retry is the failure table's
``action`` (tuieval.backends.classify), how long to wait the one back-off policy
(tuieval.backends.retry). Each finished sample is committed before the SampleFinished event
is emitted, with its ``error_kind`` and ``attempts`` (in small batches of samples that finish
together: tuieval.engine.writer).

The run stops early (status failed) when every request would fail the same way: a bad key
or model (``action == "stop"``), or — before any request of this process has succeeded —
a server that is not there (connection refused, host unknown). The request that found it is
not stored, so ``--resume`` asks it again once the setting is fixed.

Settings that shape a sample (stream, temperature, max tokens, seed, samples, templates)
are read from the stored run, never from the options, so a resumed run is the same run.

A `judge` scorer's requests go through the same limiter, retries and failure table, after
the sample they judge is stored (tuieval.engine.judging); a resumed run first finishes the
judging its stored samples still owe.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tuieval import json_text
from tuieval.backends.base import BACK_OFF, STOP, BackendError, ChatRequest, ModelBackend, RequestTimeout, Timeouts
from tuieval.backends.retry import BackoffPolicy, backoff_delay
from tuieval.cost.budget import Budget
from tuieval.engine.caching import cache_key, result_from_row, row_from_result
from tuieval.cost.spend import run_prices, stored_cost, stored_prices
from tuieval.engine import judging
from tuieval.engine.events import (
    ConcurrencyChanged,
    Event,
    JudgeFinished,
    RunFinished,
    RunStarted,
    SampleFinished,
    SampleKey,
    SampleRetry,
    SampleStarted,
    TokenDelta,
)
from tuieval.engine.limiter import AdaptiveLimiter
from tuieval.engine.writer import SampleWriter, batch_rows_for
from tuieval.store import Store
from tuieval.store.shadow import case_positions
from tuieval.suite.model import Case, Suite, Template

EventHandler = Callable[[Event], None]
#: json.dumps(messages, ensure_ascii=False), its C encoder made once (tuieval.json_text)
_encode_prompt = json_text.encoder(ensure_ascii=False)

#: After a cancellation, how long the engine waits for its workers to unwind before it
#: marks the run partial and returns anyway (a stuck socket must not hold the exit).
CANCEL_GRACE_S = 1.0
#: Workers per concurrency slot: a sample waiting out its back-off holds a worker but no
#: slot, so spare workers keep the slots busy meanwhile.
WORKERS_PER_SLOT = 2


@dataclass
class RunOptions:
    """How to run a suite. None means: take the suite's own setting."""

    model: str
    samples: int | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    concurrency: int = 8
    limit: int | None = None
    slo_ms: float | None = None
    base_url: str | None = None
    stream: bool = True
    max_retries: int = 6
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    emit_tokens: bool = False
    #: judge only the samples of these cases, stored or new (None: every sample that owes
    #: judgements); a shadow evaluation judges its disagreements alone, and nothing while it replays
    judge_cases: frozenset[str] | None = None
    #: Stop sending requests once the run has cost this many dollars (tuieval.cost.budget);
    #: `prices` (a tuieval.cost.prices.PriceTable) then prices the model and the judges.
    max_cost: float | None = None
    prices: Any = None
    #: Sent as provider batch jobs (tuieval.batch), not one request at a time.
    batch: bool = False
    #: The response cache file of a `--cache` run: stored with the run so the report's
    #: embedding calls are cached in it too (tuieval.engine.caching.EmbeddingCache).
    cache_path: str | None = None


@dataclass
class WorkItem:
    """One (case, template, sample) to send, in its dispatch order."""

    key: SampleKey
    case: Case
    template: Template
    dispatch_order: int


@dataclass
class _Outcome:
    """One request's end: the result or the error, the attempts, the latency."""

    result: Any
    error: BackendError | None
    attempts: int
    latency_ms: float


class _Abandoned(Exception):
    """The run is stopping (another request found a fatal failure): this request is not sent."""


#: public name of the "not sent: the run is stopping" signal, for `Engine.call`'s callers
Abandoned = _Abandoned


class _CacheMiss(_Abandoned):
    """`--cache-only`: the answer is not in the cache, so the request is not sent (nothing stored)."""


class FatalRunError(Exception):
    """Every request would fail the same way (bad key, unknown model): the run stops."""


class Engine:
    """Runs one suite against one backend, writing to one store."""

    def __init__(self, store: Store, backend: ModelBackend, on_event: EventHandler | None = None, *,
                 judge_backends: dict[tuple, ModelBackend] | None = None, cache: Any = None,
                 cache_only: bool = False) -> None:
        self.store = store
        #: The response cache (tuieval.store.response_cache.ResponseCache) or None; with
        #: `cache_only` a miss is not sent but counted in `n_cache_missing`.
        self.cache = cache
        self.cache_only = cache_only
        self.n_cache_missing = 0
        self.backend = backend
        #: (judge spec, base URL, key variable) → backend (tuieval.engine.judging.make_judge_backends);
        #: the engine closes them when the run ends
        self.judge_backends: dict[tuple, ModelBackend] = dict(judge_backends or {})
        self.n_judge_done = 0
        self.n_judge_total = 0
        self.on_event = on_event or (lambda event: None)
        #: whether the listener wants SampleStarted (see `run`: one per request, which the headless
        #: progress line ignores, so none is built for it)
        self._tell_started = self._tell_tokens = True
        self.n_done = 0
        self.n_errors = 0
        self.n_retries = 0
        self.n_total = 0
        self.in_flight: dict[SampleKey, float] = {}
        self.limiter: AdaptiveLimiter | None = None
        self.fatal: str | None = None
        #: Requests that succeeded in this process (a server that answered once is there).
        self.n_succeeded = 0
        self._succeeded: set[int] = set()  # id() of the backends that answered at least once
        #: The run's spending limit (`--max-cost`), and whether it stopped the run.
        self.budget: Budget | None = None
        self.stopped_by_budget = False
        #: Commits the finished samples in small batches (tuieval.engine.writer); made per run.
        self.writer: SampleWriter | None = None
        #: run id → its cases as `create_run` stored them (id, vars, targets, metadata), until planned
        self._created_cases: dict[str, list[tuple[str, Any, Any, Any]]] = {}
        #: run id → case id → a case just appended to it (`remember_appended`), until planned
        self._appended_cases: dict[str, dict[str, Case]] = {}

    # -- planning ------------------------------------------------------------------

    def create_run(self, suite: Suite, options: RunOptions) -> str:
        """Store the run and its cases; the returned id is what `--resume` takes."""
        cases = suite.cases[: options.limit] if options.limit else suite.cases
        samples = options.samples or suite.sampling.samples
        temperature = suite.sampling.temperature if options.temperature is None else options.temperature
        config = suite.config()
        config["stream"] = options.stream
        if options.batch:
            config["batch"] = True
        if options.cache_path:
            config["response_cache"] = options.cache_path
        t = options.timeouts
        config["timeouts"] = {"connect": t.connect, "read": t.read, "total": t.total}
        if options.prices is not None:
            # What the run was priced at when it ran: a later price change does not rewrite it.
            config["prices"] = stored_prices(options.prices, options.model, config.get("scorers"), config)
        run = {
            "suite": suite.name,
            "suite_path": suite.path,
            "model": options.model,
            "simulated": int(bool(getattr(self.backend, "simulated", False))),
            "samples_per_case": samples,
            "temperature": temperature,
            "max_tokens": options.max_tokens or suite.sampling.max_tokens,
            "seed": suite.sampling.seed if options.seed is None else options.seed,
            "concurrency": options.concurrency,
            "slo_ms": options.slo_ms or suite.slo_ms,
            "base_url": options.base_url,
            "n_cases": len(cases),
            "n_templates": len(suite.templates),
            "n_expected": len(cases) * len(suite.templates) * samples,
            "config": config,
        }
        run_id = self.store.create_run(
            run,
            (
                {"case_id": c.id, "position": i, "vars": c.vars, "targets": c.targets, "metadata": c.metadata,
                 "input_text": c.input_text()}
                for i, c in enumerate(cases)
            ),
        )
        # `plan` takes these instead of decoding every stored case again (30,000 json.loads for a
        # 10,000-case suite), when what it would decode is known to equal them (`_reads_back_equal`)
        if all(_reads_back_equal(c.vars) and _reads_back_equal(c.targets) and _reads_back_equal(c.metadata)
               for c in cases):
            self._created_cases[run_id] = [(c.id, c.vars, c.targets, c.metadata) for c in cases]
        return run_id

    def plan(self, run: dict[str, Any], case_ids: Sequence[str] | None = None) -> tuple[list[WorkItem], int]:
        """Every (case, template, sample) of the run in dispatch order, minus those stored, and how
        many of the run's samples are stored.

        With `case_ids` — cases appended to a run that grows batch by batch (tuieval.traffic.shadow) —
        only those cases are planned, from their own stored rows and stored samples, so planning a
        batch costs what the batch holds, not what the run holds (see `_plan_cases`)."""
        if case_ids is not None:
            return self._plan_cases(run, case_ids)
        templates = [Template(**t) for t in run["config"]["templates"]]
        created = self._created_cases.pop(run["id"], None)
        if created is not None and self.store.count_cases(run["id"]) != len(created):
            created = None  # cases were appended since (tuieval.store.shadow): the store has them all
        if created is not None:  # stored by this engine just now: the same values, in position order
            cases = [Case(id=cid, vars=vars_, targets=targets, metadata=metadata)
                     for cid, vars_, targets, metadata in created]
        else:
            cases = [
                Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"])
                for c in self.store.get_cases(run["id"])
            ]
        keys = [
            (case, template, i)
            for case in cases for template in templates for i in range(run["samples_per_case"])
        ]
        # Same seed, same order: a resumed run keeps each sample's dispatch position.
        random.Random(f"dispatch:{run['seed']}:{run['id']}").shuffle(keys)
        done = self.store.done_keys(run["id"])
        work = [
            WorkItem(SampleKey(case.id, template.id, i), case, template, order)
            for order, (case, template, i) in enumerate(keys)
            if (case.id, template.id, i) not in done
        ]
        return work, len(done)

    def remember_appended(self, run_id: str, cases: Sequence[Case]) -> None:
        """Cases the caller has just appended to a stored run (tuieval.store.shadow.append_encoded_cases
        says which were new), with the values it stored: the next `run(…, cases=…)` of that run
        plans them from these instead of decoding their stored rows again. A case whose values
        would not read back from their JSON as themselves is left to the store."""
        self._appended_cases[run_id] = {c.id: c for c in cases if _reads_back_equal(c.vars)
                                        and _reads_back_equal(c.targets) and _reads_back_equal(c.metadata)}

    def _plan_cases(self, run: dict[str, Any], case_ids: Sequence[str]) -> tuple[list[WorkItem], int]:
        """The work of some stored cases of a run (a batch appended to it).

        Their dispatch positions start where the samples of the cases before them end (first
        position × templates × samples) and are shuffled among themselves, seeded by the run and
        that offset: the same batch planned again (a resume) keeps each sample's position, and
        positions of different batches never collide."""
        known = self._appended_cases.pop(run["id"], None)
        if known is not None and all(cid in known for cid in case_ids):
            # appended just now with these values (`remember_appended`): only their positions are
            # read, not three JSON columns a case decoded again
            rows = [{"case_id": cid, "position": pos} for cid, pos in case_positions(self.store, run["id"], case_ids)]
            cases = [known[c["case_id"]] for c in rows]
        else:
            rows = self.store.get_cases(run["id"], case_ids)
            cases = [Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"]) for c in rows]
        if not rows:
            return [], self.store.count_samples(run["id"])
        templates = [Template(**t) for t in run["config"]["templates"]]
        per_case = len(templates) * run["samples_per_case"]
        offset = min(int(c["position"]) for c in rows) * per_case
        keys = [(case, template, i) for case in cases for template in templates for i in range(run["samples_per_case"])]
        random.Random(f"dispatch:{run['seed']}:{run['id']}:{offset}").shuffle(keys)
        done = self.store.done_keys(run["id"], [c["case_id"] for c in rows])
        work = [
            WorkItem(SampleKey(case.id, template.id, i), case, template, offset + order)
            for order, (case, template, i) in enumerate(keys)
            if (case.id, template.id, i) not in done
        ]
        return work, self.store.count_samples(run["id"])

    # -- running -------------------------------------------------------------------

    def _budget(self, run: dict[str, Any], options: RunOptions) -> Budget:
        """The run's budget, with what its stored samples and judgements already cost."""
        # the prices the run started with win: a resume without --prices keeps them
        prices = run_prices(run, fallback=options.prices)
        price = prices.get(run["model"])
        if price is None:
            raise ValueError(f"--max-cost: no price for {run['model']}")
        self._judge_prices = prices
        budget = Budget(limit=options.max_cost, price=price)
        budget.add(stored_cost(self.store, run, prices)["total"])
        return budget

    async def run(self, run_id: str, options: RunOptions, *, resumed: bool = False,
                  cases: Sequence[str] | None = None) -> RunFinished:
        """Run (or finish) a stored run. Cancellation marks it partial and re-raises.

        With `cases`, only the samples of those stored cases are planned and sent (a batch
        appended to a growing run, `plan`)."""
        from tuieval.scoring import build_scorers

        run = self.store.get_run(run_id)
        scorers = build_scorers(run["config"].get("scorers"))
        work, already = self.plan(run, cases)
        self.n_total = run["n_expected"]
        self.n_done = already
        self.n_errors = self.store.count_errors(run_id)
        jobs = self._plan_judging(run, scorers, work, options)
        self._judge_units = judging.all_units(scorers)  # every sample owes these: listed once per run
        if resumed:
            self.store.mark_resumed(run_id)
        self.limiter = self._limiter_for(options.concurrency)
        self.writer = SampleWriter(self.store, max_rows=batch_rows_for(options.concurrency))
        if options.max_cost is not None:
            self.budget = self._budget(run, options)
            self._budget_moved = asyncio.Event()
        # A listener may say which event types it drops unread (tuieval.progress.Progress does):
        # those built per request are then not built at all.
        ignored = getattr(self.on_event, "ignored_events", ())
        self._tell_started = SampleStarted not in ignored
        self._tell_tokens = TokenDelta not in ignored
        started = time.monotonic()
        self.on_event(RunStarted(run_id, run["suite"], run["model"], run["simulated"], self.n_total, already, resumed,
                                 self.n_judge_total, self.n_judge_done))

        queue = iter([*jobs, *work])  # judging owed by stored samples first
        status = "partial"
        try:
            workers = [
                asyncio.create_task(self._worker(queue, run, options, scorers))
                # judging owed counts too: a batch run's judges are all owed by stored samples
                for _ in range(min(options.concurrency * WORKERS_PER_SLOT, max(1, len(work) + len(jobs))))
            ]
            try:
                await asyncio.gather(*workers)
            except BaseException:
                for w in workers:
                    w.cancel()
                # Bounded: a task that ignores its cancellation must not keep the run open.
                await asyncio.wait(workers, timeout=CANCEL_GRACE_S)
                raise
            judged = self.n_judge_done >= self.n_judge_total
            status = "complete" if self.n_done >= self.n_total and judged else "partial"
        except FatalRunError:
            status = "failed"
        finally:
            self.writer.flush()  # what finished is stored, whatever ended the run
            await self._close_judges()
            self.store.set_status(run_id, status)
            finished = RunFinished(run_id, status, self.n_done, self.n_total, self.n_errors, time.monotonic() - started)
            self.on_event(finished)
        return finished

    def _limiter_for(self, concurrency: int) -> AdaptiveLimiter:
        """The limiter a run() call sends through: the one an earlier call on this engine used, when it
        was for the same --concurrency and holds no request, so a run that grows batch by batch
        (tuieval.traffic.shadow) starts each batch at the limit the server's 429s taught the last one
        rather than at full concurrency again; else a new one."""
        old = self.limiter
        if old is not None and old.maximum == max(1, concurrency) and old.in_flight == 0:
            return old
        return AdaptiveLimiter(concurrency)

    def _plan_judging(self, run: dict[str, Any], scorers: list, work: list[WorkItem],
                      options: RunOptions) -> list[judging.JudgeJob]:
        """Judge backends, the judging stored samples still owe, and the judge request counts."""
        per_sample = judging.units_per_sample(scorers)
        if not per_sample or options.judge_cases == frozenset():
            return []   # nothing to judge (a shadow replay's batches judge nothing)
        self.judge_backends.update(judging.make_judge_backends(scorers, options.timeouts, self.judge_backends))
        cases = {w.case.id: w.case for w in work}
        cases.update({c["case_id"]: Case(id=c["case_id"], vars=c["vars"], targets=c["targets"],
                                         metadata=c["metadata"]) for c in self.store.get_cases(run["id"])})
        if options.judge_cases is not None:
            cases = {cid: c for cid, c in cases.items() if cid in options.judge_cases}
        jobs = judging.pending_judging(self.store, run, scorers, cases)
        self.n_judge_done = self.store.count_judgements(run["id"])
        judged_work = len(work) if options.judge_cases is None else sum(w.case.id in options.judge_cases for w in work)
        self.n_judge_total = self.n_judge_done + sum(len(j.units) for j in jobs) + judged_work * per_sample
        return jobs

    async def _close_judges(self) -> None:
        for backend in self.judge_backends.values():
            try:
                await asyncio.wait_for(backend.aclose(), timeout=1.0)
            except (Exception, asyncio.CancelledError):
                pass  # best effort: the judgements are stored
        self.judge_backends.clear()

    async def _worker(self, queue, run: dict[str, Any], options: RunOptions, scorers: list) -> None:
        for item in queue:
            if self.fatal:
                return
            if isinstance(item, judging.JudgeJob):
                if self.budget is not None and self.budget.exhausted:
                    # judging owed by stored samples (a resumed or batch run) stops at the limit too
                    self.stopped_by_budget = True
                    return
                await self._judge(item, run, options, scorers)
            elif self.budget is not None and not await self._admit():
                # The limit is reached: this request is not sent; the run ends partial, resumable.
                self.stopped_by_budget = True
                return
            else:
                await self._sample(item, run, options, scorers)

    async def _admit(self) -> bool:
        """Wait until the budget admits one more request; False once nothing in flight can free room."""
        assert self.budget is not None
        while not self.budget.admit():
            if self.budget.in_flight == 0:
                return False
            await self._budget_moved.wait()
        return True

    def _budget_changed(self) -> None:
        """Wake the workers waiting for room in the budget (a request finished or was dropped)."""
        moved, self._budget_moved = self._budget_moved, asyncio.Event()
        moved.set()

    async def _judge(self, job: judging.JudgeJob, run: dict[str, Any], options: RunOptions, scorers: list) -> None:
        """Every judgement `job` still owes, concurrently (each through the limiter), then the verdict."""
        by_name = {s.name: s for s in judging.judge_scorers(scorers)}
        try:
            async with asyncio.TaskGroup() as group:
                for unit in job.units:
                    group.create_task(self._judge_one(job, by_name[unit[0]], unit, run, options))
        except BaseExceptionGroup as eg:
            fatal = [e for e in eg.exceptions if isinstance(e, FatalRunError)]
            raise (fatal[0] if fatal else eg.exceptions[0]) from None
        judging.write_verdict(self.store, run["id"], job.key, scorers, job.scores)

    async def _judge_one(self, job: judging.JudgeJob, scorer, unit: judging.Unit, run: dict[str, Any],
                         options: RunOptions) -> None:
        backend = self.judge_backends[judging.backend_key(scorer, unit[1])]
        request = judging.judge_request(scorer, job, unit[1], unit[2], unit[3], run["seed"])
        try:
            out = await self._call(backend, request, options)
        except _Abandoned:
            return
        row = judging.judgement_row(run["id"], scorer, job, unit, request, out.result, out.error, out.attempts,
                                    out.latency_ms)
        if self.store.add_judgement(row):
            self.n_judge_done += 1
        if self.budget is not None and not row.get("cached"):
            price = self._judge_prices.get(unit[1])
            if price is not None:
                self.budget.add(price.cost(row.get("input_tokens"), row.get("output_tokens"),
                                           cached_tokens=row.get("cached_tokens"),
                                           cache_write_tokens=row.get("cache_write_tokens"),
                                           cache_write_1h_tokens=row.get("cache_write_1h_tokens")))
        self.on_event(JudgeFinished(job.key, row, self.n_judge_done, self.n_judge_total))

    async def call(self, backend: ModelBackend, request: ChatRequest, options: RunOptions) -> "_Outcome":
        """One request with the engine's rules, for a scheduler beside the run's own (tuieval.redteam):
        the same limiter (made on first use), failure table and back-off. Raises FatalRunError, or
        Abandoned once another request found a fatal failure."""
        if self.limiter is None:
            self.limiter = AdaptiveLimiter(options.concurrency)
        return await self._call(backend, request, options)

    async def _call(self, backend: ModelBackend, request: ChatRequest, options: RunOptions, on_delta=None,
                    on_attempt: Callable[[int], None] | None = None,
                    on_retry: Callable[[int, BackendError, float], None] | None = None) -> _Outcome:
        """One request with the engine's rules: the limiter, the failure table's action, the back-off.

        Raises FatalRunError when every request would fail the same way (nothing is stored)."""
        assert self.limiter is not None
        key = None
        if self.cache is not None:
            key, endpoint, draw = cache_key(backend, request)
            hit = self.cache.get(key)
            if hit is not None:  # answered before: no request, no slot, no limiter
                result = result_from_row(hit)
                if on_attempt is not None:
                    on_attempt(1)
                if on_delta is not None and result.text:
                    on_delta(result.text)
                return _Outcome(result, None, 1, result.latency_ms)
            if self.cache_only:
                self.n_cache_missing += 1
                raise _CacheMiss()
        # A backend that enforces its total timeout keeps what arrived when it fires; only
        # one without (the simulators) gets the engine's clock.
        guard = None if getattr(backend, "enforces_total_timeout", False) else options.timeouts.total
        attempt = 0
        result = None
        error: BackendError | None = None
        latency_ms = 0.0
        while True:
            attempt += 1
            ticket = await self.limiter.acquire()
            if self.fatal:  # another request found that every request fails: send no more
                self.limiter.release()
                raise _Abandoned()
            if on_attempt is not None:
                on_attempt(attempt)
            t0 = time.perf_counter()
            try:
                if guard is None:  # the backend keeps its own clock: no second timer per request
                    result = await backend.complete(request, on_delta)
                else:
                    async with asyncio.timeout(guard):
                        result = await backend.complete(request, on_delta)
                error = None
            except TimeoutError:
                error = RequestTimeout(f"total timeout ({options.timeouts.total:g}s)")
            except BackendError as exc:
                error = exc
            finally:
                self.limiter.release()
            latency_ms = (time.perf_counter() - t0) * 1000.0
            before = self.limiter.limit
            changed = self.limiter.on_result(
                ticket, rate_limited=error is not None and error.action == BACK_OFF, duration_s=latency_ms / 1000.0,
                info=(result.rate_limit if error is None and result is not None else getattr(error, "rate_limit", None)))
            if changed:
                # the window that moved the limit may close on a success: say which way it moved
                why = "rate limited (429)" if self.limiter.limit < before else "recovering"
                self.on_event(ConcurrencyChanged(self.limiter.limit, why))
            if error is None:
                self.n_succeeded += 1
                self._succeeded.add(id(backend))
                break
            if error.action == STOP:
                self.fatal = error.reason
            elif error.unreachable and id(backend) not in self._succeeded:
                where = getattr(backend, "base_url", None)
                self.fatal = f"cannot reach {where}: {error.reason}" if where else error.reason
            if self.fatal:
                # Nothing was learned about the model: store nothing, so --resume asks again.
                raise FatalRunError(self.fatal)
            if not error.retryable or attempt > options.max_retries:
                break
            policy = BackoffPolicy(base_s=options.retry_base_s, cap_s=options.retry_cap_s,
                                   retry_after_cap_s=options.retry_cap_s)
            delay = backoff_delay(attempt, error.retry_after, policy)
            self.n_retries += 1
            if on_retry is not None:
                on_retry(attempt, error, delay)
            await asyncio.sleep(delay)
        if key is not None and error is None and result is not None:
            data = row_from_result(result)
            data["latency_ms"] = result.latency_ms or latency_ms
            self.cache.put(key, endpoint, backend.spec, draw, data)
        return _Outcome(result, error, attempt, latency_ms)

    async def _sample(self, item: WorkItem, run: dict[str, Any], options: RunOptions, scorers: list) -> None:
        assert self.limiter is not None
        request = chat_request(item, run, bool(run["config"].get("stream", options.stream)))
        messages = request.messages
        on_delta = None
        if options.emit_tokens and self._tell_tokens:
            key = item.key
            on_delta = lambda text: self.on_event(TokenDelta(key, text))  # noqa: E731

        def on_attempt(attempt: int) -> None:
            self.in_flight[item.key] = time.monotonic()
            if self._tell_started:
                self.on_event(SampleStarted(item.key, item.dispatch_order, messages, attempt))

        def on_retry(attempt: int, error: BackendError, delay: float) -> None:
            self.in_flight.pop(item.key, None)
            self.on_event(SampleRetry(item.key, attempt, error.reason, delay, error.action == BACK_OFF))

        try:
            out = await self._call(self.backend, request, options, on_delta, on_attempt, on_retry)
        except _Abandoned:
            if self.budget is not None:
                self.budget.release()
                self._budget_changed()
            return
        finally:
            self.in_flight.pop(item.key, None)
        result, error, attempt, latency_ms = out.result, out.error, out.attempts, out.latency_ms

        row = sample_row(run["id"], item, messages, scorers, result, error, attempt, latency_ms)
        if error is not None:
            self.n_errors += 1
        if self.budget is not None:
            if error is None and result.cached:
                self.budget.settle(0, 0)  # a cached answer costs nothing
            elif error is None:
                self.budget.settle(row["input_tokens"], row["output_tokens"], prompt_text=row["prompt"],
                                   answer_text=row["response"], cached_tokens=row["cached_tokens"],
                                   cache_write_tokens=row["cache_write_tokens"],
                                   cache_write_1h_tokens=row["cache_write_1h_tokens"])
            else:  # a failed request is billed for what the server counted, if anything
                self.budget.settle(row["input_tokens"] or 0, row["output_tokens"] or 0,
                                   cached_tokens=row["cached_tokens"], cache_write_tokens=row["cache_write_tokens"],
                                   cache_write_1h_tokens=row["cache_write_1h_tokens"])
            self._budget_changed()
        stored = await self.writer.add(row)
        if stored:
            self.n_done += 1
        self.on_event(SampleFinished(item.key, row, item.case.metadata))
        units = self._judge_units
        if units and options.judge_cases is not None and item.case.id not in options.judge_cases:
            units = []  # this run judges only the cases named (a shadow replay judges after it compares)
        if units and stored:
            if error is None:
                await self._judge(judging.JudgeJob(item.key, item.case, judging.question_of(messages), result.text,
                                                   row["scores"], units), run, options, scorers)
            else:
                self.n_judge_total -= len(units)  # a failed request has no answer to judge


def _reads_back_equal(value: Any) -> bool:
    """Whether `value` read back from its JSON text equals it, with the same types: JSON's own
    scalars, lists and dicts with string keys (a tuple would come back a list, a number key a string)."""
    kind = type(value)
    if kind is str or kind is int or kind is float or kind is bool or value is None:
        return True
    if kind is list:
        return all(map(_reads_back_equal, value))
    if kind is dict:
        return all(type(k) is str and _reads_back_equal(v) for k, v in value.items())
    return False


def chat_request(item: WorkItem, run: dict[str, Any], stream: bool) -> ChatRequest:
    """The request of one (case, template, sample) of a run, as the engine and the batch runner send it."""
    hint = {"case_id": item.case.id, "template": item.template.id, "sample_index": item.key.sample_index,
            "targets": item.case.targets, "metadata": item.case.metadata, "seed": run["seed"]}
    if run.get("simulated", 1):  # only the simulators read the input's text (its length shapes their answers)
        hint["input_text"] = item.case.input_text()
    return ChatRequest(
        messages=item.template.render(item.case),
        temperature=run["temperature"],
        max_tokens=run["max_tokens"],
        seed=run["seed"],
        stream=stream,
        hint=hint,
    )


def sample_row(run_id: str, item: "WorkItem", messages: list[dict[str, Any]], scorers: list, result: Any,
               error: BackendError | None, attempts: int, latency_ms: float | None) -> dict[str, Any]:
    """The stored row of one finished request: scored by every scorer when it was answered, an
    error sample (never correct) when not. One rule for the interactive engine and the batch
    runner (tuieval.batch), whose samples have no latency (None)."""
    case = item.case
    if error is None and result is not None:
        text, targets = result.text, case.targets
        by_scorer: dict[str, Any] = {}
        primary = None
        for s in scorers:
            sc = s.score(text, targets)
            entry = {"extracted": sc.extracted, "correct": sc.correct, "score": sc.score}
            if isinstance(s, judging.JudgeScorer):
                entry["pending"] = True  # not correct until its judgements are in
            by_scorer[s.name] = entry
            if primary is None:
                primary = sc
        assert primary is not None
        timed = latency_ms is not None
        # one literal, in the order the keys always had (the first seven, then the answer's)
        return {
            "run_id": run_id, "case_id": case.id, "template": item.template.id,
            "sample_index": item.key.sample_index, "dispatch_order": item.dispatch_order,
            "prompt": _encode_prompt(messages), "attempts": attempts,
            "response": text, "reasoning": result.reasoning or None, "extracted": primary.extracted,
            "correct": primary.correct, "score": primary.score, "scores": by_scorer,
            "latency_ms": (result.latency_ms or latency_ms) if timed else None,
            "ttft_ms": result.ttft_ms if timed else None,
            "output_tokens": result.output_tokens, "input_tokens": result.input_tokens,
            "cached_tokens": result.cached_tokens, "cache_write_tokens": result.cache_write_tokens,
            "cache_write_1h_tokens": result.cache_write_1h_tokens, "finish_reason": result.finish_reason,
            "cached": result.cached,
        }
    row: dict[str, Any] = {
        "run_id": run_id, "case_id": case.id, "template": item.template.id,
        "sample_index": item.key.sample_index, "dispatch_order": item.dispatch_order,
        "prompt": _encode_prompt(messages), "attempts": attempts,
    }
    assert error is not None
    timed_out = error.kind == "timeout"
    row.update(
        response=error.partial_text or None, correct=False, score=0.0, error=error.reason,
        error_kind=error.kind, ttft_ms=error.ttft_ms,
        output_tokens=error.output_tokens, input_tokens=error.input_tokens,
        cached_tokens=error.cached_tokens, cache_write_tokens=error.cache_write_tokens,
        cache_write_1h_tokens=error.cache_write_1h_tokens,
        # A timeout is right-censored at the time we gave up: keep it for tail statistics.
        latency_ms=(error.latency_ms or latency_ms) if timed_out else None,
    )
    return row
