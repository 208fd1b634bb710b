"""Run a red-team in-process against the loopback server, and the Wilson interval by hand.

The echo suite's case i asks for <<tok{i}>>; the server's target answers "Answer: tok{i}"
unless the attack changed the token (tests/support/model_server.py, default_attack_rule)."""

from __future__ import annotations

import asyncio
import math

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.redteam.runner import RedTeam, RedTeamOptions
from tuieval.store import Store
from tuieval.suite import load_suite

Z = 1.959963984540054  # two-sided 95% normal quantile


def wilson_by_hand(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return (0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half)


def run_redteam(tmp_path, server, *, n_cases=6, targets=("openai-compatible/echo",), strategies=None, tries=1,
                budget=None, judge=None, concurrency=4, extra=None):
    suite = load_suite(write_echo_suite(tmp_path, n_cases, extra=extra))
    timeouts = Timeouts(connect=2, read=5, total=10)
    url = server.openai_base_url
    options = RedTeamOptions(targets=list(targets), attacker="openai-compatible/attacker", judge=judge,
                             strategies=list(strategies or ["paraphrase"]), tries=tries, budget=budget, seed=1,
                             concurrency=concurrency, base_url=url, attacker_base_url=url, judge_base_url=url,
                             retry_base_s=0.01, retry_cap_s=0.05, timeouts=timeouts)
    store = Store(tmp_path / "rt.db")
    backends = {t: create_backend(t, base_url=url, timeouts=timeouts) for t in targets}
    attacker = create_backend("openai-compatible/attacker", base_url=url, timeouts=timeouts)
    team = RedTeam(store)
    redteam_id = team.create(suite, options, backends)

    async def go():
        try:
            return await team.run(redteam_id, options, backends, attacker)
        finally:
            for b in [*backends.values(), attacker]:
                await b.aclose()

    status = asyncio.run(go())
    return store, redteam_id, status
