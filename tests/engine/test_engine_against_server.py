"""The engine against a real HTTP server on 127.0.0.1: faults, retries, timeouts, both formats."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.suites import write_echo_suite
from tuieval.backends.base import Timeouts
from tuieval.backends.registry import create_backend
from tuieval.engine import Engine, RunOptions, SampleRetry
from tuieval.store import Store
from tuieval.suite import load_suite


def _run(tmp_path, server, *, provider="openai-compatible", n_cases=20, samples=1, events=None, **opts):
    suite = load_suite(write_echo_suite(tmp_path, n_cases, samples=samples))
    base = server.openai_base_url if provider != "anthropic" else server.url
    timeouts = opts.pop("timeouts", Timeouts(connect=2, read=5, total=10))
    backend = create_backend(f"{provider}/test-model", base_url=base, timeouts=timeouts)
    store = Store(tmp_path / "t.db")
    options = RunOptions(model=f"{provider}/test-model", base_url=base, retry_base_s=0.01, retry_cap_s=0.05,
                         timeouts=timeouts, **opts)
    engine = Engine(store, backend, (events.append if events is not None else None))
    run_id = engine.create_run(suite, options)

    async def go():
        try:
            return await engine.run(run_id, options)
        finally:
            await backend.aclose()

    finished = asyncio.run(go())
    return store, run_id, finished


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_every_sample_recovered_under_faults(tmp_path, model_server, provider):
    # 10% 429 (Retry-After 0) + 5% 500 + 3% cut streams, as the issue asks
    model_server.configure(seed=5, p_429=0.10, p_500=0.05, p_cut=0.03, retry_after="0")
    events = []
    store, run_id, finished = _run(tmp_path, model_server, provider=provider, n_cases=60, samples=2,
                                   concurrency=8, events=events)
    samples = store.get_samples(run_id)
    assert finished.status == "complete"
    assert len(samples) == 120
    assert all(s["error"] is None for s in samples), [s["error"] for s in samples if s["error"]]
    assert all(s["correct"] for s in samples)
    # faults really happened and were retried
    faults = model_server.status_counts[429] + model_server.status_counts[500] + model_server.fault_counts["cut"]
    assert model_server.status_counts[429] > 0 and model_server.status_counts[500] > 0
    assert model_server.fault_counts["cut"] > 0
    assert sum(isinstance(e, SampleRetry) for e in events) == faults
    assert any(s["attempts"] > 1 for s in samples)


def test_exhausted_retries_are_stored_as_errors(tmp_path, model_server):
    model_server.always_fail(500)
    store, run_id, finished = _run(tmp_path, model_server, n_cases=5, max_retries=2)
    samples = store.get_samples(run_id)
    assert finished.status == "complete"  # every sample has an outcome: errors count, never dropped
    assert len(samples) == 5
    for s in samples:
        assert s["error"] and "500" in s["error"]
        assert s["correct"] == 0 and s["attempts"] == 3
    assert model_server.requests_total == 15


def test_client_error_stops_the_run_without_retrying(tmp_path, model_server):
    model_server.always_fail(401)
    store, run_id, finished = _run(tmp_path, model_server, n_cases=10, concurrency=1)
    assert finished.status == "failed"
    assert model_server.requests_total == 1
    # nothing was learned about the model: no sample is stored, so --resume asks again
    assert store.get_samples(run_id) == []


def test_total_timeout_fires_and_is_censored(tmp_path, model_server):
    model_server.latency_ms = 3000
    store, run_id, finished = _run(tmp_path, model_server, n_cases=2, max_retries=0,
                                   timeouts=Timeouts(connect=1, read=10, total=0.3))
    samples = store.get_samples(run_id)
    assert [s["error_kind"] for s in samples] == ["timeout", "timeout"]
    # right-censored at the time we gave up, kept for tail statistics
    assert all(250 <= s["latency_ms"] < 2000 for s in samples)


def test_rate_limit_lowers_concurrency(tmp_path, model_server):
    model_server.fail_first(1, 429)
    events = []
    _run(tmp_path, model_server, n_cases=16, concurrency=8, events=events)
    from tuieval.engine import ConcurrencyChanged

    limits = [e.limit for e in events if isinstance(e, ConcurrencyChanged)]
    assert limits and min(limits) < 8


def test_a_slow_close_is_stored_as_the_answer_it_was(tmp_path, model_server):
    # The server holds each body open 1.5 s after the terminal event; the total timeout is 0.5 s.
    model_server.configure(slow_close_ms=1500)
    store, run_id, finished = _run(tmp_path, model_server, n_cases=3, max_retries=0,
                                   timeouts=Timeouts(connect=1, read=5, total=0.5))
    samples = store.get_samples(run_id)
    assert [s["error"] for s in samples] == [None, None, None]
    assert all(s["correct"] for s in samples)
    assert all(s["latency_ms"] < 1500 for s in samples)


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_a_total_timeout_mid_stream_stores_what_arrived(tmp_path, model_server, provider):
    # The first text delta ("Answ") is written at once, then the server goes silent past the
    # deadline: what arrived is known whatever the machine's load (a paced stream was not).
    first_text_event = {"openai-compatible": 2, "anthropic": 4}[provider]
    model_server.configure(stall_after_events=first_text_event, stall_ms=2000)
    store, run_id, finished = _run(tmp_path, model_server, provider=provider, n_cases=2, max_retries=0,
                                   timeouts=Timeouts(connect=1, read=5, total=0.6))
    samples = store.get_samples(run_id)
    assert len(samples) == 2
    for s in samples:
        assert s["error_kind"] == "timeout" and s["error"] == "total timeout (0.6s)"
        assert s["response"] == "Answ"
        assert s["ttft_ms"] is not None
        assert s["latency_ms"] == 600.0  # right-censored at the timeout
        assert s["attempts"] == 1


@pytest.mark.parametrize("status", [408, 409, 425, 500, 502, 503, 504, 529])
def test_what_the_official_sdks_retry_is_retried(tmp_path, model_server, status):
    model_server.fail_first(2, status)
    store, run_id, finished = _run(tmp_path, model_server, n_cases=3)
    samples = store.get_samples(run_id)
    assert [s["error"] for s in samples] == [None] * 3
    assert [s["attempts"] for s in samples] == [3, 3, 3]


@pytest.mark.parametrize("message", ["litellm.BadRequestError: Invalid model name passed in model=nope",
                                     "Authentication Error, Invalid proxy server token passed"])
def test_a_400_that_says_bad_model_or_key_stops_the_run(tmp_path, model_server, message):
    model_server.configure(fail_message=message)
    model_server.always_fail(400)
    store, run_id, finished = _run(tmp_path, model_server, n_cases=10, concurrency=1)
    assert finished.status == "failed"
    assert model_server.requests_total == 1


def test_one_failure_one_kind_one_reason(tmp_path, model_server):
    model_server.always_fail("cut")
    store, run_id, finished = _run(tmp_path, model_server, n_cases=10, max_retries=1)
    samples = store.get_samples(run_id)
    assert {s["error_kind"] for s in samples} == {"stream_cut"}
    assert {s["error"] for s in samples} == {"stream cut: the connection closed before the answer ended"}
    assert all(s["attempts"] == 2 for s in samples)


def test_a_server_that_goes_away_mid_run_is_retried_not_a_stop(tmp_path, model_server):
    from tuieval.engine import SampleFinished

    events = []

    def on_event(event):
        events.append(event)
        if isinstance(event, SampleFinished) and sum(isinstance(e, SampleFinished) for e in events) == 2:
            model_server.stop()  # from now on every connection is refused

    store, run_id, finished = _run(tmp_path, model_server, n_cases=6, concurrency=1, max_retries=1,
                                   events=_Recorder(on_event))
    samples = sorted(store.get_samples(run_id), key=lambda s: s["dispatch_order"])
    assert finished.status == "complete"  # the server answered before: not a setup mistake
    assert [s["error"] is None for s in samples] == [True, True, False, False, False, False]
    assert {s["error_kind"] for s in samples[2:]} == {"connect"}
    assert all(s["attempts"] == 2 for s in samples[2:])


class _Recorder(list):
    """An events list whose append also calls a hook (the engine calls on_event = list.append)."""

    def __init__(self, hook):
        super().__init__()
        self._hook = hook

    def append(self, event):
        super().append(event)
        self._hook(event)
