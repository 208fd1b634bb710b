"""A run that grows batch by batch (a shadow replay) keeps what the server's 429s taught the
engine's adaptive limiter: the next `Engine.run` call starts at the learnt limit, not at full
concurrency again. Against the loopback server's 429 injection, on a real SQLite file."""

from __future__ import annotations

import asyncio

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions, RunStarted
from tuieval.store import Store
from tuieval.suite import load_suite


def _setup(tmp_path, server, n_cases=32, concurrency=8):
    suite = load_suite(write_echo_suite(tmp_path, n_cases))
    timeouts = Timeouts(connect=2, read=5, total=10)
    backend = create_backend("openai-compatible/test-model", base_url=server.openai_base_url, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model="openai-compatible/test-model", base_url=server.openai_base_url, timeouts=timeouts,
                         concurrency=concurrency, max_retries=3)
    starts: list[int] = []
    engine = Engine(store, backend, lambda e: starts.append(engine.limiter.limit) if isinstance(e, RunStarted) else None)
    run_id = engine.create_run(suite, options)
    return store, engine, backend, run_id, options, starts


def test_the_second_batch_starts_at_the_limit_the_first_one_learnt(tmp_path, model_server):
    store, engine, backend, run_id, options, starts = _setup(tmp_path, model_server)
    first = [f"c{i:03d}" for i in range(16)]
    second = [f"c{i:03d}" for i in range(16, 32)]

    async def go():
        try:
            model_server.fail_first(1, 429)     # every prompt's first request: a 429, then an answer
            a = await engine.run(run_id, options, cases=first)
            learnt = engine.limiter.limit
            model_server.reset()                # the second batch meets no 429
            b = await engine.run(run_id, options, cases=second)
            return a, learnt, b
        finally:
            await backend.aclose()

    a, learnt, b = asyncio.run(go())
    assert (a.status, b.status) == ("partial", "complete")   # the run is complete once both are in
    assert store.count_samples(run_id) == 32 and store.count_errors(run_id) == 0
    # half of the first batch's results were 429s (16 of 32): the limit came down from 8
    assert model_server.status_counts.get(429, 0) == 0   # reset counters: none in the second batch
    assert learnt < 8
    # each batch's RunStarted saw the limit it starts at: 8, then the learnt one (not 8 again)
    assert starts == [8, learnt]


def test_another_concurrency_starts_a_new_limiter(tmp_path, model_server):
    store, engine, backend, run_id, options, starts = _setup(tmp_path, model_server, n_cases=8)

    async def go():
        try:
            await engine.run(run_id, options, cases=[f"c{i:03d}" for i in range(4)])
            kept = engine.limiter
            await engine.run(run_id, options, cases=[f"c{i:03d}" for i in range(4, 6)])
            same = engine.limiter is kept
            from dataclasses import replace

            await engine.run(run_id, replace(options, concurrency=3), cases=[f"c{i:03d}" for i in range(6, 8)])
            return same, engine.limiter.maximum
        finally:
            await backend.aclose()

    same, maximum = asyncio.run(go())
    assert same            # same concurrency: the limiter (and what it learnt) is kept
    assert maximum == 3    # --concurrency 3 on a resume: a limiter for 3
    assert starts == [8, 8, 3]
