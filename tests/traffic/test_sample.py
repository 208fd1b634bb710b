"""Sampling a traffic log: deterministic by hash, stratified in proportion, interleaved for early stopping."""

from __future__ import annotations

import hashlib
import json

from tuieval.traffic.log import iter_log
from tuieval.traffic.sample import allocate, plan_sample


def _log(tmp_path, lines):
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps(l) + "\n" for l in lines), encoding="utf-8")
    return p


def _u(text: str) -> float:
    # the draw, computed independently of the sampler: blake2b-64 of the prompt over 2**64
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2 ** 64


def _traffic(tmp_path):
    # 300 prompts from team a, 100 from team b; every prompt short, Latin, without names, so the
    # derived features are one cell and the metadata field `team` splits the strata; `user` has
    # 400 distinct values (an id), which must not become a stratum
    lines = [{"prompt": f"question number {i} about the weather", "metadata": {"team": "a" if i < 300 else "b",
                                                                              "user": f"u{i}"}}
             for i in range(400)]
    return _log(tmp_path, lines)


def test_allocation_is_proportional_and_stratified(tmp_path):
    p = _traffic(tmp_path)
    plan = plan_sample(lambda: iter_log(p), 40)
    teams = [c.record.metadata["team"] for c in plan.chosen]
    # 40 · 300/400 = 30 and 40 · 100/400 = 10, exactly
    assert (teams.count("a"), teams.count("b")) == (30, 10)
    assert plan.strata_fields == ["team"]           # `user` (400 values) is not a stratum
    # within a cell the prompts with the smallest draws are taken
    want_b = sorted((f"question number {i} about the weather" for i in range(300, 400)), key=_u)[:10]
    assert sorted(c.record.prompt for c in plan.chosen if c.record.metadata["team"] == "b") == sorted(want_b)
    # every prefix keeps the mix: the first 8 hold 6 from a and 2 from b
    assert [c.record.metadata["team"] for c in plan.chosen[:8]].count("b") == 2


def test_sampling_is_deterministic_and_ignores_line_order(tmp_path):
    p = _traffic(tmp_path)
    a = [c.case_id for c in plan_sample(lambda: iter_log(p), 25).chosen]
    b = [c.case_id for c in plan_sample(lambda: iter_log(p), 25).chosen]
    lines = p.read_text().splitlines()
    q = tmp_path / "reversed.jsonl"
    q.write_text("\n".join(reversed(lines)) + "\n")
    c = [x.case_id for x in plan_sample(lambda: iter_log(q), 25).chosen]
    assert a == b and sorted(a) == sorted(c)


def test_repeated_prompts_are_drawn_once_and_problems_are_counted(tmp_path):
    lines = [{"prompt": "same question"}] * 5 + [{"prompt": f"other {i}"} for i in range(5)]
    p = tmp_path / "log.jsonl"
    p.write_text("".join(json.dumps(l) + "\n" for l in lines) + "{broken\n")
    plan = plan_sample(lambda: iter_log(p), 100)
    prompts = [c.record.prompt for c in plan.chosen]
    assert sorted(prompts) == sorted(["same question"] + [f"other {i}" for i in range(5)])
    assert (plan.n_records, plan.n_problems, plan.problems[0].line) == (10, 1, 11)


def test_allocate_by_largest_remainder_with_capacity():
    # quotas 10·(5, 3, 2)/10 = 5, 3, 2; cell c can give only 1, so its extra one goes to a and b
    # in proportion again: 1 · 5/8 and 1 · 3/8 → the larger remainder, a
    assert allocate({"a": 5, "b": 3, "c": 2}, {"a": 9, "b": 9, "c": 1}, 10) == {"a": 6, "b": 3, "c": 1}
    # quotas 7·(1/3) each = 2.33: one of the three gets the last (ties to the first listed)
    assert allocate({"a": 1, "b": 1, "c": 1}, {"a": 9, "b": 9, "c": 9}, 7) == {"a": 3, "b": 2, "c": 2}
    assert allocate({"a": 1}, {"a": 3}, 10) == {"a": 3}
