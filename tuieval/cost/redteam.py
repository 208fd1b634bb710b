"""What a red-team run cost: the attacker's rewrites, the targets' answers (every turn of a
multi-turn attack) and the judge's verdicts, per strategy and in total.

Each request is priced at its own model's price: from a table given on purpose (`report
--prices`), else a target run's stored prices, else the shipped table. Tokens are the servers' counts; a request stored without them is
costed from its text (about four characters a token: the messages sent, the reply) and counted
in `n_estimated`, so a sum is never silently short. The seed answers are the target run's own
samples and are in that run's `cost` section, not here.
"""

from __future__ import annotations

import json
from typing import Any, Mapping, Sequence

from tuieval.cost.budget import tokens_from_text
from tuieval.cost.prices import Price, PriceTable, default_table, price_from_json


def _price(spec: str, runs: Sequence[Mapping[str, Any]], table: PriceTable, override: bool) -> Price | None:
    """`override` (a table given on purpose) first, then a target run's stored price, then the table."""
    if override:
        return table.lookup(spec)
    for run in runs:
        stored = ((run.get("config") or {}).get("prices") or {})
        if spec in stored:
            return price_from_json(stored[spec])
    return table.lookup(spec)


class _Tally:
    """Requests, tokens and dollars of one role (attacker, a target, a judge)."""

    def __init__(self, model: str, price: Price | None) -> None:
        self.model, self.price = model, price
        self.n_requests = self.input_tokens = self.output_tokens = self.cached_tokens = self.n_estimated = 0
        self.dollars = 0.0

    def add(self, n_requests: int, input_tokens: int | None, output_tokens: int | None, cached: int | None,
            prompt_text: str, reply_text: str | None) -> float:
        estimated = input_tokens is None or output_tokens is None
        if input_tokens is None:
            input_tokens = tokens_from_text(prompt_text)
        if output_tokens is None:
            output_tokens = tokens_from_text(reply_text)
        self.n_requests += n_requests
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cached_tokens += cached or 0
        self.n_estimated += int(estimated)
        d = 0.0 if self.price is None else self.price.cost(input_tokens, output_tokens, cached_tokens=cached)
        self.dollars += d
        return d

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "n_requests": self.n_requests, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens, "cached_input_tokens": self.cached_tokens,
                "n_estimated": self.n_estimated, "dollars": None if self.price is None else self.dollars,
                "price": self.price.to_json() if self.price else None}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value or [], ensure_ascii=False)


def redteam_cost(record: Mapping[str, Any], attacks: Sequence[Mapping[str, Any]],
                 answers: Sequence[Mapping[str, Any]], runs: Mapping[str, Mapping[str, Any]],
                 table: PriceTable | None = None) -> dict[str, Any]:
    """The `cost` of a red-team section: totals per role and per strategy (see the module docstring)."""
    override = table is not None
    table = table or default_table()
    run_list = list(runs.values())
    attacker = _Tally(record["attacker"], _price(record["attacker"], run_list, table, override))
    targets = {rid: _Tally(run["model"], _price(run["model"], [run], table, override)) for rid, run in runs.items()}
    judges: dict[str, _Tally] = {}
    per_strategy: dict[str, dict[str, float]] = {
        s: {"attacker": 0.0, "target": 0.0, "judge": 0.0} for s in record["strategies"]}

    def bucket(strategy: str) -> dict[str, float]:
        return per_strategy.setdefault(strategy, {"attacker": 0.0, "target": 0.0, "judge": 0.0})

    for a in attacks:
        bucket(a["strategy"])["attacker"] += attacker.add(1, a.get("input_tokens"), a.get("output_tokens"),
                                                          a.get("cached_tokens"), _text(a.get("prompt")),
                                                          a.get("reply"))
    for ans in answers:
        target = targets.get(ans["run_id"])
        if target is not None:
            bucket(ans["strategy"])["target"] += target.add(
                int(ans.get("target_requests") or 1), ans.get("input_tokens"), ans.get("output_tokens"),
                ans.get("cached_tokens"), _text(ans.get("messages")), ans.get("response"))
        for j in ans.get("judgements") or []:
            spec = str(j.get("judge") or "")
            tally = judges.get(spec)
            if tally is None:
                tally = judges[spec] = _Tally(spec, _price(spec, run_list, table, override))
            # a judge prompt holds the question and the answer: its text stands in when uncounted
            bucket(ans["strategy"])["judge"] += tally.add(1, j.get("input_tokens"), j.get("output_tokens"),
                                                          j.get("cached_tokens"), ans.get("response") or "",
                                                          j.get("reply"))
    tallies = [attacker, *targets.values(), *judges.values()]
    unpriced = sorted({t.model for t in tallies if t.price is None and t.n_requests})
    return {
        "currency": "USD",
        "total": sum(t.dollars for t in tallies),
        "attacker": attacker.to_json(),
        "targets": [{"run_id": rid, **t.to_json()} for rid, t in targets.items()],
        "judges": [t.to_json() for _, t in sorted(judges.items())],
        "strategies": [{"strategy": s, **parts, "dollars": sum(parts.values())} for s, parts in per_strategy.items()],
        "unpriced": unpriced,
        "n_estimated": sum(t.n_estimated for t in tallies),
    }
