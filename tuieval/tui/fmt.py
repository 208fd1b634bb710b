"""Number formatting and theme-aware styles shared by the screens.

Figures follow the product rule: a figure comes with its n, and where n is too small for
the figure to mean anything the cell says so (e.g. p99 over fewer than 100 samples is the
maximum, shown with a `≤` mark and explained in the detail line).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from rich.text import Text

from tuieval.units import format_duration, format_p

DASH = "—"


def rich_colour(value: Any, fallback: str) -> str:
    """A theme variable's colour as Rich style text, always `#rrggbb`. Textual's colour names
    are not all Rich's: the ANSI themes give `ansi_green`, which Rich cannot parse (the app
    crashed drawing the scoreboard under ansi-light), and a Rich colour without RGB values
    crashes Textual's dimming of the text it is in; so every form Textual accepts becomes its
    RGB. The terminal's default colour has none: the fallback's is used."""
    from textual.color import Color, ColorParseError

    for candidate in (value, fallback):
        if not candidate:
            continue
        try:
            colour = Color.parse(str(candidate))
        except (ColorParseError, ValueError):
            continue
        if colour.ansi != -1:  # -1: the terminal's default colour, no RGB of its own
            return Color(*colour.rgb).hex  # (an ANSI colour's own .hex is its name again)
    return "#808080"


def theme_colour(app: Any, name: str, fallback: str) -> str:
    """The app's theme variable `name` (e.g. `text-success`) as Rich style text."""
    v = getattr(app, "theme_variables", {}) or {}
    return rich_colour(v.get(name), fallback)


@dataclass(frozen=True)
class Palette:
    good: str
    bad: str
    warn: str
    accent: str

    @classmethod
    def of(cls, app: Any) -> "Palette":
        return cls(good=theme_colour(app, "text-success", "green"), bad=theme_colour(app, "text-error", "red"),
                   warn=theme_colour(app, "text-warning", "yellow"), accent=theme_colour(app, "text-accent", "cyan"))


def num(x: Any) -> float | None:
    if isinstance(x, bool) or x is None:
        return None if x is None else float(x)
    if isinstance(x, (int, float)) and not (isinstance(x, float) and math.isnan(x)):
        return float(x)
    return None


def pct(x: Any, digits: int = 0) -> str:
    v = num(x)
    return DASH if v is None else f"{v * 100:.{digits}f}%"


def ci(interval: Any) -> str:
    """`[lo, hi]` as `55–69` (percent points)."""
    if not interval or len(interval) != 2:
        return DASH
    lo, hi = num(interval[0]), num(interval[1])
    if lo is None or hi is None:
        return DASH
    return f"{lo * 100:.0f}–{hi * 100:.0f}"


def ms(x: Any) -> str:
    v = num(x)
    if v is None:
        return DASH
    if v >= 10_000:
        return f"{v / 1000:.0f}s"
    if v >= 1000:
        return f"{v / 1000:.1f}s"
    return f"{v:.0f}ms"  # with its unit: a column mixes "45ms" and "1.4s"


def ms_unit(x: Any) -> str:
    """Milliseconds with their unit: `130 ms`, `6.9 s`."""
    v = num(x)
    if v is None:
        return DASH
    return f"{v / 1000:.1f} s" if v >= 1000 else f"{v:.0f} ms"


def p_clause(name: str, x: Any) -> str:
    """`q = 0.012`, `p < 0.0001`: the name, then the value or its bound."""
    v = num(x)
    return f"{name} {DASH}" if v is None else f"{name} {format_p(v)}"


def p_cell(x: Any) -> str:
    """A p- or q-value in a table column: `0.012`, `<0.0001`."""
    v = num(x)
    if v is None:
        return DASH
    shown = format_p(v)
    return shown.replace("< ", "<") if shown.startswith("<") else shown[2:]


def dec(x: Any, digits: int = 2) -> str:
    v = num(x)
    return DASH if v is None else f"{v:.{digits}f}"


def duration(seconds: float | None) -> str:
    return DASH if seconds is None else format_duration(seconds)


def acc_style(acc: float | None, palette: Palette) -> str:
    if acc is None:
        return "dim"
    if acc >= 0.9:
        return palette.good
    if acc >= 0.7:
        return ""
    if acc >= 0.5:
        return palette.warn
    return palette.bad


def acc_text(acc: Any, palette: Palette) -> Text:
    v = num(acc)
    return Text(pct(v), style=acc_style(v, palette), justify="right")


def right(s: str, style: str = "") -> Text:
    return Text(s, style=style, justify="right")


def bar(fraction: float | None, width: int) -> str:
    """A horizontal bar from eighth blocks, `width` cells wide."""
    if fraction is None or width <= 0:
        return " " * max(0, width)
    eighths = int(round(max(0.0, min(1.0, fraction)) * width * 8))
    full, part = divmod(eighths, 8)
    s = "█" * full + ("" if part == 0 else " ▏▎▍▌▋▊▉"[part])
    return s.ljust(width)


def pass_hat(metrics: dict[str, Any]) -> tuple[str, Any]:
    """The largest-k pass^k of a metrics dict: ('k=3', value) or ('', None)."""
    ph = metrics.get("pass_hat_k") or {}
    if not isinstance(ph, dict) or not ph:
        return "", None
    keys = [k for k in ph if str(k).isdigit()]
    if not keys:
        k = next(iter(ph))
        return str(k), ph[k]
    k = max(keys, key=int)
    return k, ph[k]


def interval_track(lo: Any, hi: Any, point: Any, width: int, palette: Palette) -> Text:
    """An interval on [0, 1] drawn as `···━━━●━━····`: it visibly tightens as n grows."""
    lo_v, hi_v, p = num(lo), num(hi), num(point)
    t = Text(no_wrap=True)
    if lo_v is None or hi_v is None or width < 3:
        return Text("·" * max(0, width), style="dim")
    a = int(round(max(0.0, min(1.0, lo_v)) * (width - 1)))
    b = int(round(max(0.0, min(1.0, hi_v)) * (width - 1)))
    c = None if p is None else int(round(max(0.0, min(1.0, p)) * (width - 1)))
    style = acc_style(p, palette) or ""
    for x in range(width):
        if c is not None and x == c:
            t.append("●", style=style or "bold")
        elif a <= x <= b:
            t.append("━", style=style)
        else:
            t.append("·", style="dim")
    return t
