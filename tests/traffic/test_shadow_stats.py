"""Shadow statistics against hand calculation, and the stopping rule's coverage in simulation."""

from __future__ import annotations

import math

import numpy as np

from tuieval.analysis.shadow import (disagreement_sequence, is_refusal, precise_enough, quantile_shift, rate_shift,
                                     sequence_halfwidth, slice_disagreement)


def test_sequence_halfwidth_matches_the_normal_mixture_formula():
    # Howard et al. two-sided normal mixture, ¼-sub-Gaussian: v = t/4, ρ = v_opt/(2 ln(1/α) + ln(1 + 2 ln(1/α)))
    t, planned, alpha = 100, 400, 0.05
    la = math.log(1 / alpha)
    rho = (planned / 4) / (2 * la + math.log(1 + 2 * la))
    v = t / 4
    want = math.sqrt((v + rho) * (math.log(1 + v / rho) + 2 * la)) / t
    assert math.isclose(sequence_halfwidth(t, planned, alpha), want, rel_tol=1e-12)
    seq = disagreement_sequence([1.0] * 20 + [0.0] * 80, planned, alpha)
    assert (seq["n"], seq["k"], seq["rate"]) == (100, 20, 0.2)
    assert math.isclose(seq["cs"][0], 0.2 - want) and math.isclose(seq["cs"][1], 0.2 + want)


def test_the_stopping_rule_keeps_its_coverage_when_looked_at_every_prompt():
    # 400 simulated replays of up to 1500 prompts each, at three true disagreement rates; the rule
    # is checked after every prompt and stops at the first width < 0.1. The anytime-valid interval
    # must cover the true rate at the stop (and at every time before it) in ≥ 95% of replays; a
    # fixed-n Wilson-style interval checked the same way does not (that is what this guards).
    rng = np.random.default_rng(12)
    T, planned, alpha, precision = 1500, 1500, 0.05, 0.1
    t = np.arange(1, T + 1)
    hw = np.array([sequence_halfwidth(int(i), planned, alpha) for i in t])
    z = 1.959963984540054
    miss_cs = miss_naive = stops = 0
    runs = 0
    for p in (0.1, 0.3, 0.5):
        for _ in range(400 // 3 + 1):
            x = (rng.random(T) < p).astype(float)
            mean = np.cumsum(x) / t
            lo, hi = np.clip(mean - hw, 0, 1), np.clip(mean + hw, 0, 1)
            narrow = np.flatnonzero(hi - lo < precision)
            stop = int(narrow[0]) if narrow.size else T - 1
            stops += narrow.size > 0
            miss_cs += bool(np.any((lo[: stop + 1] > p) | (hi[: stop + 1] < p)))
            # the naive interval: mean ± z·sqrt(mean(1-mean)/t), checked after every prompt from t = 10
            se = np.sqrt(np.maximum(mean * (1 - mean), 1e-12) / t)
            naive_miss = ((mean - z * se > p) | (mean + z * se < p))[9:]
            miss_naive += bool(np.any(naive_miss))
            runs += 1
    assert stops == runs                      # the rule does stop within 1500 prompts
    assert miss_cs / runs <= alpha            # time-uniform coverage ≥ 95%
    assert miss_naive / runs > 2 * alpha      # peeking at a fixed-n interval is not safe


def test_precise_enough_is_the_width_rule():
    planned = 1000
    hw = sequence_halfwidth(400, planned)
    x = [1.0] * 200 + [0.0] * 200
    assert precise_enough(x, planned, 2 * hw + 1e-9) and not precise_enough(x, planned, 2 * hw - 1e-9)
    assert not precise_enough([], planned, 0.5) and not precise_enough(x, planned, None)


def test_quantile_shift_by_hand():
    base = [100, 200, 300, 400]
    cand = [150, 260, 390, 800]
    # nearest rank: p50 is the ⌈0.5·4⌉ = 2nd value (200 → 260), p99 the 4th (400 → 800)
    p50 = quantile_shift(base, cand, 0.5, rng=np.random.default_rng(0))
    p99 = quantile_shift(base, cand, 0.99, rng=np.random.default_rng(0))
    assert (p50["baseline"], p50["candidate"], p50["shift"], p50["n"]) == (200, 260, 60, 4)
    assert (p99["baseline"], p99["candidate"], p99["shift"]) == (400, 800, 400)
    # every resample's p99 shift is max(cand) − max(base) of the drawn pairs: between 150−100 = 50
    # (only the first pair drawn) and 800 − 400 = 400
    assert 50 <= p99["ci"][0] <= p99["ci"][1] <= 400
    # a pair with a missing latency is left out of both sides
    assert quantile_shift([100, float("nan")], [120, 5000], 0.99)["shift"] == 20


def test_rate_shift_and_refusals_by_hand():
    base = [False, False, False, True]
    cand = [True, True, False, True]
    r = rate_shift(base, cand)
    assert (r["baseline"]["rate"], r["candidate"]["rate"], r["shift"], r["n"]) == (0.25, 0.75, 0.5, 4)
    assert is_refusal("I'm sorry, but I can't help with that.")
    assert is_refusal("I cannot provide that information.")
    assert not is_refusal("Ana Kowalski")
    assert not is_refusal("The report says: " + "x" * 300 + " I cannot help with that.")


def test_slice_disagreement_by_hand():
    cols = {"team": ["a"] * 6 + ["b"] * 4}
    d = [1, 1, 1, 0, 0, 0, 0, 0, 0, 1]
    out = slice_disagreement(cols, d)
    by = {r["slice"]: r for r in out["slices"]}
    assert (by["team=a"]["k"], by["team=a"]["n"], by["team=a"]["rate"]) == (3, 6, 0.5)
    assert (by["team=b"]["k"], by["team=b"]["n"], by["team=b"]["rate"]) == (1, 4, 0.25)
    # Wilson 95% for 1/4 by hand: (p + z²/2n ± z·sqrt(p(1−p)/n + z²/4n²)) / (1 + z²/n)
    z, p, n = 1.959963984540054, 0.25, 4
    centre, half = p + z * z / (2 * n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lo, hi = (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)
    assert math.isclose(by["team=b"]["ci"][0], lo, rel_tol=1e-9) and math.isclose(by["team=b"]["ci"][1], hi)
