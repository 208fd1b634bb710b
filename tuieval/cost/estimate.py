"""`tuieval run --dry-run`: the requests a run would send, their tokens and what they would cost,
without sending one.

Input tokens are estimated from the rendered prompts (about four characters a token: a rough
rule, stated as such); output tokens are bounded by max_tokens when the run has one. Judge
calls are counted too (their prompts hold the answer, which is not known yet, so only their
number is given, not their tokens).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tuieval.batch import judge_batchable
from tuieval.cost.budget import CHARS_PER_TOKEN
from tuieval.cost.prices import Price, PriceTable


@dataclass(frozen=True)
class Estimate:
    model: str
    n_cases: int
    n_templates: int
    samples: int
    n_requests: int
    input_tokens: int
    max_tokens: int | None
    price: Price | None
    judge_requests: dict[str, int]
    batch: bool = False  # `run --dry-run --batch`: at the provider's batch price

    @property
    def output_tokens_bound(self) -> int | None:
        return None if self.max_tokens is None else self.max_tokens * self.n_requests

    @property
    def input_dollars(self) -> float | None:
        return None if self.price is None else self.price.cost(self.input_tokens, 0, batch=self.batch)

    @property
    def output_dollars_bound(self) -> float | None:
        bound = self.output_tokens_bound
        return None if self.price is None or bound is None else self.price.cost(0, bound, batch=self.batch)


def prompt_chars(messages) -> int:
    """The characters of a rendered prompt that count towards its input-token estimate."""
    return sum(len(str(m.get("content") or "")) for m in messages)


def tokens_from_chars(chars: float) -> int:
    return int(round(chars / CHARS_PER_TOKEN))


def estimate_run(suite, model: str, *, samples: int | None, max_tokens: int | None, limit: int | None,
                 table: PriceTable, batch: bool = False) -> Estimate:
    from tuieval.scoring import build_scorers

    cases = suite.cases[:limit] if limit else suite.cases
    samples = samples or suite.sampling.samples
    chars = 0
    for case in cases:
        for template in suite.templates:
            chars += prompt_chars(template.render(case))
    n_requests = len(cases) * len(suite.templates) * samples
    judges: dict[str, int] = {}
    for scorer in build_scorers(suite.config()["scorers"]):
        for spec, _k, _o in getattr(scorer, "units", lambda: [])():
            judges[spec] = judges.get(spec, 0) + n_requests
    return Estimate(model=model, n_cases=len(cases), n_templates=len(suite.templates), samples=samples,
                    n_requests=n_requests, input_tokens=tokens_from_chars(chars * samples),
                    max_tokens=max_tokens or suite.sampling.max_tokens, price=table.lookup(model),
                    judge_requests=judges, batch=batch)


def dollars(x: float | None) -> str:
    """Dollars with enough digits to tell small sums apart ($0.0036, $12.40)."""
    if x is None:
        return "unknown"
    if x == 0:
        return "$0"
    if x < 1:
        # two significant digits, written out: $0.0038, $0.000096
        digits = max(2, 1 - math.floor(math.log10(x)))
        return f"${x:.{digits}f}"
    return f"${x:,.2f}"


def describe(est: Estimate) -> list[str]:
    """The dry run's lines."""
    lines = [f"dry run: {est.n_cases} cases × {est.n_templates} template(s) × {est.samples} sample(s) = "
             f"{est.n_requests:,} requests to {est.model}",
             f"input tokens ≈ {est.input_tokens:,} (from the rendered prompts, about "
             f"{CHARS_PER_TOKEN:g} characters a token)"]
    bound = est.output_tokens_bound
    lines.append(f"output tokens ≤ {bound:,} (max_tokens {est.max_tokens} × {est.n_requests:,})" if bound is not None
                 else "output tokens: no bound (no max_tokens; set one with --max-tokens)")
    if est.price is None:
        lines.append(f"cost: no price for {est.model}; give one with --prices FILE")
    else:
        label = " (a made-up price for a simulated model)" if est.price.simulated else ""
        if est.batch:
            label += f", batch price: {est.price.batch_discount:.0%} off"
        rate = (f"{est.price.model}: ${est.price.input:g} in / ${est.price.output:g} out per million tokens, "
                f"read {est.price.read_on}{label}")
        out = est.output_dollars_bound
        total = None if out is None else est.input_dollars + out
        lines.append(f"cost ≈ {dollars(est.input_dollars)} input + "
                     + (f"≤ {dollars(out)} output = ≤ {dollars(total)}" if out is not None else "output unbounded")
                     + f" ({rate})")
    for spec, n in sorted(est.judge_requests.items()):
        # with --batch, a judge whose provider has a batch API is sent as a second batch (tuieval.batch.runner)
        how = ", sent as a batch" if est.batch and judge_batchable(spec) else ""
        lines.append(f"judge {spec}: {n:,} requests (their cost depends on the answers{how})")
    lines.append("no request was sent")
    return lines


def to_json(est: Estimate) -> dict[str, Any]:
    return {"model": est.model, "n_requests": est.n_requests, "input_tokens_estimate": est.input_tokens,
            "output_tokens_bound": est.output_tokens_bound, "input_dollars": est.input_dollars,
            "output_dollars_bound": est.output_dollars_bound,
            "price": est.price.to_json() if est.price else None, "judge_requests": est.judge_requests,
            "batch": est.batch}
