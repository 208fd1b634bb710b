"""The latency index's fast paths (numpy's unstable sort where ties cannot differ, a selection
read only at its picked ranks, an index that keeps no order) give the plain nearest-rank rule.

The reference sorts each selection's samples with Python's stable sort, a censored sample
(a timeout) after every observed latency, and reads the ranks ⌈qN⌉ by hand (docs/statistics.md
§6): fuzzed latencies with many ties, missing ones, censored ones and an observed +inf beside
a censored one (the one case where the order of equal keys could matter).
"""

from __future__ import annotations

import math
import random

import numpy as np

from tuieval.analysis.latency import LatencyIndex

QS = {"p50": 0.50, "p95": 0.95, "p99": 0.99}


def _plain(lat, cens, chosen, with_max=True):
    seen = [x for x, c in zip(lat, cens) if c and not math.isnan(x)]
    timeout = max(seen) if seen else None
    rows = [(math.inf if c else x, c, x) for x, c, ok in zip(lat, cens, chosen)
            if ok and (c or not math.isnan(x))]
    rows.sort(key=lambda r: r[0])  # stable
    n = len(rows)
    out = {"n": n, "n_censored": sum(r[1] for r in rows), "p99_is_max": n < 100}
    names = dict(QS, **({"max": 1.0} if with_max else {}))
    marked = []
    for name, q in names.items():
        if not n:
            out[name] = None
            continue
        rank = n if name == "max" else min(n, max(1, math.ceil(q * n - 1e-9)))
        key, c, x = rows[rank - 1]
        out[name] = (None if timeout is None else float(timeout)) if c else float(x)
        if c:
            marked.append(name)
    if marked:
        out["censored"] = marked
    return out


def _fuzzed(rng):
    n = rng.randint(0, 90)
    levels = [rng.choice([10.0, 20.0, 35.5, 100.0, 250.0]) for _ in range(3)]
    lat, cens = [], []
    for _ in range(n):
        r = rng.random()
        if r < 0.1:
            lat.append(math.nan)
        elif r < 0.15:
            lat.append(math.inf)
        elif r < 0.6:
            lat.append(rng.choice(levels))   # ties
        else:
            lat.append(round(rng.uniform(1, 400), 1))
        cens.append(rng.random() < 0.15)
    return lat, cens


def _subset(got):
    return {k: got[k] for k in ("p50", "p95", "p99", "max", "n", "n_censored", "p99_is_max", "censored") if k in got}


def test_selected_summaries_and_orderless_summaries_are_the_plain_rule():
    rng = random.Random(3)
    kinds = set()
    for _ in range(600):
        lat, cens = _fuzzed(rng)
        if rng.random() < 0.3:
            cens = [False] * len(lat)
        n = len(lat)
        case = np.array([rng.randrange(8) for _ in range(n)], dtype=np.int64)
        index = LatencyIndex(np.array(lat, dtype=float), np.array(cens, dtype=bool))
        sample_case = case[index.order] if index.order is not None else None
        for _ in range(4):
            in_slice = np.array([rng.random() < 0.6 for _ in range(8)], dtype=bool)
            chosen = in_slice[case].tolist() if n else []
            want = _plain(lat, cens, chosen)
            assert _subset(index.summary(selected=in_slice[sample_case])) == want, (lat, cens, chosen)
            assert _subset(index.summary(mask=np.array(chosen, dtype=bool))) == want
        whole = _plain(lat, cens, [True] * n)
        orderless = LatencyIndex(np.array(lat, dtype=float), np.array(cens, dtype=bool), keep_order=False)
        assert _subset(orderless.summary()) == whole == _subset(index.summary())
        kinds.add(("inf beside a timeout" if any(c for c in cens) and math.inf in [x for x, c in zip(lat, cens)
                                                                                   if not c] else "plain",
                   whole["n_censored"] > 0))
    # every kind of input was drawn: no timeout, timeouts, an observed +inf beside a timeout
    assert kinds == {("plain", False), ("plain", True), ("inf beside a timeout", True)}


def test_an_orderless_index_refuses_a_selection_by_sample():
    index = LatencyIndex(np.array([3.0, 1.0, 2.0]), keep_order=False)
    assert index.summary()["p50"] == 2.0
    try:
        index.summary(mask=np.array([True, False, True]))
    except ValueError as exc:
        assert "keep_order" in str(exc)
    else:
        raise AssertionError("a selection by sample needs the order")
