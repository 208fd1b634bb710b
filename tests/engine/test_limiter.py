"""The adaptive concurrency limit, driven directly (no clock, no sleeps): how it reads 429s,
rate-limit headers, and cancellation."""

from __future__ import annotations

import asyncio

from tuieval.backends.base import RateLimitInfo
from tuieval.engine.limiter import AdaptiveLimiter


async def _results(limiter: AdaptiveLimiter, outcomes: list[bool]) -> None:
    """Dispatch and finish one request per outcome (True = it got a 429), one at a time."""
    for rate_limited in outcomes:
        ticket = await limiter.acquire()
        limiter.release()
        limiter.on_result(ticket, rate_limited=rate_limited)


def test_a_few_transient_429s_never_shrink_the_limit():
    limiter = AdaptiveLimiter(32)
    # 5% of requests get a 429, spread evenly: one in every 20
    asyncio.run(_results(limiter, [i % 20 == 0 for i in range(2000)]))
    assert limiter.limit == 32


def test_a_window_of_429s_shrinks_the_limit_once_not_once_per_429():
    limiter = AdaptiveLimiter(32)
    asyncio.run(_results(limiter, [True] * 32))  # one window of 32 results, all 429
    assert limiter.limit == 22  # 32 × 0.7, once (halving per 429 would have reached 1)


def test_a_saturated_server_shrinks_it_window_by_window_and_it_grows_back_by_one():
    limiter = AdaptiveLimiter(32)
    asyncio.run(_results(limiter, [True] * (32 + 22)))
    assert limiter.limit == 15  # 32 → 22 → 15
    asyncio.run(_results(limiter, [False] * 16))
    assert limiter.limit == 16  # one window without 429s: +1


def test_a_spent_budget_in_the_headers_pauses_dispatch_for_one_requests_share_of_the_reset():
    limiter = AdaptiveLimiter(8)
    limiter.on_result(0, rate_limited=False, info=RateLimitInfo(remaining_requests=0, reset_requests_s=2.0,
                                                                limit_requests=4))
    assert 0.4 < limiter.paused_for <= 0.5  # 2 s / 4 requests
    other = AdaptiveLimiter(8)
    other.on_result(0, rate_limited=False, info=RateLimitInfo(remaining_requests=3, reset_requests_s=2.0))
    assert other.paused_for == 0.0  # budget left: no pause


def test_a_woken_waiter_that_is_cancelled_passes_its_turn_on():
    async def go():
        limiter = AdaptiveLimiter(1)
        await limiter.acquire()  # the one slot is taken
        b = asyncio.create_task(limiter.acquire())
        c = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)  # both wait
        limiter.release()  # b is given the slot ...
        b.cancel()  # ... and cancelled before it takes it
        await asyncio.wait_for(c, 5)  # a lost turn would hang here (5 s: failure guard only)
        return limiter.in_flight

    assert asyncio.run(go()) == 1


def test_waiters_get_slots_in_the_order_they_queued_and_a_newcomer_does_not_jump_a_woken_one():
    async def go():
        limiter = AdaptiveLimiter(2)
        await limiter.acquire()
        await limiter.acquire()  # both slots taken
        order: list[str] = []

        async def take(name: str) -> None:
            await limiter.acquire()
            order.append(name)

        waiting = [asyncio.create_task(take(n)) for n in "abcd"]
        await asyncio.sleep(0)  # a, b, c, d queue in that order
        limiter.release()  # a is handed the slot, but has not run yet ...
        late = asyncio.create_task(take("late"))  # ... so this newcomer must queue behind d
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        got_first = list(order)
        for _ in range(4):
            limiter.release()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        await asyncio.wait_for(asyncio.gather(*waiting, late), 5)  # 5 s: failure guard only
        return got_first, order, limiter.in_flight

    first, order, in_flight = asyncio.run(go())
    assert first == ["a"]
    assert order == ["a", "b", "c", "d", "late"]
    assert in_flight == 2  # 2 held + 5 taken − 5 released


def test_a_cancelled_queued_waiter_takes_no_slot_and_a_shrunk_limit_is_respected():
    async def go():
        limiter = AdaptiveLimiter(2)
        await limiter.acquire()
        await limiter.acquire()
        b = asyncio.create_task(limiter.acquire())
        c = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        b.cancel()  # queued, never woken
        await asyncio.sleep(0)
        limiter.release()
        await asyncio.wait_for(c, 5)  # c gets the slot b gave up (5 s: failure guard only)
        after_c = limiter.in_flight
        limiter.limit = 1  # as a window of 429s would shrink it
        d = asyncio.create_task(limiter.acquire())
        await asyncio.sleep(0)
        limiter.release()  # 1 in flight, limit 1: d must keep waiting
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        waiting = not d.done()
        limiter.release()  # 0 in flight: d's turn
        await asyncio.wait_for(d, 5)
        return after_c, waiting, limiter.in_flight

    assert asyncio.run(go()) == (2, True, 1)
