"""A short traffic log is read once by the sampler (held from its first pass), a long one twice;
the plan is the same either way."""

from __future__ import annotations

import json

from tuieval.traffic import sample
from tuieval.traffic.log import iter_log
from tuieval.traffic.sample import plan_sample


def _log(tmp_path, n):
    # teams a/b/c by i mod 3 (a stratum), one malformed line in the middle
    lines = [json.dumps({"prompt": f"question {i} about the lease", "response": f"r{i}",
                         "metadata": {"team": "abc"[i % 3]}}) for i in range(n)]
    lines.insert(n // 2, "{broken")
    p = tmp_path / "log.jsonl"
    p.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return p


def _planned(p, budget):
    opened = []

    def open_log():
        opened.append(1)
        return iter_log(p)

    plan = plan_sample(open_log, budget)
    return plan, len(opened)


def _summary(plan):
    return ([c.case_id for c in plan.chosen], plan.cells, plan.strata_fields,
            (plan.n_lines, plan.n_records, plan.n_problems), [(x.line, x.message) for x in plan.problems])


def test_a_log_held_from_the_first_pass_plans_as_one_read_twice(tmp_path, monkeypatch):
    p = _log(tmp_path, 60)                     # 61 lines
    once, n_once = _planned(p, 20)
    monkeypatch.setattr(sample, "KEEP_LINES", 61)
    at_the_cap, n_cap = _planned(p, 20)
    monkeypatch.setattr(sample, "KEEP_LINES", 60)
    twice, n_twice = _planned(p, 20)
    assert (n_once, n_cap, n_twice) == (1, 1, 2)   # 61 lines: held at a cap of 61, not at 60
    assert _summary(once) == _summary(twice) == _summary(at_the_cap)
    # by hand: 60 records and the broken line (line 31), 20 prompts drawn, 20 per team in the log
    assert (once.n_lines, once.n_records, once.n_problems, once.problems[0].line) == (61, 60, 1, 31)
    assert len(once.chosen) == 20 and once.strata_fields == ["team"]
    assert sorted(v["traffic"] for v in once.cells.values()) == [20, 20, 20]
