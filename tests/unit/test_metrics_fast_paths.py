"""Slice metrics read from per-case counts equal the per-sample rule: SLO attainment is the mean, over
the slice's samples, of "latency ≤ SLO" (an unmeasured or timed-out request did not meet it)."""

from __future__ import annotations

import random

import numpy as np

from tuieval.analysis.report import analyze_run


def test_slo_attainment_of_every_slice_is_the_mean_of_its_samples_flags():
    rng = random.Random(12)
    for trial in range(6):
        cases = [{"case_id": f"c{i}", "position": i, "input_text": "q", "targets": ["1"],
                  "metadata": {"g": rng.choice("abc"), "h": rng.choice("xy")}} for i in range(rng.choice([30, 80]))]
        samples = []
        for c in cases[:-1]:   # the last case has no samples
            for k in range(rng.choice([1, 3, 4])):
                err = rng.random() < 0.1
                samples.append({"case_id": c["case_id"], "template": None, "sample_index": k,
                                "response": None if err else "1", "correct": rng.random() < 0.7,
                                "error": "timeout" if err else None, "error_kind": "timeout" if err else None,
                                "latency_ms": rng.choice([None, 120.0, 499.99, 500.0, 500.01, rng.uniform(1, 900)])})
        run = {"id": f"r{trial}", "suite": "s", "model": "m", "status": "complete", "slo_ms": 500.0}
        report = analyze_run(run, cases, samples, discover=False)
        case_of = {c["case_id"]: c for c in cases}

        def plain(select):
            flags = [s["latency_ms"] is not None and s["latency_ms"] <= 500.0
                     for s in samples if select(case_of[s["case_id"]])]
            return float(np.mean(np.array(flags, dtype=bool))) if flags else None

        assert report["overall"]["slo_attainment"] == plain(lambda c: True)
        checked = 0
        for sl in report["slices"]:
            if sl["key"] in ("g", "h"):
                assert sl["slo_attainment"] == plain(lambda c, sl=sl: c["metadata"][sl["key"]] == sl["value"]), sl
                checked += 1
        assert checked >= 4
