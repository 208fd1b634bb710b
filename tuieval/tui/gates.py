"""The report's gate results as the scoreboard shows them: failed gates first and prominent.

Reads `report["gates"]` (one entry per bound: gate, slice, metric, op, threshold, value, n,
passed), and tolerates a report that has none (older stored reports).
"""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tuieval.tui import fmt
from tuieval.tui.sanitize import sanitize


def gate_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """The report's gates, failed ones first (each group in the suite's order)."""
    gates = [g for g in (report.get("gates") or []) if isinstance(g, dict)]
    return [g for g in gates if not g.get("passed")] + [g for g in gates if g.get("passed")]


def _value(metric: str, x: Any) -> str:
    v = fmt.num(x)
    if v is None:
        return "no value"
    return fmt.ms(v) if str(metric).endswith("_ms") else f"{v:.3f}"


def gate_text(g: dict[str, Any], palette: fmt.Palette) -> Text:
    """`✗ accuracy >= 0.6 on name_origin=non_english: 0.583 (n=32)`."""
    passed = bool(g.get("passed"))
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append("✓ " if passed else "✗ ", style=f"bold {palette.good if passed else palette.bad}")
    t.append(sanitize(str(g.get("gate") or g.get("metric")), single_line=True, limit=60),
             style="" if passed else f"bold {palette.bad}")
    n = g.get("n")
    t.append(f": {_value(str(g.get('metric')), g.get('value'))}" + (f" (n={n})" if n is not None else ""),
             style="" if passed else palette.bad)
    return t


def gates_line(report: dict[str, Any], palette: fmt.Palette, *, limit: int = 4) -> Text | None:
    """One line: how many gates failed, then each gate (failed first); None without gates."""
    rows = gate_rows(report)
    if not rows:
        return None
    failed = sum(1 for g in rows if not g.get("passed"))
    t = Text(no_wrap=True, overflow="ellipsis")
    if failed:
        t.append(f"{failed} of {len(rows)} gate{'s' if len(rows) != 1 else ''} failed", style=f"bold {palette.bad}")
    else:
        t.append(f"all {len(rows)} gate{'s' if len(rows) != 1 else ''} passed", style=f"bold {palette.good}")
    for g in rows[:limit]:
        t.append("  ")
        t.append_text(gate_text(g, palette))
    if len(rows) > limit:
        t.append(f"  +{len(rows) - limit} more", style="dim")
    return t
