"""The latency charts draw from latencies already in order (the scoreboard's arrays are kept
sorted by latency) with binary searches instead of a sort per chart: the counts and marks are
the ones the plain computation gives (`np.histogram` of the clipped values, the nearest-rank
percentiles of tuieval.analysis.latency), and a chart drawn from shuffled latencies is the same
chart.
"""

from __future__ import annotations

import numpy as np
import pytest
from rich.console import Console

from tuieval.analysis.latency import percentile
from tuieval.tui.widgets.charts import DeadlineCurve, LatencyHistogram, log_histogram, sorted_known


def _values(seed: int, n: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.lognormal(5.5, 1.0, n)
    x[rng.random(n) < 0.05] = np.nan           # unknown latencies
    x[rng.random(n) < 0.02] = 0.4              # under 1 ms: clipped into the first bin
    x[: n // 10] = np.round(x[: n // 10], -1)  # ties, some on bin edges
    return x


@pytest.mark.parametrize("seed,n,width", [(1, 5000, 40), (2, 333, 11), (3, 20000, 117), (4, 2, 10)])
def test_counts_from_binary_searches_are_np_histograms(seed, n, width):
    x = _values(seed, n)
    known = sorted_known(x)
    assert known.tolist() == sorted(v for v in x.tolist() if v == v)
    lo = max(float(known[0]), 1.0)
    hi = max(float(known[-1]), lo * 1.01)
    edges = np.geomspace(lo, hi, width + 1)
    plain, _ = np.histogram(np.clip(known, lo, hi), bins=edges)
    assert log_histogram(known, edges).tolist() == plain.tolist()
    assert int(log_histogram(known, edges).sum()) == known.size


def _drawn(chart, width=60, height=8) -> str:
    chart.height = height
    console = Console(width=width, height=height, color_system=None, record=True)
    console.print(chart)
    return console.export_text()


def test_a_chart_of_shuffled_latencies_is_the_chart_of_sorted_ones():
    x = _values(7, 4000)
    correct = np.random.default_rng(8).random(x.size) < 0.8
    order = np.argsort(x, kind="stable")  # as stored: ascending, NaN last
    shuffled = np.random.default_rng(9).permutation(x.size)
    for slo in (None, 300.0):
        a = _drawn(LatencyHistogram(x[order], slo_ms=slo))
        b = _drawn(LatencyHistogram(x[shuffled], slo_ms=slo))
        assert a == b
        assert _drawn(DeadlineCurve(x[order], correct[order], slo_ms=slo)) == \
            _drawn(DeadlineCurve(x[shuffled], correct[shuffled], slo_ms=slo))
    # the legend's marks are the nearest-rank percentiles of the plain rule
    from tuieval.tui import fmt

    legend = _drawn(LatencyHistogram(x[shuffled]), width=200)
    assert f"▲p50 {fmt.ms_unit(percentile(x, 0.5))} ▲p99 {fmt.ms_unit(percentile(x, 0.99))}" in legend
    assert f"n={int(np.isfinite(x).sum())}" in legend
