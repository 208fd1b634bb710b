"""A run's scoreboard as CSV (`tuieval report --format csv`): the overall row, then one row per slice.

Figures are rounded to what they can claim: proportions to 4 decimals (0.01 of a point),
milliseconds to 0.1, q-values to 4 significant digits; raw values are in the JSON report.
"""

from __future__ import annotations

import csv
import io
from typing import Any

HEADER = ["key", "value", "n_cases", "n_samples", "n_errors", "accuracy", "accuracy_ci_low", "accuracy_ci_high",
          "majority_accuracy", "consistency", "semantic_entropy", "error_rate", "latency_p50_ms",
          "latency_p95_ms", "latency_p99_ms", "latency_max_ms", "ttft_p50_ms", "accuracy_within_slo",
          "flagged", "q_value"]


def _round(x: Any, digits: int) -> Any:
    return round(float(x), digits) if isinstance(x, (int, float)) and not isinstance(x, bool) else x


def _sig(x: Any, digits: int = 4) -> Any:
    return float(f"{x:.{digits}g}") if isinstance(x, (int, float)) and not isinstance(x, bool) else x


def to_csv(report: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    rows = [dict(report["overall"], key="overall", value="", flagged=False, q_value=None)] + report.get("slices", [])
    for m in rows:
        lo, hi = m.get("accuracy_ci") or [None, None]
        lat = m.get("latency_ms") or {}
        p = [_round(v, 4) for v in (m["accuracy"], lo, hi, m.get("majority_accuracy"), m.get("consistency"),
                                    m.get("semantic_entropy"), m["error_rate"])]
        t = [_round(v, 1) for v in (lat.get("p50"), lat.get("p95"), lat.get("p99"), lat.get("max"),
                                    (m.get("ttft_ms") or {}).get("p50"))]
        writer.writerow([m["key"], m["value"], m["n_cases"], m["n_samples"], m["n_errors"], *p, *t,
                         _round(m.get("accuracy_within_slo"), 4), m.get("flagged"), _sig(m.get("q_value"))])
    return buf.getvalue()
