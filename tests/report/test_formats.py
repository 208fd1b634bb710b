"""Formatting rules that a reader relies on: rounded CSV figures, p-values said once."""

from __future__ import annotations

import csv
import io

from tuieval.report.formats import to_csv
from tuieval.report.formats.cells import p_cell, p_value


def _metrics(**kw):
    base = {"n_cases": 3, "n_samples": 9, "n_errors": 0, "accuracy": 2 / 3, "accuracy_ci": [0.20765960, 0.93850616],
            "majority_accuracy": 2 / 3, "consistency": 0.7777777777, "semantic_entropy": 0.41011, "error_rate": 0.0,
            "latency_ms": {"p50": 123.456789, "p95": 200.04999, "p99": 250.0, "max": 250.0},
            "ttft_ms": {"p50": 40.123}, "accuracy_within_slo": 1 / 3}
    return {**base, **kw}


def test_csv_figures_are_rounded():
    report = {"overall": _metrics(), "slices": [dict(_metrics(), key="lang", value="de", flagged=True,
                                                       q_value=0.0123456789)]}
    rows = list(csv.DictReader(io.StringIO(to_csv(report))))
    assert rows[0]["accuracy"] == "0.6667" and rows[0]["accuracy_ci_low"] == "0.2077"
    assert rows[0]["latency_p50_ms"] == "123.5" and rows[0]["ttft_p50_ms"] == "40.1"
    assert rows[1]["q_value"] == "0.01235"
    for row in rows:
        for key, value in row.items():
            if value and value.replace(".", "").isdigit() and "." in value:
                assert len(value.split(".")[1]) <= 5, (key, value)


def test_p_values_name_their_relation_once():
    assert p_value(0.00001) == "p < 0.0001"
    assert p_value(0.0123) == "p = 0.0123"
    assert p_value(None) == "p n/a"
    assert p_cell(0.00001) == "< 0.0001" and p_cell(0.5) == "0.5"
