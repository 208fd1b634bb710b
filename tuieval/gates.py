"""Release gates: bounds on report metrics, overall or per slice, that fail a run (exit 1).

`evaluate_gates` turns a suite's `gates:` into the report's `gates` list, one entry per bound
(a gate with both `min` and `max` is two entries): what was checked, the value and n it was
checked on, and whether it held. The CLI's `gate failed:` lines, the JUnit testcases, the
Markdown header and the app's scoreboard all read that list.
"""

from __future__ import annotations

from typing import Any

#: gate bound → (op in the report, how a failure reads)
_BOUNDS = (("min", ">=", "<"), ("max", "<=", ">"))


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


#: gate metrics read from the perturbation section (robustness.perturbations), not from METRICS
PERTURBATION_METRICS = ("flip_rate", "worst_case_accuracy")


def _perturbation_value(report: dict[str, Any], metric: str, where: str) -> tuple[bool, float | None, int | None]:
    """(found, value, n) of a perturbation gate: the worst flip rate (correct → wrong) over the
    run's perturbations on `where` (a slice, or all cases), or the worst-case accuracy over
    every perturbation of a case (overall only)."""
    section = (report.get("robustness") or {}).get("perturbations")
    if not section:
        return False, None, None
    if metric == "worst_case_accuracy":
        if where != "overall":
            return False, None, None
        worst = section.get("worst_case") or {}
        return True, worst.get("accuracy"), worst.get("n_cases")
    name = "all" if where == "overall" else where
    rows = [r for r in section.get("rows") or [] if r.get("slice") == name and r.get("flip_rate") is not None]
    if not rows:
        return False, None, None
    worst = max(rows, key=lambda r: r["flip_rate"])
    return True, worst["flip_rate"], worst.get("n_pairs")


def _find_slice(report: dict[str, Any], name: str) -> dict[str, Any] | None:
    key, _, value = name.partition("=")
    for s in report.get("slices", []):
        if s["key"] == key and str(s["value"]) == value:
            return s
        if name in (s.get("aliases") or []):
            return s
    return None


def evaluate_gates(report: dict[str, Any], gates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per gate bound: {gate, slice, metric, op, threshold, value, n, passed, message}.

    A gate on a slice that does not exist, or a metric with no value (e.g. no samples), fails:
    a gate that silently passes on missing data would let a regression through. `message`
    is the one line the CLI prints after `gate failed:` (and JUnit shows).
    """
    results = []
    for gate in gates:
        metric = gate["metric"]
        where = gate.get("slice") or "overall"
        if metric in PERTURBATION_METRICS:
            found, value, n = _perturbation_value(report, metric, where)
            metrics = {} if found else None
        else:
            metrics = _find_slice(report, where) if gate.get("slice") else report.get("overall")
            value = metric_value(metrics or {}, metric) if metrics is not None else None
            n = (metrics or {}).get("n_cases")
        for bound, op, broken in _BOUNDS:
            threshold = gate.get(bound)
            if threshold is None:
                continue
            if metrics is None and metric in PERTURBATION_METRICS:
                passed, message = False, f"{metric} on {where}: this run has no perturbation figure there"
            elif metrics is None:
                passed, message = False, f"{metric} on {where}: no such slice in this run"
            elif value is None:
                passed, message = False, f"{metric} on {where}: no value"
            else:
                passed = value >= threshold if op == ">=" else value <= threshold
                message = f"{metric} on {where} = {value:.3f} {op if passed else broken} {bound} {threshold} (n={n})"
            results.append({"gate": f"{metric} {op} {threshold:g} on {where}", "slice": gate.get("slice"),
                            "metric": metric, "op": op, "threshold": threshold, "value": value, "n": n,
                            "passed": passed, "message": message})
    return results


def failed_gates(results: list[dict[str, Any]]) -> list[str]:
    """The messages of the gates that failed, in the suite's order."""
    return [r["message"] for r in results if not r["passed"]]
