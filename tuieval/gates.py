"""Release gates: bounds on report metrics, overall or per slice, that fail a run (exit 1)."""

from __future__ import annotations

from typing import Any


def metric_value(metrics: dict[str, Any], metric: str) -> float | None:
    """Read a gate metric from a METRICS object of the report."""
    if metric == "accuracy_ci_low":
        ci = metrics.get("accuracy_ci")
        return ci[0] if ci else None
    if metric in {"p50_ms", "p95_ms", "p99_ms"}:
        value = (metrics.get("latency_ms") or {}).get(metric[:-3])
        return value if isinstance(value, (int, float)) else None
    value = metrics.get(metric)
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def evaluate_gates(report: dict[str, Any], gates: list[dict[str, Any]]) -> list[str]:
    """Human-readable failures, empty when every gate holds.

    A gate on a slice that does not exist, or a metric with no value (e.g. no samples), fails:
    a gate that silently passes on missing data would let a regression through.
    """
    failures = []
    for gate in gates:
        metric = gate["metric"]
        where = "overall"
        metrics: dict[str, Any] | None = report.get("overall")
        if gate.get("slice"):
            key, _, value = gate["slice"].partition("=")
            where = gate["slice"]
            metrics = next((s for s in report.get("slices", []) if s["key"] == key and str(s["value"]) == value), None)
            if metrics is None:
                failures.append(f"{metric} on {where}: no such slice in this run")
                continue
        value = metric_value(metrics or {}, metric)
        if value is None:
            failures.append(f"{metric} on {where}: no value")
            continue
        n = (metrics or {}).get("n_cases")
        if gate.get("min") is not None and value < gate["min"]:
            failures.append(f"{metric} on {where} = {value:.3f} < min {gate['min']} (n={n})")
        if gate.get("max") is not None and value > gate["max"]:
            failures.append(f"{metric} on {where} = {value:.3f} > max {gate['max']} (n={n})")
    return failures
