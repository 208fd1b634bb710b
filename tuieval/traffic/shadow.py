"""Shadow evaluation: replay sampled logged prompts through a candidate model, beside a baseline.

The baseline is a model run through the engine the same way (`--baseline SPEC`), or the answers
the log already holds. Both are stored as ordinary runs of one suite named after the log
(`shadow:<file name>`), so `report`, `export`, `search` and the app read them like any run; the
link between the two and how the log was sampled is the run's `shadow_runs` row.

What a shadow run's samples mean: a prompt's target is the baseline's answer, and a candidate
sample is `correct` when the run's clustering tier (canonical → lexical → embeddings →
entailment, the suite-level `variance:` setting, here `--agreement`) puts it in the baseline
answer's cluster. So the run's accuracy is the agreement rate, its slices the agreement per
slice, and its slice discovery is discovery on disagreement. A candidate error counts as a
disagreement (it gave no answer where the baseline did); a prompt whose baseline has no answer
(no logged response, or a baseline error) is not comparable and is left out of the rate.

The replay goes batch by batch in the sampler's order (tuieval.traffic.sample): after each batch
the disagreement rate's confidence sequence (tuieval.analysis.shadow) is checked, and the replay
stops once it is narrower than `precision`. Only the prompts reached are stored.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from typing import Any, Callable, Mapping, Sequence

from tuieval import json_text
from tuieval.analysis.shadow import JUDGE_NAME, disagreement_sequence, precise_enough
from tuieval.analysis.variance.config import VarianceConfig
from tuieval.backends.base import ModelBackend, Timeouts
from tuieval.engine import Engine, RunOptions, RunStarted, SampleFinished
from tuieval.scoring.base import ScorerSpec
from tuieval.store import Store, now_iso
from tuieval.store.shadow import (add_encoded_cases, add_run_scorer, add_samples, append_encoded_cases,
                                  lean_samples, save_shadow, set_verdicts)
from tuieval.suite.model import Case, Sampling, Suite, Template, input_text_of
from tuieval.traffic.log import iter_log
from tuieval.traffic.sample import Chosen, SamplePlan, plan_sample

TEMPLATE_ID = "logged"
#: the scorer a shadow run's samples carry (the run-time check; the tier decides `correct`)
SCORER = "normalized"


class ShadowError(ValueError):
    """Bad input for a shadow evaluation (one line naming the flag or the file)."""


@dataclass
class ShadowSettings:
    """Everything a shadow evaluation is run with (stored in its shadow_runs row)."""

    log_path: str
    candidate: str
    baseline: str | None = None
    mapping: dict = field(default_factory=dict)      # parse_field_mapping's output
    budget: int = 200
    precision: float | None = None
    alpha: float = 0.05
    temperature: float = 0.0
    max_tokens: int | None = None
    seed: int = 0
    concurrency: int = 8
    stream: bool = True
    max_retries: int = 6
    timeouts: Timeouts = field(default_factory=Timeouts)
    agreement: dict = field(default_factory=lambda: {"method": "canonical"})   # a `variance:` mapping
    max_disagreement: float | None = None
    max_p99_shift_ms: float | None = None
    batch: int | None = None
    candidate_base_url: str | None = None
    baseline_base_url: str | None = None
    judge: str | None = None                          # a pairwise judge of the disagreements
    judge_base_url: str | None = None
    judge_api_key_env: str | None = None
    #: dollars the replay may spend (candidate and baseline model, and the judge's calls with
    #: `judge`, together: tuieval.traffic.spend); None: no limit.
    #: A resume takes the limit given then, not the stored one (raising it is how one goes on)
    max_cost: float | None = None
    prices_path: str | None = None                    # --prices FILE laid over the shipped table

    @classmethod
    def from_stored(cls, d: Mapping[str, Any]) -> "ShadowSettings":
        """The settings a shadow evaluation was started with (its shadow_runs config)."""
        from tuieval.traffic.log import parse_field_mapping

        fields = {f for f in cls.__dataclass_fields__}
        kw = {k: v for k, v in d.items() if k in fields}
        kw["timeouts"] = Timeouts(**(d.get("timeouts") or {}))
        kw["mapping"] = parse_field_mapping(dict(d.get("mapping") or {}))
        return cls(**kw)

    def stored(self) -> dict[str, Any]:
        out = asdict(self)
        out["timeouts"] = {"connect": self.timeouts.connect, "read": self.timeouts.read, "total": self.timeouts.total}
        out["mapping"] = {k: ".".join(map(str, v)) for k, v in self.mapping.items()}
        return out


@dataclass
class ShadowOutcome:
    run_id: str
    baseline_run_id: str
    status: str                     # complete | partial | failed
    stop: str                       # precision | budget | cost | failed
    n_replayed: int
    fatal: str | None = None
    cost: dict[str, Any] | None = None   # with --max-cost: limit, spent (tuieval.traffic.spend)


def judge_spec(settings: ShadowSettings) -> dict[str, Any] | None:
    """The pairwise judge scorer (candidate's answer vs the baseline's, the case's target), or None.

    Judged in both orders; an order-dependent verdict is a tie (tuieval.scoring.judge)."""
    if not settings.judge:
        return None
    spec: dict[str, Any] = {"type": "judge", "name": JUDGE_NAME, "models": [settings.judge], "mode": "pairwise",
                            "criteria": "Which answer answers the question better?"}
    if settings.judge_base_url:
        spec["base_url"] = settings.judge_base_url
    if settings.judge_api_key_env:
        spec["api_key_env"] = settings.judge_api_key_env
    return spec


def _suite(name: str, path: str, settings: ShadowSettings) -> Suite:
    return Suite(name=name, path=path, description=f"shadow evaluation of logged traffic ({path})",
                 templates=[Template(id=TEMPLATE_ID, prompt="", messages_var="messages")],
                 scorers=[ScorerSpec(SCORER, SCORER)],
                 sampling=Sampling(samples=1, temperature=settings.temperature, max_tokens=settings.max_tokens,
                                   seed=settings.seed),
                 variance=VarianceConfig.from_mapping(settings.agreement))


@dataclass(frozen=True)
class _Prompt:
    """One sampled prompt, encoded once for both runs: the columns of its case (the baseline's and
    the candidate's differ only in their target) and the logged sample's prompt."""

    case_id: str
    prompt_json: str      # the messages, as a sample's prompt column holds them
    vars_json: str
    metadata_json: str
    input_text: str
    messages: list        # what prompt_json encodes, and the metadata metadata_json encodes: the
    metadata: Mapping     # case the engine plans from memory (`_remember`)


#: `json.dumps(value, ensure_ascii=False)`, the same text, without building an encoder per call
#: (json.dumps makes one for every call with a non-default argument: most of its cost on a short prompt)
_encode = json_text.encoder(ensure_ascii=False)
_SCORER_JSON = _encode(SCORER)


def _prompt(ch: Chosen) -> _Prompt:
    rec = ch.record
    if rec.messages is None and rec.prompt.__class__ is str:
        # a flat record is one user turn: its encoding is the prompt's text in a fixed frame (the
        # frame json.dumps writes for [{"role": "user", "content": …}]), and its input text is the
        # prompt itself (input_text_of of one turn is that turn's content)
        prompt_json = '[{"role": "user", "content": ' + _encode(rec.prompt) + "}]"
        input_text = rec.prompt
        messages = [{"role": "user", "content": rec.prompt}]
    else:
        messages = rec.messages if rec.messages is not None else [{"role": "user", "content": rec.prompt}]
        prompt_json = _encode(messages)
        input_text = input_text_of({"messages": messages})
    meta = rec.metadata
    # json.dumps of a one-key mapping is the key and its value's encoding: the messages once, not twice
    meta = (meta if meta.__class__ is dict else dict(meta)) if meta else {}
    return _Prompt(ch.case_id, prompt_json, '{"messages": ' + prompt_json + "}",
                   _encode(meta) if meta else "{}", input_text, messages, meta)


def _case_row(p: _Prompt, target: str | None) -> tuple[str, str, str, str, str]:
    """The case of `p` with `target` (the baseline's: its logged answer; the candidate's: the
    baseline's answer), as `add_encoded_cases` takes it."""
    return (p.case_id, p.vars_json, "[" + _encode(target) + "]" if target else "[]", p.metadata_json, p.input_text)


def _append_cases(store: Store, engine: Engine, run_id: str, prompts: Sequence[_Prompt],
                  targets: Sequence[str | None]) -> None:
    """A batch's cases appended to a run the engine then replays: the ones new to the run are
    handed to the engine as stored (`Engine.remember_appended`), so it plans the batch without
    decoding them again; a resumed batch's stored cases are planned from the store."""
    new = set(append_encoded_cases(store, run_id, [_case_row(p, t) for p, t in zip(prompts, targets)]))
    # the values `_case_row` encodes: the messages as vars, [target] or none, the metadata
    engine.remember_appended(run_id, [Case(id=p.case_id, vars={"messages": p.messages}, targets=[t] if t else [],
                                           metadata=p.metadata) for p, t in zip(prompts, targets) if p.case_id in new])


def _baseline_run_row(suite: Suite, model: str, settings: ShadowSettings) -> dict[str, Any]:
    config = suite.config()
    config["stream"] = False
    config["shadow_role"] = "logged_baseline"
    return {"suite": suite.name, "suite_path": suite.path, "model": model, "simulated": 0, "samples_per_case": 1,
            "temperature": settings.temperature, "max_tokens": None, "seed": settings.seed, "concurrency": None,
            "slo_ms": None, "base_url": None, "n_cases": 0, "n_templates": 1, "n_expected": 0, "config": config}


@lru_cache(maxsize=1)
def _scorer():
    from tuieval.scoring import build_scorers

    return build_scorers([SCORER])[0]


def _logged_sample(run_id: str, ch: Chosen, p: _Prompt, order: int, created_at: str) -> dict[str, Any]:
    rec = ch.record
    row: dict[str, Any] = {"run_id": run_id, "case_id": ch.case_id, "template": TEMPLATE_ID, "sample_index": 0,
                           "dispatch_order": order, "prompt": p.prompt_json, "latency_ms": rec.latency_ms,
                           "created_at": created_at}
    if rec.response is None:
        row.update(response=None, correct=False, score=0.0, error="no response in the log", error_kind="not_logged")
    else:
        # a logged answer is its own target, and an answer matches itself whenever it is one: so
        # the scorer extracts it against no target (one normalisation, not two) and it is correct
        # exactly when something was extracted
        extracted = _scorer().score(rec.response, []).extracted
        correct = extracted is not None
        score = float(correct)
        # the scores column: the text json.dumps writes for {SCORER: {extracted, correct, score}},
        # spelt out (only the extracted text varies; the rows compared are read for their answer,
        # never their scores)
        row.update(response=rec.response, extracted=extracted, correct=correct, score=score,
                   scores=_logged_scores(extracted))
    return row


def _logged_scores(extracted: str | None) -> str:
    """json.dumps({SCORER: {"extracted": extracted, "correct": …, "score": …}}, ensure_ascii=False) of
    a logged answer, which is correct exactly when something was extracted (`_logged_sample`)."""
    if extracted is None:
        return '{' + _SCORER_JSON + ': {"extracted": null, "correct": false, "score": 0.0}}'
    return '{' + _SCORER_JSON + ': {"extracted": ' + _encode(extracted) + ', "correct": true, "score": 1.0}}'


class _Answers:
    """The candidate's samples of the batch being replayed, as the engine reports them stored
    (SampleFinished), passed on to the caller's `on_event`: the batch's verdicts take them from
    memory rather than reading them back."""

    def __init__(self, on_event: Callable | None) -> None:
        self.on_event = on_event
        self.rows: dict[str, dict[str, Any]] = {}
        self.already = 0

    def __call__(self, event: Any) -> None:
        if isinstance(event, RunStarted):
            self.rows, self.already = {}, event.n_already_done
        elif isinstance(event, SampleFinished):
            self.rows[event.key.case_id] = event.row
        if self.on_event is not None:
            self.on_event(event)

    def batch_rows(self, store: Store, run_id: str, engine: Engine, case_ids: Sequence[str]) -> dict[str, dict]:
        """case_id → the candidate's sample of each of `case_ids`, as `answer_text` reads it (all
        the verdicts need): the row the engine stored, from memory, when every sample reported was
        stored (none met a row already there); the stored lean row (`lean_samples`) of a case not
        asked in this batch (stored before a resume)."""
        out = dict(self.rows) if engine.n_done - self.already == len(self.rows) else {}
        missing = [c for c in case_ids if c not in out]
        if missing:
            out.update((r["case_id"], r) for r in lean_samples(store, run_id, missing))
        return out


def agreement(run: Mapping[str, Any], cases: Sequence[Mapping[str, Any]], baseline: Mapping[str, Mapping[str, Any]],
              candidate: Mapping[str, Mapping[str, Any]], store: Store | None = None) -> dict[str, bool | None]:
    """case_id → the candidate agrees with the baseline (True / False), or None when the
    baseline has no answer (not comparable). A candidate error is a disagreement."""
    from tuieval.report.clustering import cluster_pairs
    from tuieval.sample_rules import answer_text

    out: dict[str, bool | None] = {}
    both: list[str] = []
    pairs: list[tuple[str, str]] = []
    for cid, c in candidate.items():
        b = baseline.get(cid)
        b_answer = answer_text(b) if b is not None else None
        c_answer = answer_text(c)
        if b_answer is None:
            out[cid] = None
        elif c_answer is None:
            out[cid] = False
        elif c_answer == b_answer:
            # the same text has the same canonical form, and every tier starts from those forms:
            # one cluster whatever the tier (no request is made for a group of one form either)
            out[cid] = True
        else:
            both.append(cid)
            pairs.append((b_answer, c_answer))
    if pairs:
        method = VarianceConfig.from_run(run).effective_method
        questions = None
        if cases is not None:
            # the judge tiers' question: the prompt's input text ("" for a case not given)
            by_case = {c["case_id"]: c.get("input_text") or "" for c in cases}
            questions = [by_case.get(cid, "") for cid in both]
        # one group per prompt: the baseline's answer and the candidate's, clustered by the run's tier
        for cid, same in zip(both, cluster_pairs(run, pairs, questions, method, store, "shadow")):
            out[cid] = same
    return out


#: without --precision, each batch is as large as everything replayed before it (16, 16, 32, 64 …):
#: a batch is planned alone, but each one ends with its slowest request and the --max-cost ledger
#: re-reads both runs' cost once per batch, so the batches stay few; with --precision a batch grows
#: by a quarter at most, so the replay goes at most 25% past the point where the stopping rule
#: would first have held
GROWTH_NO_PRECISION = 1
GROWTH_PRECISION = 4


def batch_size(start: int, base: int, precision: float | None) -> int:
    """How many prompts the batch starting at replay position `start` holds."""
    return max(base, start // (GROWTH_PRECISION if precision is not None else GROWTH_NO_PRECISION))


#: the two verdicts an agreement can be, each encoded once
_VERDICTS = {ok: {"extracted": None, "correct": ok, "score": float(ok)} for ok in (False, True)}


def _add_candidate_cases(store: Store, engine: Engine, cand_id: str, prompts: Sequence[_Prompt],
                         base_rows: Mapping[str, Mapping[str, Any]]) -> None:
    """A batch's cases of the candidate's run: the candidate's target is the baseline's answer
    (its run-time score is already agreement)."""
    _append_cases(store, engine, cand_id, prompts, [_answer(base_rows.get(p.case_id)) for p in prompts])


def _write_verdicts(store: Store, run_id: str, verdicts: Mapping[str, bool | None]) -> None:
    set_verdicts(store, run_id, (((cid, TEMPLATE_ID, 0), "agreement", _VERDICTS[bool(ok)])
                                 for cid, ok in verdicts.items()), replaces=SCORER)


def make_plan(settings: ShadowSettings) -> SamplePlan:
    plan = plan_sample(lambda: iter_log(settings.log_path, settings.mapping), settings.budget)
    if not plan.chosen:
        why = f"; first problem: {plan.problems[0]}" if plan.problems else ""
        raise ShadowError(f"{settings.log_path}: no readable prompt in {plan.n_lines} lines{why}")
    return plan


async def run_shadow(store: Store, settings: ShadowSettings, plan: SamplePlan, candidate: ModelBackend,
                     baseline: ModelBackend | None, *, on_event: Callable | None = None,
                     on_batch: Callable[[dict[str, Any]], None] | None = None,
                     resume: Mapping[str, Any] | None = None, prices: Any = None) -> ShadowOutcome:
    """Replay `plan` batch by batch until it is used up or the disagreement is known to `precision`.

    With `resume` (a stored shadow link, `tuieval.store.shadow.get_shadow`) the same runs are
    finished: the plan is the same (same log, same settings), so the batches already stored are
    walked again without a request (the engine skips stored samples, the verdicts are recomputed
    the same way) and the replay goes on from the first missing answer, stopping where an
    uninterrupted replay would have stopped.

    `prices` (a tuieval.cost.prices.PriceTable) is stored with the runs, as `run` stores it;
    with `settings.max_cost` the replay stops before the first prompt it cannot afford, and the
    judging (with `settings.judge`) before the first disagreement it cannot afford
    (tuieval.traffic.spend), both runs partial and resumable with a higher limit.

    Each batch is appended to both runs and planned by the engine from its own cases alone
    (`Engine.run(…, cases=…)`), so a batch costs what it holds, not what the runs hold."""
    from pathlib import Path

    name = f"shadow:{Path(settings.log_path).name}"
    suite = _suite(name, settings.log_path, settings)
    common = dict(samples=1, temperature=settings.temperature, max_tokens=settings.max_tokens, seed=settings.seed,
                  concurrency=settings.concurrency, stream=settings.stream, max_retries=settings.max_retries,
                  timeouts=settings.timeouts, prices=prices)
    cand_opts = RunOptions(model=settings.candidate, base_url=getattr(candidate, "base_url", None)
                           or settings.candidate_base_url, **common)
    base_engine = None
    if baseline is not None:
        base_opts = RunOptions(model=settings.baseline or "", base_url=getattr(baseline, "base_url", None)
                               or settings.baseline_base_url, **common)
        base_engine = Engine(store, baseline, on_event)
    if resume is not None:
        cand_id, base_id, kind = resume["run_id"], resume["baseline_run_id"], resume["baseline_kind"]
        if (kind == "model") != (baseline is not None):
            raise ShadowError(f"--resume: run {cand_id} was compared with "
                              f"{'a baseline model' if kind == 'model' else 'the logged answers'}")
        stored = [c["case_id"] for c in store.get_cases(cand_id)]
        if stored != [ch.case_id for ch in plan.chosen[:len(stored)]]:
            raise ShadowError(f"{settings.log_path}: the log (or its sampling) changed since run {cand_id} started; "
                              "start a new shadow evaluation")
        config = dict(resume["config"])
        config["resumed_at"] = now_iso()
    else:
        if base_engine is not None:
            base_id = base_engine.create_run(suite, base_opts)
            kind = "model"
        else:
            logged_model = next((c.record.model for c in plan.chosen if c.record.model), None) or "unknown"
            base_id = store.create_run(_baseline_run_row(suite, f"logged/{logged_model}", settings), [])
            kind = "logged"
    answers = _Answers(on_event)
    cand_engine = Engine(store, candidate, answers)
    # the replay judges nothing: on a resume the judge scorer is already in the run's config, and
    # only the disagreements are judged, once the replay has compared them
    replay_opts = replace(cand_opts, judge_cases=frozenset())
    if resume is None:
        # the candidate is created last, so `latest` names it (its report holds the shadow section)
        cand_id = cand_engine.create_run(suite, cand_opts)
        config = {"settings": settings.stored(), "log": _log_summary(plan), "planned": len(plan.chosen),
                  "replayed": 0, "stop": None, "started_at": now_iso()}
    save_shadow(store, cand_id, base_id, kind, settings.log_path, config)
    judge_price = _judge_price(store, cand_id, settings, prices)

    # the first batch's size is kept with the run: a resume at another --concurrency cuts the
    # replay into the same batches, so each sample keeps its dispatch position (Engine.plan)
    base_size = int(config.get("batch_base") or settings.batch or max(16, 2 * settings.concurrency))
    config["batch_base"] = base_size
    sequence: list[float] = []
    all_verdicts: dict[str, bool | None] = {}
    answered: set[str] = set()
    stop = "budget"
    stopped_in = None            # with --max-cost: the phase the limit stopped (replay | judge)
    next_judgement = None        # raw dollars of the first disagreement the limit left unjudged
    status = "complete"
    fatal = None
    cand_run = store.get_run(cand_id)
    spend = None
    if settings.max_cost is not None:
        from tuieval.cost.spend import run_prices
        from tuieval.traffic.spend import ShadowSpend

        priced = [(rid, run_prices(store.get_run(rid), prices)[model])
                  for rid, model in ((cand_id, settings.candidate), (base_id, settings.baseline)) if model]
        for (_rid, price), model in zip(priced, [m for m in (settings.candidate, settings.baseline) if m]):
            if price is None:   # the command refuses this before anything is stored
                raise ShadowError(f"--max-cost: no price for {model}; give one with --prices FILE")
        judge = None
        if settings.judge:
            if judge_price is None:   # the command refuses this too, before anything is stored
                raise ShadowError(f"--max-cost: no price for {settings.judge} (--judge); give one with --prices FILE")
            judge = (settings.judge, judge_price)
        spend = ShadowSpend(store, settings.max_cost, priced, settings.max_tokens, judge=judge)
    start = 0
    try:
        while start < len(plan.chosen):
            chunk = plan.chosen[start:start + batch_size(start, base_size, settings.precision)]
            if spend is not None:
                chunk = spend.affordable(chunk)
                if not chunk:
                    status, stop, stopped_in = "partial", "cost", "replay"
                    break
            chunk_ids = [ch.case_id for ch in chunk]
            prompts = [_prompt(ch) for ch in chunk]
            if base_engine is not None:
                _append_cases(store, base_engine, base_id, prompts, [ch.record.response for ch in chunk])
                finished = await base_engine.run(base_id, base_opts, cases=chunk_ids)
                if finished.status == "failed":
                    status, stop, fatal = "failed", "failed", f"baseline {settings.baseline}: {base_engine.fatal}"
                    break
                # only this batch's rows are read: a re-read of the whole run per batch grows quadratically
                base_rows = {s["case_id"]: s for s in lean_samples(store, base_id, chunk_ids)}
                _add_candidate_cases(store, cand_engine, cand_id, prompts, base_rows)
            else:
                # the batch's rows of both runs in one transaction (one commit, not four; no await
                # inside): the baseline's cases, its logged answers and status, the candidate's cases
                with store.transaction():
                    add_encoded_cases(store, base_id, [_case_row(p, ch.record.response) for p, ch in zip(prompts, chunk)])
                    created = now_iso()
                    logged = [_logged_sample(base_id, ch, p, start + i, created)
                              for i, (ch, p) in enumerate(zip(chunk, prompts))]
                    if add_samples(store, logged) == len(logged):
                        base_rows = {s["case_id"]: s for s in logged}   # every row new: as stored
                    else:   # a resume: the stored rows win
                        base_rows = {s["case_id"]: s for s in lean_samples(store, base_id, chunk_ids)}
                    store.set_status(base_id, "complete")
                    _add_candidate_cases(store, cand_engine, cand_id, prompts, base_rows)
            finished = await cand_engine.run(cand_id, replay_opts, cases=chunk_ids)
            if finished.status == "failed":
                status, stop, fatal = "failed", "failed", f"candidate {settings.candidate}: {cand_engine.fatal}"
                break
            cand_rows = answers.batch_rows(store, cand_id, cand_engine, chunk_ids)
            verdicts = agreement(cand_run, [{"case_id": p.case_id, "input_text": p.input_text} for p in prompts],
                                 {c: base_rows[c] for c in chunk_ids if c in base_rows},
                                 {c: cand_rows[c] for c in chunk_ids if c in cand_rows}, store)
            _write_verdicts(store, cand_id, verdicts)
            all_verdicts.update(verdicts)
            answered.update(c for c in chunk_ids if _answer(cand_rows.get(c)) is not None)
            sequence.extend(0.0 if verdicts[c] else 1.0 for c in chunk_ids if verdicts.get(c) is not None)
            if spend is not None:
                spend.measure(chunk)
            start += len(chunk)
            config["replayed"] = start
            config["sequence"] = disagreement_sequence(sequence, len(plan.chosen), settings.alpha)
            if on_batch is not None:
                on_batch(config["sequence"])
            if precise_enough(sequence, len(plan.chosen), settings.precision, settings.alpha) \
                    and config["replayed"] < len(plan.chosen):
                stop = "precision"
                break
        spec = judge_spec(settings)
        if spec is not None and status != "failed":
            # only now: a judge scorer in the config from the start would judge every sample
            add_run_scorer(store, cand_id, spec)
            # in replay order, so a judging stopped at the cost limit has judged a prefix of the replay
            owed = [ch.case_id for ch in plan.chosen[:start]
                    if all_verdicts.get(ch.case_id) is False and ch.case_id in answered]
            judged = await _judge_disagreements(store, cand_engine, cand_id, cand_opts, owed, spend, base_size)
            if judged.fatal is not None:
                status, fatal = "failed", f"judge {settings.judge}: {judged.fatal}"
            elif judged.left is not None:
                status, next_judgement = "partial", judged.left
                if stop != "cost":
                    stop, stopped_in = "cost", "judge"
    except BaseException:
        config["stop"] = "interrupted"
        if spend is not None:
            config["cost"] = spend.summary(False, None)
        save_shadow(store, cand_id, base_id, kind, settings.log_path, config)
        for rid in (cand_id, base_id):
            if store.get_run(rid)["status"] == "running":
                store.set_status(rid, "partial")
        raise
    config["stop"] = stop
    config["finished_at"] = now_iso()
    if spend is not None:
        nxt = plan.chosen[start] if stopped_in == "replay" else None
        config["cost"] = spend.summary(stop == "cost", nxt, stopped_in=stopped_in, next_judgement_raw=next_judgement)
    if stop == "cost":
        for rid in (cand_id, base_id):
            store.set_status(rid, "partial")
    save_shadow(store, cand_id, base_id, kind, settings.log_path, config)
    return ShadowOutcome(cand_id, base_id, status, stop, config["replayed"], fatal, config.get("cost"))


def _judge_price(store: Store, cand_id: str, settings: ShadowSettings, prices: Any):
    """The judge's price, kept with the candidate's run from the start (as `run` keeps its model's),
    so its calls are priced at what they cost when they were made; None without a judge or a price."""
    if not settings.judge:
        return None
    from tuieval.cost.prices import price_from_json
    from tuieval.store.shadow import add_run_prices

    stored = (store.get_run(cand_id)["config"].get("prices") or {}).get(settings.judge)
    if stored is not None:
        return price_from_json(stored)
    price = prices.lookup(settings.judge) if prices is not None else None
    if price is not None:
        add_run_prices(store, cand_id, {settings.judge: price.to_json()})
    return price


@dataclass
class _Judged:
    fatal: str | None = None     # the judge failed the way every request would
    left: float | None = None    # raw dollars of the first disagreement the cost limit left unjudged


async def _judge_disagreements(store: Store, engine: Engine, cand_id: str, options: RunOptions, owed: Sequence[str],
                               spend: Any, base_size: int) -> _Judged:
    """Ask the pairwise judge about the disagreements `owed` (replay order) still missing a judgement.

    Without a cost limit in one engine pass; with one, in batches cut to what the limit still
    affords (tuieval.traffic.spend), measured after each so the next estimate is calibrated."""
    if not owed:
        return _Judged()
    if spend is None:
        finished = await engine.run(cand_id, replace(options, judge_cases=frozenset(owed)), cases=())
        return _Judged(fatal=engine.fatal if finished.status == "failed" else None)
    jobs = _judge_costs(store, cand_id, owed, spend)
    i = 0
    while i < len(jobs):
        chunk = spend.affordable_judging(jobs[i:i + max(base_size, i)])
        if not chunk:
            return _Judged(left=jobs[i][1])
        finished = await engine.run(cand_id, replace(options, judge_cases=frozenset(c for c, _ in chunk)), cases=())
        if finished.status == "failed":
            return _Judged(fatal=engine.fatal)
        spend.measure(judged=chunk)
        i += len(chunk)
    return _Judged()


def _judge_costs(store: Store, cand_id: str, owed: Sequence[str], spend: Any) -> list[tuple[str, float]]:
    """(case_id, raw dollars of the judge requests it still owes) for the disagreements of `owed`
    not fully judged, in the order of `owed`; the messages priced are the ones the engine sends."""
    from tuieval.engine import judging
    from tuieval.scoring import build_scorers

    run = store.get_run(cand_id)
    scorers = build_scorers(run["config"].get("scorers"))
    by_name = {s.name: s for s in judging.judge_scorers(scorers)}
    cases = {c["case_id"]: Case(id=c["case_id"], vars=c["vars"], targets=c["targets"], metadata=c["metadata"])
             for c in store.get_cases(cand_id, owed)}
    jobs = {j.key.case_id: j for j in judging.pending_judging(store, run, scorers, cases)}
    out = []
    for cid in owed:
        job = jobs.get(cid)
        if job is None:
            continue   # judged already (a resume)
        messages = [judging.judge_request(by_name[u[0]], job, u[1], u[2], u[3], run["seed"]).messages
                    for u in job.units]
        out.append((cid, spend.judge_raw(messages)))
    return out


def _answer(sample: Mapping[str, Any] | None) -> str | None:
    from tuieval.sample_rules import answer_text

    return answer_text(sample) if sample is not None else None


def _log_summary(plan: SamplePlan) -> dict[str, Any]:
    return {"lines": plan.n_lines, "records": plan.n_records, "problems": plan.n_problems,
            "problem_examples": [{"line": p.line, "message": p.message} for p in plan.problems[:10]],
            "strata_fields": plan.strata_fields, "cells": plan.cells, "budget": plan.budget}
