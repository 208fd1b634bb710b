"""Tier 4, bidirectional entailment with a judge, and the hybrid's similarity bands (docs/statistics.md §1.1–1.4).

The judge is the caller's `Judge` callable; `EntailmentOracle` asks it both directions,
caches the answers and applies the rule; `hybrid_equivalence` lets similarity decide the
pairs below τ_low and sends the rest to the oracle.
"""

from __future__ import annotations

import re
from typing import Callable

import numpy as np

from tuieval.analysis.variance.config import DEFAULT_RULE, RULES

__all__ = ["RULES", "Judge", "EntailmentOracle", "hybrid_equivalence", "parse_judge_reply"]

Judge = Callable[[str, str, str], str]
"""judge(question, premise, hypothesis) → the judge's raw reply (entailment / neutral / contradiction)."""

_JUDGE_LABEL = re.compile(r"entail|contradict|neutral")


def parse_judge_reply(reply: str | None) -> tuple[str, bool]:
    """Read a judge reply like the reference parser: only the first 30 characters count.

    Returns (label, recognised).  The earliest of "entail…", "contradict…", "neutral" wins;
    anything else maps to "neutral" with recognised=False so the caller can count it.
    """
    head = (reply or "")[:30].lower()
    m = _JUDGE_LABEL.search(head)
    if m is None:
        return "neutral", False
    return {"entail": "entailment", "contradict": "contradiction", "neutral": "neutral"}[m.group(0)], True


def _decide(rule: str, fwd: str, bwd: str) -> bool:
    if rule == "strict":
        return fwd == "entailment" and bwd == "entailment"
    if rule == "lenient":
        return "contradiction" not in (fwd, bwd) and not (fwd == "neutral" and bwd == "neutral")
    if rule == "no-contradiction":
        return "contradiction" not in (fwd, bwd)
    raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")


class EntailmentOracle:
    """Calls the judge in both directions, caching per direction and per unordered pair.

    Counters: judge_calls, unparsed (replies that fell back to neutral), pair_cache_hits.
    One oracle can be shared across groups of the same question.
    """

    def __init__(self, judge: Judge, question: str = "", rule: str = DEFAULT_RULE) -> None:
        if rule not in RULES:
            raise ValueError(f"unknown rule {rule!r}; expected one of {RULES}")
        self.judge, self.question, self.rule = judge, question, rule
        self.directions: dict[tuple[str, str], str] = {}
        self.pairs: dict[tuple[str, str], bool] = {}
        self.judge_calls = 0
        self.unparsed = 0
        self.pair_cache_hits = 0

    def _label(self, a: str, b: str) -> str:
        key = (a, b)
        lab = self.directions.get(key)
        if lab is None:
            self.judge_calls += 1
            lab, ok = parse_judge_reply(self.judge(self.question, a, b))
            if not ok:
                self.unparsed += 1
            self.directions[key] = lab
        return lab

    def equivalent(self, a: str, b: str) -> bool:
        key = (a, b) if a <= b else (b, a)
        hit = self.pairs.get(key)
        if hit is not None:
            self.pair_cache_hits += 1
            return hit
        res = _decide(self.rule, self._label(a, b), self._label(b, a))
        self.pairs[key] = res
        return res

    def counters(self) -> dict:
        return {"judge_calls": self.judge_calls, "unparsed_replies": self.unparsed,
                "pair_cache_hits": self.pair_cache_hits}



def hybrid_equivalence(S: np.ndarray, texts: list[str], oracle: EntailmentOracle, tau_low: float, tau_high: float,
                       bands: dict) -> Callable[[int, int], bool]:
    """The hybrid rule for distinct answers r, j with similarity S[r, j]: below τ_low
    different without a judge call ("below_low"); otherwise the judge decides, counted
    as "band" (τ_low ≤ S < τ_high) or "above_high" — high similarity without a
    canonical match is exactly the 1912-vs-1921 failure, so it is judged too."""
    def eq(r: int, j: int) -> bool:
        s = S[r, j]
        if s < tau_low:
            bands["below_low"] += 1
            return False
        bands["above_high" if s >= tau_high else "band"] += 1
        return oracle.equivalent(texts[r], texts[j])

    return eq
