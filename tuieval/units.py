"""Human-readable units shared by the headless progress line and the app."""

from __future__ import annotations


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`: compact enough for a progress line or a table cell."""
    s = int(max(0, seconds))
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"
