"""A shadow replay sends its batches through one engine, and so through one adaptive limiter: a
provider's rate limit learnt in one batch holds in the next (loopback server, 429 injection)."""

from __future__ import annotations

import asyncio
import json

from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import ConcurrencyChanged, RunStarted
from tuieval.store import Store
from tuieval.traffic.shadow import ShadowSettings, make_plan, run_shadow


def test_the_limit_learnt_in_one_batch_holds_in_the_next(tmp_path, model_server):
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps({"prompt": f"Who is {i}? <<N{i}>>", "response": f"Answer: N{i}"}) + "\n"
                           for i in range(32)), encoding="utf-8")
    timeouts = Timeouts(connect=2, read=5, total=10)
    settings = ShadowSettings(log_path=str(log), candidate="openai-compatible/cand", budget=32, concurrency=8,
                              batch=16, max_retries=3, timeouts=timeouts, candidate_base_url=model_server.openai_base_url)
    backend = create_backend("openai-compatible/cand", base_url=model_server.openai_base_url, timeouts=timeouts)
    events: list = []
    batches: list = []

    def after_batch(sequence):
        batches.append(sequence)
        model_server.reset()      # 429s in the first batch only

    async def go():
        try:
            model_server.fail_first(1, 429)    # every prompt's first request of the first batch: a 429
            return await run_shadow(Store(tmp_path / "t.db"), settings, make_plan(settings), backend, None,
                                    on_event=events.append, on_batch=after_batch)
        finally:
            await backend.aclose()

    outcome = asyncio.run(go())
    assert outcome.status == "complete" and outcome.n_replayed == 32 and len(batches) == 2
    starts = [i for i, e in enumerate(events) if isinstance(e, RunStarted)]
    assert len(starts) == 2
    first = [e.limit for e in events[starts[0]:starts[1]] if isinstance(e, ConcurrencyChanged)]
    second = [e.limit for e in events[starts[1]:] if isinstance(e, ConcurrencyChanged)]
    # the first batch's 429s (at least half of its results) brought the limit down from 8
    assert first and first[-1] < 8
    # the second batch met no 429, so a limiter made for it would have stayed at 8 and never moved;
    # the kept one starts below 8 and moves from there: its 16 results complete a window, and the
    # limit steps one up (or, with a 429 of the first batch still in that window, down ×0.7)
    learnt = first[-1]
    assert second and second[0] in (learnt + 1, max(1, int(learnt * 0.7)))
    assert model_server.status_counts.get(429, 0) == 0
