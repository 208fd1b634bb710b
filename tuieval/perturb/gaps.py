"""The geometric gaps of `base.draw_positions` by table look-up instead of a logarithm per draw.

`draw_positions` steps from one chosen index to the next by `1 + int(log(1.0 - u) * c)`, with
`u = rng.random()` and `c = 1 / log(1 - rate)`. That gap only changes at a few hundred values
of u: u is a multiple of 2⁻⁵³ below 1, so the largest gap is `int(log(2⁻⁵³) * c)` (348 at a
rate of 0.1). For each gap value g the table holds the smallest u (as a multiple of 2⁻⁵³) whose
gap is at least g, found with the same `math.log` expression the plain loop evaluates, so
`bisect_right(table, u)` is that gap: one call in C per draw instead of a logarithm, a multiply
and an `int()`. Tests hold the look-up to the expression at every threshold and its neighbours
and at random draws, and `draw_positions` to the plain loop.
"""

from __future__ import annotations

import functools
import math

_ULP = 2.0 ** -53                 # the spacing of random() values
_LAST = (2 ** 53 - 1)             # random() < 1: its largest value is _LAST · 2⁻⁵³
# rates whose table would be longer than this take the plain loop (small rates draw rarely,
# so there is little to gain, and the table would cost more to build than it saves)
MAX_TABLE = 2048


def plain_gap(u: float, inv_log_q: float) -> int:
    """The gap `draw_positions` has always used for the draw u (the plain expression)."""
    return 1 + int(math.log(1.0 - u) * inv_log_q)


@functools.lru_cache(maxsize=64)
def gap_table(rate: float) -> tuple[float, ...] | None:
    """Sorted thresholds T with `bisect_right(T, u) == plain_gap(u, 1 / log1p(-rate))` for every
    random() value u; None when the rate needs a table longer than MAX_TABLE."""
    inv_log_q = 1.0 / math.log1p(-rate)
    top = plain_gap(_LAST * _ULP, inv_log_q)        # the gap of the largest draw
    if top > MAX_TABLE:
        return None
    # T[0] = -1 counts for the "1 +": every u is above it; T[g] is the smallest u of gap > g
    table = [-1.0]
    lo = 0
    q = 1.0 - rate
    for g in range(2, top + 1):
        # the gap is ≥ g from about u = 1 - q^(g-1) on: bisect a narrow bracket around that
        # estimate when it holds the threshold, else the whole range above the previous one
        est = int((1.0 - q ** (g - 1)) * 2.0 ** 53)
        a, b = max(lo, est - 4096), min(_LAST, est + 4096)
        if plain_gap(a * _ULP, inv_log_q) < g <= plain_gap(b * _ULP, inv_log_q):
            k = _first_k(g, inv_log_q, a + 1, b)
        else:
            k = _first_k(g, inv_log_q, lo, _LAST)
        table.append(k * _ULP)
        lo = k
    return tuple(table)


def _first_k(g: int, inv_log_q: float, lo: int, hi: int) -> int:
    # the smallest k in [lo, hi] with plain_gap(k · 2⁻⁵³) ≥ g (it holds at hi), by bisection
    # (the gap never decreases as u grows: log is monotone and so is the product; the tests
    # check every threshold's neighbours)
    while lo < hi:
        mid = (lo + hi) // 2
        if plain_gap(mid * _ULP, inv_log_q) >= g:
            hi = mid
        else:
            lo = mid + 1
    return lo
