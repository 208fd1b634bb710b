"""The red-team scheduler: seed answers, then attacks, every request through the engine.

1. **Seeds.** Each target answers every seed case once, as an ordinary run (tuieval.engine:
   the suite's first template, one sample, the decider as its primary scorer). A seed the
   target got wrong cannot be broken, so that target is not sent its attacks.
2. **Attacks.** Units (try, case, strategy) in that order — so a small budget still covers
   every case and strategy once before any second try. For each unit the attacker writes the
   attack (one request, stored), each target whose seed was right answers it (one request per
   turn, stored), and the decider says whether the answer is still right: the case's own scorer
   (no request) or the judge (its units, stored with the verdict).

**Budget.** Every request counts: the seed answers and their judgements, each attacker request,
each target turn and each judge request (a retried request counts once; its attempts are
stored). Before anything is sent the seeds' cost must fit; then units are taken in order while
their *reserved* cost (a multi-turn attack reserves MAX_TURNS turns) still fits, and the first
that does not fit ends the plan. The reservation depends only on stored seed verdicts, so a
resumed run plans exactly the same units.

**Resume.** A stored attack is never re-requested, a stored answer never re-asked, a stored
verdict never re-judged; only what was in flight at a kill is sent again (a multi-turn
conversation cut mid-way starts again from its first turn).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from tuieval.backends.base import ChatRequest, ModelBackend, Timeouts
from tuieval.engine import Engine, FatalRunError, RunOptions, SampleKey
from tuieval.engine import judging
from tuieval.engine.runner import Abandoned
from tuieval.redteam import strategies as st
from tuieval.sample_rules import is_correct
from tuieval.scoring.base import target_text
from tuieval.scoring.judge import JudgeScorer, sample_verdict
from tuieval.store import Store
from tuieval.store.redteam import AttackKey, RedTeamStore
from tuieval.suite.model import Case, Sampling, Suite, Template

#: name of the judge scorer `--judge SPEC` adds to the seed runs (their primary scorer)
JUDGE_SCORER = "redteam_judge"


class BudgetError(ValueError):
    """The budget cannot even pay for the seed answers (the message gives both numbers)."""


@dataclass
class RedTeamOptions:
    """Settings of a red-team run; everything here is stored so a resume needs none of it."""

    targets: list[str]
    attacker: str
    judge: str | None = None
    strategies: list[str] = field(default_factory=lambda: list(st.STRATEGIES))
    tries: int = 1
    budget: int | None = None
    seed: int = 0
    limit: int | None = None
    concurrency: int = 8
    base_url: str | None = None
    api_key_env: str | None = None
    attacker_base_url: str | None = None
    judge_base_url: str | None = None
    max_retries: int = 6
    retry_base_s: float = 0.5
    retry_cap_s: float = 30.0
    timeouts: Timeouts = field(default_factory=Timeouts)
    stream: bool = False

    def stored(self) -> dict[str, Any]:
        t = self.timeouts
        return {"targets": self.targets, "attacker": self.attacker, "judge": self.judge,
                "strategies": self.strategies, "tries": self.tries, "budget": self.budget, "seed": self.seed,
                "base_url": self.base_url, "api_key_env": self.api_key_env,
                "attacker_base_url": self.attacker_base_url, "judge_base_url": self.judge_base_url,
                "timeouts": {"connect": t.connect, "read": t.read, "total": t.total}, "stream": self.stream}

    @classmethod
    def from_stored(cls, config: dict[str, Any], **given: Any) -> "RedTeamOptions":
        t = config.get("timeouts") or {}
        keep = {k: config.get(k) for k in ("targets", "attacker", "judge", "strategies", "tries", "budget", "seed",
                                          "base_url", "api_key_env", "attacker_base_url", "judge_base_url")}
        return cls(**keep, timeouts=Timeouts(**t) if t else Timeouts(), stream=bool(config.get("stream")),
                   **{k: v for k, v in given.items() if v is not None})


def judge_spec(spec: str, base_url: str | None) -> dict[str, Any]:
    """The judge scorer `--judge SPEC` adds (reference mode: is the answer still the target?)."""
    out: dict[str, Any] = {"type": "judge", "name": JUDGE_SCORER, "model": spec}
    if base_url:
        out["base_url"] = base_url
    return out


def seed_suite(suite: Suite, options: RedTeamOptions) -> Suite:
    """The suite the seed runs use: its first template, one sample, the decider first."""
    scorers = list(suite.scorers)
    if options.judge:
        from tuieval.scoring.base import ScorerSpec

        spec = judge_spec(options.judge, options.judge_base_url)
        scorers = [ScorerSpec("judge", JUDGE_SCORER, tuple((k, v) for k, v in spec.items()
                                                            if k not in ("type", "name"))), *scorers]
    cases = suite.cases[: options.limit] if options.limit else suite.cases
    return replace(suite, templates=suite.templates[:1], cases=list(cases), perturbations=(),
                   sampling=Sampling(samples=1, temperature=suite.sampling.temperature,
                                     max_tokens=suite.sampling.max_tokens, seed=options.seed),
                   scorers=scorers)


def seed_cost(n_cases: int, n_targets: int, scorers: list) -> int:
    """Requests the seed answers cost: one per case and target, plus every judge unit on each."""
    return n_cases * n_targets * (1 + judging.units_per_sample(scorers))


def decider_units(scorers: list) -> int:
    """Judge requests one attack answer costs (0 when the case's own scorer decides)."""
    primary = scorers[0] if scorers else None
    return len(primary.units()) if isinstance(primary, JudgeScorer) else 0


def decider_name(scorers: list) -> str:
    primary = scorers[0]
    if isinstance(primary, JudgeScorer):
        return "judge:" + ",".join(primary.models)
    return f"scorer:{primary.name}"


@dataclass
class Seed:
    """One seed case as the targets saw it."""

    case: Case
    messages: list[dict[str, str]]
    question: str
    correct: dict[str, bool]  # run id → the target answered the seed right


@dataclass
class Unit:
    key: AttackKey
    seed: Seed
    targets: list[str]  # run ids sent this attack
    cost: int


def plan_units(seeds: list[Seed], strategies: list[str], tries: int, run_ids: list[str], judge_units: int,
               budget_left: int | None) -> tuple[list[Unit], int]:
    """The units the budget pays for, in order (see the module docstring); and how many were cut."""
    units: list[Unit] = []
    spent = 0
    total = 0
    cut = False
    for t in range(tries):
        for seed in seeds:
            eligible = [r for r in run_ids if seed.correct.get(r)]
            if not eligible:
                continue
            for strategy in strategies:
                total += 1
                turns = st.MAX_TURNS if strategy == st.MULTI_TURN else 1
                cost = 1 + len(eligible) * (turns + judge_units)
                if cut or (budget_left is not None and spent + cost > budget_left):
                    cut = True
                    continue
                spent += cost
                units.append(Unit((seed.case.id, strategy, t), seed, eligible, cost))
    return units, total - len(units)


class RedTeam:
    """Runs (or resumes) one stored red-team run."""

    def __init__(self, store: Store, on_note: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.rt = RedTeamStore(store)
        self.on_note = on_note or (lambda line: None)
        self.fatal: str | None = None
        self.n_units = 0
        self.n_done = 0
        self.n_cut = 0

    # -- creating ------------------------------------------------------------------

    def create(self, suite: Suite, options: RedTeamOptions, target_backends: dict[str, ModelBackend]) -> str:
        """Store the red-team run and one seed run per target; raise BudgetError before any row
        when the budget cannot pay for the seeds."""
        from tuieval.scoring import build_scorers

        seeds = seed_suite(suite, options)
        scorers = build_scorers([s.as_mapping() for s in seeds.scorers])
        cost = seed_cost(len(seeds.cases), len(options.targets), scorers)
        if options.budget is not None and options.budget < cost:
            raise BudgetError(f"--budget: {options.budget} requests cannot pay for the seed answers alone "
                              f"({len(seeds.cases)} cases × {len(options.targets)} target(s) = {cost} requests "
                              "with their judgements); raise it or use --limit")
        run_ids = []
        for spec in options.targets:
            engine = Engine(self.store, target_backends[spec])
            run_ids.append(engine.create_run(seeds, self._run_options(options, spec, target_backends[spec])))
        return self.rt.create({"suite": suite.name, "suite_path": suite.path, "attacker": options.attacker,
                               "decider": decider_name(scorers), "run_ids": run_ids, "strategies": options.strategies,
                               "tries": options.tries, "budget": options.budget, "seed": options.seed,
                               "config": {**options.stored(), "seed_cost": cost}})

    @staticmethod
    def _run_options(options: RedTeamOptions, spec: str, backend: ModelBackend | None = None) -> RunOptions:
        return RunOptions(model=spec, samples=1, seed=options.seed, concurrency=options.concurrency,
                          base_url=getattr(backend, "base_url", None) or options.base_url, stream=options.stream,
                          max_retries=options.max_retries, retry_base_s=options.retry_base_s,
                          retry_cap_s=options.retry_cap_s, timeouts=options.timeouts)

    # -- running -------------------------------------------------------------------

    async def run(self, redteam_id: str, options: RedTeamOptions, target_backends: dict[str, ModelBackend],
                  attacker: ModelBackend, *, resumed: bool = False) -> str:
        """Run the stored red-team run to its end; return its status (complete | partial | failed)."""
        from tuieval.scoring import build_scorers

        record = self.rt.get(redteam_id)
        self.rt.set_status(redteam_id, "running")
        status = "partial"
        try:
            for run_id, spec in zip(record["run_ids"], options.targets):
                run = self.store.get_run(run_id)
                if run["status"] == "complete":
                    continue
                judges = judging.make_judge_backends(build_scorers(run["config"].get("scorers")), options.timeouts)
                engine = Engine(self.store, target_backends[spec], judge_backends=judges)
                finished = await engine.run(run_id, self._run_options(options, spec, target_backends[spec]),
                                            resumed=resumed)
                if finished.status == "failed":
                    self.fatal = f"target {spec}: {engine.fatal}"
                    status = "failed"
                    return status
                if finished.status != "complete":
                    return status
                self.on_note(f"seeds: {spec} answered {finished.n_done} case(s)")
            status = await self._attack(record, options, target_backends, attacker)
            return status
        finally:
            self.rt.set_status(redteam_id, status)

    def seeds(self, record: dict[str, Any]) -> list[Seed]:
        """The seed cases, their rendered messages and each target's seed verdict."""
        first = self.store.get_run(record["run_ids"][0])
        template = Template(**first["config"]["templates"][0])
        correct: dict[str, dict[str, bool]] = {}
        for run_id in record["run_ids"]:
            for s in self.store.analysis_samples(run_id):
                correct.setdefault(s["case_id"], {})[run_id] = bool(is_correct(s))
        out = []
        for c in self.store.get_cases(first["id"]):
            case = Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"])
            messages = template.render(case)
            out.append(Seed(case, messages, judging.question_of(messages), correct.get(case.id, {})))
        return out

    def plan(self, record: dict[str, Any]) -> tuple[list[Unit], int, list]:
        from tuieval.scoring import build_scorers

        run = self.store.get_run(record["run_ids"][0])
        scorers = build_scorers(run["config"].get("scorers"))
        budget = record["budget"]
        left = None if budget is None else budget - int(record["config"].get("seed_cost") or 0)
        units, cut = plan_units(self.seeds(record), record["strategies"], record["tries"], record["run_ids"],
                                decider_units(scorers), left)
        return units, cut, scorers

    async def _attack(self, record: dict[str, Any], options: RedTeamOptions,
                      target_backends: dict[str, ModelBackend], attacker: ModelBackend) -> str:
        units, self.n_cut, scorers = self.plan(record)
        self.n_units = len(units)
        if self.n_cut:
            self.on_note(f"budget: {len(units)} attack(s) fit, {self.n_cut} not attempted")
        by_run = {r: spec for r, spec in zip(record["run_ids"], options.targets)}
        runs = {r: self.store.get_run(r) for r in record["run_ids"]}
        attacks = {(a["case_id"], a["strategy"], a["try_index"]): a for a in self.rt.attacks(record["id"])}
        answers = {(a["run_id"], a["case_id"], a["strategy"], a["try_index"]): a
                   for a in self.rt.answers(record["id"])}
        judges = judging.make_judge_backends(scorers[:1], options.timeouts) if decider_units(scorers) else {}
        engine = Engine(self.store, attacker)
        run_options = self._run_options(options, options.attacker)
        ctx = _Context(record, options, scorers, engine, run_options, attacker,
                       {r: target_backends[by_run[r]] for r in record["run_ids"]}, judges, runs, attacks, answers)
        queue = iter(units)
        step = max(1, len(units) // 10)  # about ten progress lines per run

        async def worker() -> None:
            for unit in queue:
                if engine.fatal:
                    return
                await self._unit(ctx, unit)
                self.n_done += 1
                if self.n_done % step == 0 or self.n_done == len(units):
                    self.on_note(f"attacks: {self.n_done}/{len(units)}")

        workers = [asyncio.create_task(worker()) for _ in range(max(1, min(len(units), options.concurrency * 2)))]
        try:
            await asyncio.gather(*workers)
        except FatalRunError as exc:
            self.fatal = str(exc)
            for w in workers:
                w.cancel()
            await asyncio.wait(workers, timeout=1.0)
            return "failed"
        except BaseException:
            for w in workers:
                w.cancel()
            await asyncio.wait(workers, timeout=1.0)
            raise
        finally:
            for backend in judges.values():
                try:
                    await asyncio.wait_for(backend.aclose(), timeout=1.0)
                except (Exception, asyncio.CancelledError):
                    pass
        return "complete" if self.n_done == len(units) else "partial"

    async def _unit(self, ctx: "_Context", unit: Unit) -> None:
        case_id, strategy, t = unit.key
        attack = ctx.attacks.get(unit.key)
        if attack is None:
            attack = await self._ask_attacker(ctx, unit)
            if attack is None:
                return
        turns = attack.get("turns")
        if attack.get("error") or not turns:
            return  # the attacker failed or wrote nothing: no target is sent anything
        for run_id in unit.targets:
            answer = ctx.answers.get((run_id, case_id, strategy, t))
            if answer is None:
                answer = await self._ask_target(ctx, unit, run_id, turns)
                if answer is None:
                    return
            if answer.get("error") is None and answer.get("correct") is None:
                await self._decide(ctx, unit, run_id, answer)

    async def _ask_attacker(self, ctx: "_Context", unit: Unit) -> dict[str, Any] | None:
        case_id, strategy, t = unit.key
        expected = " | ".join(x for x in (target_text(v) for v in unit.seed.case.targets) if x is not None)
        messages = st.attacker_messages(strategy, unit.seed.question, expected, t + 1, ctx.record["tries"])
        request = ChatRequest(messages=messages, temperature=1.0, seed=ctx.record["seed"] * 1013 + t, stream=False,
                              hint=st.hint(strategy, unit.seed.question, expected, t + 1))
        try:
            out = await ctx.engine.call(ctx.attacker, request, ctx.run_options)
        except Abandoned:
            return None
        row: dict[str, Any] = {"redteam_id": ctx.record["id"], "case_id": case_id, "strategy": strategy,
                               "try_index": t, "prompt": messages, "attempts": out.attempts}
        if out.error is None and out.result is not None:
            parsed = st.parse_attack(strategy, out.result.text)
            row.update(reply=out.result.text, turns=list(parsed.turns) or None, error=parsed.problem,
                       error_kind="unusable" if parsed.problem else None,
                       latency_ms=out.result.latency_ms or out.latency_ms, input_tokens=out.result.input_tokens,
                       output_tokens=out.result.output_tokens, cached_tokens=out.result.cached_tokens)
        else:
            row.update(reply=getattr(out.error, "partial_text", None) or None, error=out.error.reason,
                       error_kind=out.error.kind)
        self.rt.add_attack(row)
        return row

    async def _ask_target(self, ctx: "_Context", unit: Unit, run_id: str, turns: list[str]) -> dict[str, Any] | None:
        case_id, strategy, t = unit.key
        run = ctx.runs[run_id]
        conversation = [m for m in unit.seed.messages if m["role"] == "system"]
        attempts = 0
        latency = 0.0
        response = None
        error = None
        # what the target's turns cost: summed, None once a turn came back without a count
        tokens: dict[str, int | None] = {"input_tokens": 0, "output_tokens": 0, "cached_tokens": 0}
        for i, turn in enumerate(turns):
            conversation.append({"role": "user", "content": turn})
            request = ChatRequest(messages=list(conversation), temperature=run["temperature"],
                                  max_tokens=run["max_tokens"], seed=run["seed"],
                                  stream=bool(run["config"].get("stream", False)),
                                  hint={"case_id": case_id, "template": f"redteam:{strategy}", "sample_index": t,
                                        "targets": unit.seed.case.targets, "metadata": unit.seed.case.metadata,
                                        "seed": run["seed"], "input_text": turn})
            try:
                out = await ctx.engine.call(ctx.targets[run_id], request, ctx.run_options)
            except Abandoned:
                return None
            attempts += out.attempts
            got = out.result if out.error is None and out.result is not None else out.error
            for name, so_far in tokens.items():
                n = getattr(got, name, None)
                if so_far is not None:  # a cached count may be absent (nothing cached); the others not
                    tokens[name] = None if n is None and name != "cached_tokens" else so_far + (n or 0)
            if out.error is not None or out.result is None:
                error = out.error
                break
            latency += out.result.latency_ms or out.latency_ms
            response = out.result.text
            if i < len(turns) - 1:
                conversation.append({"role": "assistant", "content": response})
        row: dict[str, Any] = {"redteam_id": ctx.record["id"], "run_id": run_id, "case_id": case_id,
                               "strategy": strategy, "try_index": t, "messages": conversation,
                               "target_requests": min(i + 1, len(turns)), "attempts": attempts,
                               "latency_ms": latency if error is None else None, **tokens}
        if error is not None:
            row.update(response=getattr(error, "partial_text", None) or None, error=error.reason,
                       error_kind=error.kind)
        else:
            row["response"] = response
            primary = ctx.scorers[0]
            if not isinstance(primary, JudgeScorer):
                score = primary.score(response, unit.seed.case.targets)
                row.update(correct=bool(score.correct), extracted=score.extracted)
        self.rt.add_answer(row)
        return row

    async def _decide(self, ctx: "_Context", unit: Unit, run_id: str, answer: dict[str, Any]) -> None:
        scorer: JudgeScorer = ctx.scorers[0]
        case_id, strategy, t = unit.key
        job = judging.JudgeJob(SampleKey(case_id, f"redteam:{strategy}", t), unit.seed.case, unit.seed.question,
                               answer["response"] or "", {}, [(scorer.name, *u) for u in scorer.units()])
        rows: list[dict[str, Any]] = []

        async def one(u: judging.Unit) -> None:
            request = judging.judge_request(scorer, job, u[1], u[2], u[3], ctx.runs[run_id]["seed"])
            out = await ctx.engine.call(ctx.judges[judging.backend_key(scorer, u[1])], request, ctx.run_options)
            row = judging.judgement_row(run_id, scorer, job, u, request, out.result, out.error, out.attempts,
                                        out.latency_ms)
            row.pop("prompt", None)
            rows.append(row)

        try:
            async with asyncio.TaskGroup() as group:
                for u in job.units:
                    group.create_task(one(u))
        except BaseExceptionGroup as eg:
            first = eg.exceptions[0]
            if isinstance(first, Abandoned):
                return
            raise first from None
        verdict = sample_verdict(scorer, rows)
        keep = [{k: r.get(k) for k in ("judge", "judge_sample", "orientation", "reply", "grade", "score", "parsed",
                                       "problem", "error", "attempts", "input_tokens", "output_tokens",
                                       "cached_tokens")} for r in rows]
        self.rt.decide(ctx.record["id"], run_id, unit.key, verdict["correct"], verdict["grade"], keep, len(rows))


@dataclass
class _Context:
    record: dict[str, Any]
    options: RedTeamOptions
    scorers: list
    engine: Engine
    run_options: RunOptions
    attacker: ModelBackend
    targets: dict[str, ModelBackend]
    judges: dict[tuple, ModelBackend]
    runs: dict[str, dict[str, Any]]
    attacks: dict[AttackKey, dict[str, Any]]
    answers: dict[tuple, dict[str, Any]]

