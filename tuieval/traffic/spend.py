"""`tuieval shadow --max-cost USD`: which sampled prompts the replay can still afford.

A shadow prompt costs one request per replayed model (the candidate, and the baseline model when
there is one; logged answers are free). Before a batch is sent, each prompt's cost is estimated
and the batch is cut to the longest prefix whose estimates fit under the limit with what has
been spent; the replay stops at the first prompt that does not fit. It does not skip to cheaper
prompts further on: that would bias the sample toward short prompts, and the sample's point is
to have the traffic's mix.

The estimate of a prompt for one model, before it is sent:

* raw: its messages' text at about four characters a token (tuieval.cost.budget) for the input,
  and the logged answer's text the same way for the output (no logged answer: `max_tokens` when
  set, else none), priced by the model's row of the price table;
* calibrated: the raw estimate × (what the model's answered prompts actually cost ÷ their raw
  estimates), so a server that counts tokens differently, or a candidate that writes longer
  answers than were logged, moves the estimate after the first measurement;
* a model with nothing measured yet sends one prompt alone first (as `run --max-cost` does), so
  an unknown model can overshoot the limit by at most that one request.

What was spent is what the stored rows cost, priced as the report prices them
(tuieval.cost.spend.stored_cost on both runs), so the figure the replay stops at is the figure
the report shows; on `--resume` the prompts already answered cost nothing more.
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
    """Dollars spent by a shadow replay's runs against `limit`, and the prompts that still fit."""

    def __init__(self, store, limit: float, models: Sequence[tuple[str, Price]], max_tokens: int | None) -> None:
        self.store = store
        self.limit = float(limit)
        self.max_tokens = max_tokens
        self.models = [_Model(run_id, price) for run_id, price in models]
        self.spent = 0.0
        self.measure()
        for m in self.models:   # what a resumed replay already holds costs nothing more
            m.answered = {k[0] for k in store.done_keys(m.run_id)}

    def _raw(self, m: _Model, ch: Any) -> float:
        rec = ch.record
        messages = rec.messages if rec.messages is not None else [{"role": "user", "content": rec.prompt}]
        out = len(rec.response) if isinstance(rec.response, str) else None
        return m.raw_estimate(prompt_chars(messages), out, self.max_tokens)

    def affordable(self, chunk: Sequence[Any]) -> list[Any]:
        """The longest prefix of `chunk` whose estimated cost fits under the limit (a model with
        nothing measured yet: its first prompt alone, sent while anything is left)."""
        out: list[Any] = []
        total = self.spent
        for ch in chunk:
            cost, unknown = 0.0, False
            for m in self.models:
                if ch.case_id in m.answered:
                    continue
                raw = self._raw(m, ch)
                est = m.estimate(raw)
                if est is None:
                    unknown = True
                    est = raw
                cost += est
            if unknown:
                # the first measurement of a model goes alone
                if not out and total < self.limit and total + cost <= self.limit:
                    out.append(ch)
                break
            if total + cost > self.limit:
                break
            total += cost
            out.append(ch)
        return out

    def measure(self, chunk: Sequence[Any] = ()) -> None:
        """Re-read what both runs cost; calibrate each model on the prompts of `chunk` it answered."""
        spent = 0.0
        for m in self.models:
            run = self.store.get_run(m.run_id)
            cost = stored_cost(self.store, run, run_prices(run))
            spent += cost["total"]
            per_case = cost["per_case"]
            for ch in chunk:
                if ch.case_id in m.answered or ch.case_id not in per_case:
                    continue
                m.answered.add(ch.case_id)
                m.actual += per_case[ch.case_id]
                m.raw += self._raw(m, ch)
                m.n_measured += 1
        self.spent = spent

    def next_cost(self, ch: Any) -> float:
        """The estimated cost of replaying one more prompt (what the stop was short of)."""
        total = 0.0
        for m in self.models:
            if ch.case_id not in m.answered:
                raw = self._raw(m, ch)
                est = m.estimate(raw)
                total += raw if est is None else est
        return total

    def summary(self, stopped: bool, next_prompt: Any | None) -> dict[str, Any]:
        return {"limit": self.limit, "spent": self.spent, "stopped": stopped,
                "next_prompt_estimate": self.next_cost(next_prompt) if next_prompt is not None else None,
                "models": {m.run_id: {"model_price": m.price.model, "measured": m.n_measured} for m in self.models}}
