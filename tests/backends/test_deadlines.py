"""One timer for a backend's total-timeout clocks (tuieval.backends.deadlines), with asyncio.timeout's rules.

The attempts here wait on futures nobody resolves, so only a deadline (or a cancel) ends them:
no sleep synchronises anything, and no test asserts how long something took.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.support.model_server import ModelServer
from tuieval.backends.base import ChatRequest, RequestTimeout, Timeouts
from tuieval.backends.deadlines import Deadlines
from tuieval.backends.http import AiohttpPool
from tuieval.backends.openai import OpenAIBackend


async def _attempt(deadlines: Deadlines, seconds: float, until: asyncio.Future) -> str:
    """'timeout' when the deadline ended it, 'done' when ``until`` resolved first."""
    clock = deadlines.start(seconds)
    timed_out = False
    try:
        try:
            await until
        finally:
            timed_out = deadlines.finish(clock)
    except asyncio.CancelledError:
        if timed_out:
            return "timeout"
        raise
    return "done"


def _count_call_at(loop: asyncio.AbstractEventLoop) -> list[float]:
    calls: list[float] = []
    real = loop.call_at

    def call_at(when, callback, *args, **kw):
        calls.append(when)
        return real(when, callback, *args, **kw)

    loop.call_at = call_at  # type: ignore[method-assign]
    return calls


async def test_many_attempts_that_finish_in_time_set_one_loop_timer() -> None:
    loop = asyncio.get_running_loop()
    calls = _count_call_at(loop)
    deadlines = Deadlines()
    gates = [loop.create_future() for _ in range(50)]
    tasks = [asyncio.create_task(_attempt(deadlines, 60.0, gate)) for gate in gates]
    await asyncio.sleep(0)  # every task has started its clock (a step, not a wait for time)
    for gate in gates:
        gate.set_result(None)
    assert await asyncio.gather(*tasks) == ["done"] * 50
    # asyncio.timeout would have set 50 timers; the FIFO sets one, for the first attempt's deadline
    assert len(calls) == 1


async def test_attempts_expire_in_order_and_each_becomes_a_timeout() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    never = [loop.create_future() for _ in range(5)]
    ended: list[int] = []

    async def one(i: int) -> str:
        out = await _attempt(deadlines, 0.02, never[i])
        ended.append(i)
        return out

    tasks = []
    for i in range(5):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)  # start them one after another: later ones have later deadlines
    assert await asyncio.gather(*tasks) == ["timeout"] * 5
    assert ended == [0, 1, 2, 3, 4]
    # every expired attempt's cancellation was taken back: the tasks ended normally
    assert all(t.cancelling() == 0 for t in tasks)


async def test_a_finished_head_does_not_keep_the_next_attempt_from_expiring() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    first_gate, never = loop.create_future(), loop.create_future()
    first = asyncio.create_task(_attempt(deadlines, 0.02, first_gate))
    await asyncio.sleep(0)
    second = asyncio.create_task(_attempt(deadlines, 0.02, never))
    await asyncio.sleep(0)
    first_gate.set_result(None)
    assert await first == "done"
    assert await second == "timeout"


async def test_a_shorter_total_after_a_longer_one_expires_at_its_own_deadline() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    long_gate, never = loop.create_future(), loop.create_future()
    long = asyncio.create_task(_attempt(deadlines, 60.0, long_gate))
    await asyncio.sleep(0)
    # out of order: the FIFO's timer is set for the 60 s attempt; this one needs its own
    assert await _attempt(deadlines, 0.02, never) == "timeout"
    assert not long.done()
    long_gate.set_result(None)
    assert await long == "done"


async def test_a_shorter_total_once_every_longer_attempt_has_finished_is_not_left_to_the_old_timer() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    gate = loop.create_future()
    long = asyncio.create_task(_attempt(deadlines, 60.0, gate))
    await asyncio.sleep(0)
    gate.set_result(None)
    assert await long == "done"  # the queue is empty; the timer is still set 60 s ahead
    # (the guard fails the test if the attempt waits for that timer instead of its own deadline)
    assert await asyncio.wait_for(_attempt(deadlines, 0.02, loop.create_future()), 5.0) == "timeout"


async def test_a_cancel_from_outside_stays_a_cancel_even_after_the_deadline() -> None:
    loop = asyncio.get_running_loop()
    deadlines = Deadlines()
    # cancelled before its deadline
    task = asyncio.create_task(_attempt(deadlines, 60.0, loop.create_future()))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # cancelled from outside once more after its deadline cancelled it: two requests, one taken back
    never = loop.create_future()

    async def stubborn() -> str:
        clock = deadlines.start(0.01)
        try:
            try:
                await never
            except asyncio.CancelledError:
                asyncio.current_task().cancel()  # stands for a stop request arriving meanwhile
                raise
        finally:
            timed_out = deadlines.finish(clock)
        return f"timed_out={timed_out}"

    with pytest.raises(asyncio.CancelledError):
        await asyncio.create_task(stubborn())


def test_the_clocks_follow_the_running_loop() -> None:
    deadlines = Deadlines()

    async def main() -> str:
        return await _attempt(deadlines, 0.01, asyncio.get_running_loop().create_future())

    # a timer left on a closed loop must not keep the next loop's attempts from expiring
    assert asyncio.run(main()) == "timeout"
    assert asyncio.run(main()) == "timeout"


async def test_a_run_stopped_mid_request_is_cancelled_not_timed_out(model_server: ModelServer) -> None:
    model_server.configure(latency_ms=5000)
    timeouts = Timeouts(connect=1.0, read=30.0, total=30.0)
    backend = OpenAIBackend("openai/test", "gpt-test", model_server.url + "/v1", None, AiohttpPool(timeouts), timeouts)
    try:
        request = ChatRequest([{"role": "user", "content": "<<x>>"}])
        task = asyncio.create_task(backend.complete(request))
        while model_server.requests_total == 0:  # the request has reached the server
            await asyncio.sleep(0.005)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # and the next request's total still holds
        short = Timeouts(connect=1.0, read=0.1, total=0.1)
        backend.timeouts = short
        with pytest.raises(RequestTimeout, match=r"total timeout \(0.1s\)"):
            await backend.complete(request)
    finally:
        await backend.aclose()
