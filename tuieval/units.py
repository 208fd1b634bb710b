"""Human-readable units shared by the headless progress line, the reports and the app."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`: compact enough for a progress line or a table cell."""
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


#: below this a p- or q-value is printed as a bound, not as digits nobody can read
P_FLOOR = 1e-4


def format_p(p: float) -> str:
    """A p- or q-value as it follows its name: `= 0.0123`, `< 0.0001` (never `= < 0.0001`)."""
    return "< 0.0001" if p < P_FLOOR else f"= {p:.2g}"
