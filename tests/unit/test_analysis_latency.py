"""Nearest-rank percentiles, censoring, acc@SLO and TPOT (docs/statistics.md §6)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.analysis.latency import (
    LatencyIndex,
    accuracy_within_slo,
    deadline_curve,
    latency_summary,
    order_statistic_ci,
    percentile,
    tpot,
)
from tuieval.analysis.stats import wilson


def test_p95_of_1_to_20_is_19_nearest_rank():
    values = list(range(1, 21))
    assert percentile(values, 0.95) == 19
    assert np.percentile(values, 95) == pytest.approx(19.05)  # numpy's default (linear) differs
    s = latency_summary(values)
    assert s["p95"] == 19 and s["p50"] == 10 and s["max"] == 20 and s["n"] == 20
    assert s["p99"] == 20 and s["p99_is_max"] is True and s["method"] == "nearest_rank"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=300),
       st.sampled_from([0.01, 0.07, 0.5, 0.9, 0.95, 0.99, 1.0]))
def test_matches_numpy_inverted_cdf_and_is_observed(values, q):
    got = percentile(values, q)
    assert got == pytest.approx(float(np.percentile(values, q * 100, method="inverted_cdf")))
    assert got in values


def test_p99_needs_100_samples():
    assert latency_summary(np.arange(1, 100))["p99_is_max"] is True
    s = latency_summary(np.arange(1, 1001))
    assert s["p99_is_max"] is False and s["p99"] == 990


def test_empty_and_nan():
    s = latency_summary([])
    assert s["n"] == 0 and s["p50"] is None and s["max"] is None
    s = latency_summary([np.nan, 5.0, np.nan])
    assert s["n"] == 1 and s["p99"] == 5.0


def test_censored_timeouts_report_lower_bound():
    lat = [100, 200, 300, 400, 500, 600, 700, 800, 30000, 30000]
    cens = [False] * 8 + [True, True]
    s = latency_summary(lat, cens, timeout=30000)
    assert s["n"] == 10 and s["n_censored"] == 2
    assert s["p50"] == 500
    assert s["p95"] == 30000 and set(s["censored"]) == {"p95", "p99", "max"}
    assert s["display"]["p95"] == "> 30000"
    # a censored timeout ranks after every observed latency even if its recorded time is smaller
    s = latency_summary([100, 5000, 50], [False, False, True], timeout=2000)
    assert s["max"] == 2000 and "max" in s["censored"] and s["p50"] == 5000


def test_latency_index_masks_match_direct_summaries():
    rng = np.random.default_rng(0)
    lat = rng.lognormal(6, 1, 500)
    lat[rng.random(500) < 0.05] = np.nan
    cens = rng.random(500) < 0.02
    idx = LatencyIndex(lat, cens, timeout=1e5)
    for _ in range(5):
        m = rng.random(500) < 0.3
        assert idx.summary(m) == latency_summary(lat[m], cens[m], timeout=1e5)


def test_accuracy_within_slo():
    correct = [True, True, True, False, True, False]
    lat = [100, 900, 2000, 100, np.nan, 50]  # the NaN one is an error: never within the SLO
    r = accuracy_within_slo(correct, lat, 1000)
    assert r["k"] == 2 and r["n"] == 6 and r["value"] == pytest.approx(2 / 6)
    assert r["ci"] == pytest.approx(list(wilson(2, 6)))
    assert r["slo_attainment"] == pytest.approx(4 / 6)
    assert r["value"] <= np.mean(correct)


def test_deadline_curve_monotone_and_tops_out_at_accuracy():
    rng = np.random.default_rng(1)
    correct = rng.random(300) < 0.7
    lat = rng.lognormal(6, 0.6, 300)
    curve = deadline_curve(correct, lat)
    accs = [p["accuracy"] for p in curve]
    assert accs == sorted(accs)
    assert accs[-1] == pytest.approx(correct.mean())
    fixed = deadline_curve(correct, lat, [0, 1e9])
    assert fixed[0]["accuracy"] == 0 and fixed[1]["accuracy"] == pytest.approx(correct.mean())


def test_tpot():
    out = tpot([1000, 1000, 1000, np.nan], [200, 200, 200, 100], [5, 1, 0, 10])
    assert out[0] == pytest.approx(200.0)
    assert math.isnan(out[1]) and math.isnan(out[2]) and math.isnan(out[3])


def test_order_statistic_ci():
    x = np.arange(1, 1001, dtype=float)
    lo, hi = order_statistic_ci(x, 0.5)
    assert lo < 500 < hi and hi - lo < 80
    lo, hi = order_statistic_ci(np.arange(1, 51, dtype=float), 0.99)
    assert hi is None  # p99 of 50 samples has no upper bound
