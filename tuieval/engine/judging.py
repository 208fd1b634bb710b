"""What the engine needs to judge a sample: the judge backends, the work, the rows, the verdict.

A run whose scorers include a `judge` scorer (tuieval.scoring.judge) judges each sample after
it is answered: one request per (judge scorer, judge model, judge sample, orientation), sent by
the engine through the same limiter, retries and failure table as the answers
(tuieval.engine.runner), each stored as a judgement the moment it finishes. Once every
judgement of a sample is in, the sample's verdict is written (`Store.set_sample_verdict`).

On resume, `pending_judging` finds the answered samples still missing judgements (and writes
the verdict of those whose judgements all arrived before the process died), so a finished
judgement is never requested again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from tuieval.backends.base import ChatRequest, ChatResult, ModelBackend, Timeouts
from tuieval.engine.events import SampleKey
from tuieval.scoring.judge import JudgeScorer, sample_verdict
from tuieval.store import Store
from tuieval.suite.model import Case

#: (scorer name, judge spec, judge sample, orientation): one judgement of one sample
Unit = tuple[str, str, int, str]


@dataclass
class JudgeJob:
    """The judging still owed to one answered sample."""

    key: SampleKey
    case: Case
    question: str
    response: str
    scores: dict[str, Any]
    units: list[Unit] = field(default_factory=list)


def judge_scorers(scorers: Sequence[Any]) -> list[JudgeScorer]:
    return [s for s in scorers if isinstance(s, JudgeScorer)]


def units_per_sample(scorers: Sequence[Any]) -> int:
    return sum(len(s.units()) for s in judge_scorers(scorers))


def backend_key(scorer: JudgeScorer, spec: str) -> tuple[str, str | None, str | None]:
    return (spec, scorer.base_url, scorer.api_key_env)


def make_judge_backends(scorers: Sequence[Any], timeouts: Timeouts | None = None,
                        have: Mapping[tuple, ModelBackend] | None = None) -> dict[tuple, ModelBackend]:
    """One backend per judge model of the run not already in `have` (BackendConfigError names
    the setting to fix)."""
    from tuieval.backends.registry import BackendConfigError, create_backend

    out: dict[tuple, ModelBackend] = {}
    for scorer in judge_scorers(scorers):
        for spec in scorer.models:
            key = backend_key(scorer, spec)
            if key in out or (have is not None and key in have):
                continue
            try:
                out[key] = create_backend(spec, base_url=scorer.base_url, api_key_env=scorer.api_key_env,
                                          timeouts=timeouts)
            except BackendConfigError as exc:
                raise BackendConfigError(f"scorer {scorer.name}: {str(exc).removeprefix('--model: ')}") from None
    return out


def question_of(messages: Sequence[Mapping[str, Any]]) -> str:
    """What the model was asked: its last user message."""
    for m in reversed(list(messages)):
        if m.get("role") == "user":
            return str(m.get("content") or "")
    return ""


def all_units(scorers: Sequence[Any]) -> list[Unit]:
    return [(s.name, spec, k, o) for s in judge_scorers(scorers) for spec, k, o in s.units()]


def judge_request(scorer: JudgeScorer, job: JudgeJob, spec: str, judge_sample: int, orientation: str,
                  run_seed: int | None) -> ChatRequest:
    """One judge request. The hint is read only by the simulated demo/judge."""
    messages = scorer.messages(job.question, job.response, job.case.targets, job.case.vars, orientation)
    other = scorer.other_answer(job.case.targets, job.case.vars)
    first, second = (job.response, other) if orientation != "ba" else (other, job.response)
    hint = {"case_id": job.case.id, "template": job.key.template, "sample_index": job.key.sample_index,
            "judge": {"mode": scorer.mode, "answer": job.response, "answer_a": first, "answer_b": second,
                      "targets": job.case.targets, "grades": scorer.grade_names(),
                      "key": f"{job.case.id}/{job.key.template}/{job.key.sample_index}/{judge_sample}/{orientation}"}}
    # Each judge sample gets its own seed, so N samples of a seeded judge are N draws.
    seed = None if run_seed is None else int(run_seed) * 1009 + judge_sample
    return ChatRequest(messages=messages, temperature=scorer.temperature, max_tokens=scorer.max_tokens, seed=seed,
                       stream=False, hint=hint)


def judgement_row(run_id: str, scorer: JudgeScorer, job: JudgeJob, unit: Unit, request: ChatRequest,
                  result: ChatResult | None, error: Any, attempts: int, latency_ms: float) -> dict[str, Any]:
    """The stored judgement of one finished request (an error is stored, and never a vote for correct)."""
    _, spec, judge_sample, orientation = unit
    row: dict[str, Any] = {
        "run_id": run_id, "case_id": job.key.case_id, "template": job.key.template,
        "sample_index": job.key.sample_index, "scorer": scorer.name, "judge": spec, "judge_sample": judge_sample,
        "orientation": orientation, "prompt": json.dumps(request.messages, ensure_ascii=False), "attempts": attempts,
    }
    if error is None and result is not None:
        grade = scorer.parse(result.text)
        row.update(reply=result.text, reasoning=grade.reasoning or None, grade=grade.grade, score=grade.score,
                   parsed=grade.parsed, problem=grade.problem, latency_ms=result.latency_ms or latency_ms,
                   input_tokens=result.input_tokens, output_tokens=result.output_tokens, cached=result.cached,
                   cached_tokens=result.cached_tokens, cache_write_tokens=result.cache_write_tokens,
                   cache_write_1h_tokens=result.cache_write_1h_tokens)
    else:
        row.update(reply=getattr(error, "partial_text", None) or None, parsed=False, problem="request failed",
                   error=error.reason, error_kind=error.kind, input_tokens=getattr(error, "input_tokens", None),
                   output_tokens=getattr(error, "output_tokens", None),
                   cached_tokens=getattr(error, "cached_tokens", None),
                   cache_write_tokens=getattr(error, "cache_write_tokens", None),
                   cache_write_1h_tokens=getattr(error, "cache_write_1h_tokens", None))
    return row


def write_verdict(store: Store, run_id: str, key: SampleKey, scorers: Sequence[Any],
                  scores: dict[str, Any]) -> dict[str, Any]:
    """Write the judged sample's verdicts (from its stored judgements); return its scores."""
    judged = store.get_judgements(run_id, sample=(key.case_id, key.template, key.sample_index))
    scores = dict(scores)
    primary = None
    for i, scorer in enumerate(scorers):
        if not isinstance(scorer, JudgeScorer):
            continue
        v = sample_verdict(scorer, [j for j in judged if j["scorer"] == scorer.name])
        scores[scorer.name] = {"extracted": v["grade"], "correct": v["correct"], "score": v["score"],
                               "votes": v["n_votes"], "votes_correct": v["n_correct"], "unparsed": v["n_unparsed"]}
        if i == 0:
            primary = v
    store.set_sample_verdict(run_id, (key.case_id, key.template, key.sample_index), scores, primary)
    return scores


def pending_judging(store: Store, run: dict[str, Any], scorers: Sequence[Any],
                    cases: Mapping[str, Case]) -> list[JudgeJob]:
    """The answered samples of a stored run still owed judgements (see the module docstring)."""
    units = all_units(scorers)
    if not units:
        return []
    done = store.judgement_keys(run["id"])
    jobs: list[JudgeJob] = []
    rows = store.get_samples(run["id"], columns=("case_id", "template", "sample_index", "prompt", "response",
                                                  "error", "scores"))
    for s in rows:
        if s["error"] is not None or s["response"] is None or s["case_id"] not in cases:
            continue
        key = SampleKey(s["case_id"], s["template"], s["sample_index"])
        missing = [u for u in units if (key.case_id, key.template, key.sample_index, *u) not in done]
        scores = json.loads(s["scores"] or "{}")
        job = JudgeJob(key, cases[s["case_id"]], question_of(json.loads(s["prompt"] or "[]")), s["response"],
                       scores, missing)
        if missing:
            jobs.append(job)
        elif any((scores.get(sc.name) or {}).get("pending") for sc in judge_scorers(scorers)):
            # every judgement arrived but the process died before the verdict was written
            write_verdict(store, run["id"], key, scorers, scores)
    return jobs
