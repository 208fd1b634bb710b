"""`tuieval shadow --max-cost USD`: which sampled prompts, and which judgements, the replay can still afford.

A shadow prompt costs one request per replayed model (the candidate, and the baseline model when
there is one; logged answers are free). Before a batch is sent, each prompt's cost is estimated
and the batch is cut to the longest prefix whose estimates fit under the limit with what has
been spent; the replay stops at the first prompt that does not fit. It does not skip to cheaper
prompts further on: that would bias the sample toward short prompts, and the sample's point is
to have the traffic's mix.

With `--judge`, the pairwise judge's requests on the disagreements (both orders) count against the
same limit. They are sent after the replay, a disagreement at a time in replay order (its two
orders together: one without the other is no verdict), each estimated before it is sent the
same way, and the judging stops at the first disagreement that does not fit, so the judged
disagreements are a prefix of the replay, not the cheap ones.

The estimate of a request before it is sent:

* raw: its messages' text at about four characters a token (tuieval.cost.budget) for the input,
  and for the output the logged answer's text the same way (no logged answer: `max_tokens` when
  set, else none; a judge: its `max_tokens`, else none), priced by the model's row of the price
  table; a judge request's messages are the ones the engine will send
  (tuieval.engine.judging.judge_request);
* calibrated: the raw estimate × (what the model's — or the judge's — measured requests actually
  cost ÷ their raw estimates), so a server that counts tokens differently, or a candidate that
  writes longer answers than were logged, moves the estimate after the first measurement;
* a model or judge with nothing measured yet sends one prompt (one disagreement) alone first (as
  `run --max-cost` does), so an unknown model can overshoot the limit by at most that one.

What was spent is what the stored rows cost, priced as the report prices them
(tuieval.cost.spend.stored_cost on both runs: the candidate's samples and its judgements, the
baseline's samples), so the figure the replay stops at is the figure the report shows, split by
role in the summary; on `--resume` what is already stored costs nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from tuieval.cost.budget import CHARS_PER_TOKEN
from tuieval.cost.prices import Price
from tuieval.cost.spend import run_prices, stored_cost


def prompt_chars(messages: Sequence[Mapping[str, Any]]) -> int:
    """Characters of text a replay sends (every message's content, as `run --dry-run` counts them)."""
    return sum(len(str(m.get("content") or "")) for m in messages)


@dataclass
class _Model:
    """One replayed model: its run, its price and how its estimates compare with what it cost."""

    run_id: str
    price: Price
    answered: set[str] = field(default_factory=set)
    actual: float = 0.0     # dollars of the answered prompts measured in this replay
    raw: float = 0.0        # their raw estimates
    n_measured: int = 0

    def raw_estimate(self, in_chars: int, out_chars: int | None, max_tokens: int | None) -> float:
        out_tokens = out_chars / CHARS_PER_TOKEN if out_chars is not None else (max_tokens or 0)
        return self.price.cost(in_chars / CHARS_PER_TOKEN, out_tokens)

    def estimate(self, raw: float) -> float | None:
        """Calibrated dollars for a prompt with this raw estimate; None before any measurement."""
        if self.n_measured == 0:
            return None
        if self.raw > 0:
            return raw * self.actual / self.raw
        return self.actual / self.n_measured   # a free raw estimate (zero prices): the mean cost


class ShadowSpend:
    """Dollars spent by a shadow replay's runs against `limit`, and the prompts (and judgements)
    that still fit.

    `models` is [(run_id, price)], the candidate first; `judge` the judge's (spec, price) when
    its calls count too (they are stored with the candidate's run)."""

    def __init__(self, store, limit: float, models: Sequence[tuple[str, Price]], max_tokens: int | None,
                 judge: tuple[str, Price] | None = None, judge_max_tokens: int | None = None) -> None:
        self.store = store
        self.limit = float(limit)
        self.max_tokens = max_tokens
        self.models = [_Model(run_id, price) for run_id, price in models]
        self.judge = _Model(self.models[0].run_id, judge[1]) if judge is not None else None
        self.judge_spec = judge[0] if judge is not None else None
        self.judge_max_tokens = judge_max_tokens
        self.spent = 0.0
        self.by_role: dict[str, float | None] = {}
        self._judge_case_cost: dict[str, float] = {}
        self.measure()
        for m in self.models:   # what a resumed replay already holds costs nothing more
            m.answered = {k[0] for k in store.done_keys(m.run_id)}

    def _raw(self, m: _Model, ch: Any) -> float:
        rec = ch.record
        messages = rec.messages if rec.messages is not None else [{"role": "user", "content": rec.prompt}]
        out = len(rec.response) if isinstance(rec.response, str) else None
        return m.raw_estimate(prompt_chars(messages), out, self.max_tokens)

    def _prompt_cost(self, ch: Any) -> tuple[float, bool]:
        """(estimated dollars of replaying `ch`, whether a model it needs has nothing measured yet)."""
        cost, unknown = 0.0, False
        for m in self.models:
            if ch.case_id in m.answered:
                continue
            raw = self._raw(m, ch)
            est = m.estimate(raw)
            if est is None:
                unknown, est = True, raw
            cost += est
        return cost, unknown

    def judge_raw(self, unit_messages: Sequence[Sequence[Mapping[str, Any]]]) -> float:
        """Raw dollars of one disagreement's judge requests (the messages of each)."""
        assert self.judge is not None
        return sum(self.judge.raw_estimate(prompt_chars(msgs), None, self.judge_max_tokens) for msgs in unit_messages)

    def _judging_cost(self, raw: float) -> tuple[float, bool]:
        assert self.judge is not None
        est = self.judge.estimate(raw)
        return (raw, True) if est is None else (est, False)

    def _fit(self, items: Sequence[Any], cost_of) -> list[Any]:
        """The longest prefix of `items` whose estimated costs fit under the limit (an item whose
        model has nothing measured yet: alone, sent while anything is left)."""
        out: list[Any] = []
        total = self.spent
        for item in items:
            cost, unknown = cost_of(item)
            if unknown:
                # the first measurement of a model goes alone
                if not out and total < self.limit and total + cost <= self.limit:
                    out.append(item)
                break
            if total + cost > self.limit:
                break
            total += cost
            out.append(item)
        return out

    def affordable(self, chunk: Sequence[Any]) -> list[Any]:
        """The longest prefix of `chunk` (sampled prompts) that fits under the limit."""
        return self._fit(chunk, self._prompt_cost)

    def affordable_judging(self, jobs: Sequence[tuple[str, float]]) -> list[tuple[str, float]]:
        """The longest prefix of `jobs` — (case_id, raw dollars of its judge requests), in replay
        order — that fits under the limit."""
        return self._fit(jobs, lambda job: self._judging_cost(job[1]))

    def measure(self, chunk: Sequence[Any] = (), judged: Sequence[tuple[str, float]] = ()) -> None:
        """Re-read what both runs cost; calibrate each model on the prompts of `chunk` it answered,
        and the judge on the disagreements of `judged` ((case_id, raw dollars)) it was asked."""
        spent = 0.0
        by_role: dict[str, float | None] = {"candidate": None, "baseline": None, "judge": None}
        for i, m in enumerate(self.models):
            run = self.store.get_run(m.run_id)
            cost = stored_cost(self.store, run, run_prices(run))
            spent += cost["total"]
            if i == 0:
                by_role["candidate"] = cost["model"] or 0.0
                if self.judge is not None:
                    by_role["judge"] = sum(j["dollars"] or 0.0 for j in cost["judges"].values())
                    before, self._judge_case_cost = self._judge_case_cost, dict(cost["judge_per_case"])
                    for cid, raw in judged:
                        if cid in self._judge_case_cost:
                            self.judge.actual += self._judge_case_cost[cid] - before.get(cid, 0.0)
                            self.judge.raw += raw
                            self.judge.n_measured += 1
            else:
                by_role["baseline"] = cost["total"]
            per_case = cost["per_case"]
            for ch in chunk:
                if ch.case_id in m.answered or ch.case_id not in per_case:
                    continue
                m.answered.add(ch.case_id)
                m.actual += per_case[ch.case_id]
                m.raw += self._raw(m, ch)
                m.n_measured += 1
        self.spent = spent
        self.by_role = by_role

    def next_cost(self, ch: Any) -> float:
        """The estimated cost of replaying one more prompt (what the stop was short of)."""
        return self._prompt_cost(ch)[0]

    def summary(self, stopped: bool, next_prompt: Any | None, *, stopped_in: str | None = None,
                next_judgement_raw: float | None = None) -> dict[str, Any]:
        return {"limit": self.limit, "spent": self.spent, "stopped": stopped,
                "stopped_in": stopped_in if stopped else None,
                "by_role": dict(self.by_role),
                "next_prompt_estimate": self.next_cost(next_prompt) if next_prompt is not None else None,
                "next_judgement_estimate": (self._judging_cost(next_judgement_raw)[0]
                                            if next_judgement_raw is not None else None),
                "models": {m.run_id: {"model_price": m.price.model, "measured": m.n_measured} for m in self.models},
                "judge": (None if self.judge is None else
                          {"model": self.judge_spec, "model_price": self.judge.price.model,
                           "measured": self.judge.n_measured})}
