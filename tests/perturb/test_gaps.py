"""The geometric gaps by table look-up are the gaps of the plain logarithm, draw for draw."""

from __future__ import annotations

import math
import random
from bisect import bisect_right

import pytest

from tuieval.perturb.base import draw_positions
from tuieval.perturb.gaps import MAX_TABLE, gap_table

RATES = [0.05, 0.1, 0.3, 0.5, 0.9, 0.02, 1 / 3, 0.123456789]


def _gap(u: float, rate: float) -> int:
    # written out here as draw_positions wrote it before the table
    return 1 + int(math.log(1.0 - u) * (1.0 / math.log1p(-rate)))


def _plain_positions(rng: random.Random, n: int, rate: float) -> list[int]:
    if n <= 0 or rate <= 0.0:
        return []
    if rate >= 1.0:
        return list(range(n))
    out, i = [], -1
    while True:
        i += _gap(rng.random(), rate)
        if i >= n:
            return out
        out.append(i)


@pytest.mark.parametrize("rate", RATES)
def test_every_threshold_and_its_neighbours_give_the_plain_gap(rate):
    table = gap_table(rate)
    assert table is not None and table[0] == -1.0 and list(table) == sorted(table)
    ulp = 2.0 ** -53
    for t in table[1:]:
        k = round(t / ulp)
        assert k * ulp == t                               # thresholds are random() values
        for d in range(-4, 5):
            u = (k + d) * ulp
            if 0.0 <= u < 1.0:
                assert bisect_right(table, u) == _gap(u, rate), (t, d)
    # the extremes of random(): 0 and the largest value below 1
    for u in (0.0, ulp, 1.0 - ulp, 1.0 - 2 * ulp):
        assert bisect_right(table, u) == _gap(u, rate)


@pytest.mark.parametrize("rate", RATES)
def test_random_draws_give_the_plain_gap(rate):
    table = gap_table(rate)
    rng = random.Random(rate)
    for _ in range(20_000):
        u = rng.random()
        assert bisect_right(table, u) == _gap(u, rate)


def test_the_table_is_only_made_for_rates_with_a_short_one():
    # rate 0.1: gaps up to int(log(2^-53) / log(0.9)) + 1 = 349, hand-computed: 36.737 / 0.10536
    assert len(gap_table(0.1)) == 349
    assert gap_table(0.001) is None and 1 / -math.log1p(-0.001) * 53 * math.log(2) > MAX_TABLE


def test_draw_positions_and_the_draws_after_them_are_the_plain_loop_s():
    rng = random.Random(3)
    for trial in range(600):
        n = rng.randrange(0, 2500)
        rate = rng.choice(RATES + [0.001, 0.0, 1.0, rng.random()])
        a, b = random.Random(trial), random.Random(trial)
        assert draw_positions(a, n, rate) == _plain_positions(b, n, rate), (n, rate)
        assert a.random() == b.random()                   # the same number of draws consumed


def test_blocked_pieces_are_the_pieces_inside_decides_overlap_a_span():
    # edit_parts skips the pieces `blocked_pieces` finds; before, it asked `inside` for each one
    from itertools import accumulate

    from tuieval.perturb.base import blocked_pieces, inside

    rng = random.Random(4)
    for _ in range(3000):
        parts = ["x" * rng.choice([0, 0, 1, 2, 5]) for _ in range(2 * rng.randrange(1, 12) + 1)]
        total = sum(map(len, parts))
        spans, at = [], 0
        while at < total and len(spans) < 4:
            s = at + rng.randrange(0, 6)
            e = s + rng.randrange(1, 5)
            if e > total:
                break
            spans.append((s, e))
            at = e + 1
        if not spans:
            continue
        off = list(accumulate(map(len, parts), initial=0))
        blocked = blocked_pieces(parts, spans)
        for k in range(len(parts)):
            assert (k in blocked) == inside(spans, off[k], off[k + 1]), (parts, spans, k)
