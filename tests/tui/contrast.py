"""WCAG contrast of what a screen draws: the colours Textual resolved for each rendered segment.

Walks the strips the screen's compositor renders, through the app's line filters (the same
segments the driver writes), takes each text segment's foreground against its effective
background (reverse swaps them; text still marked `dim` is blended halfway towards the
background, as most terminals' faint rendering does) and computes the WCAG 2 contrast ratio.
Segments made only of drawing characters (borders, bars, chart blocks, tracks) are not text.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.color import Color as RichColor

WCAG_AA = 4.5
DIM_FACTOR = 0.5
#: box drawing, block elements, geometric shapes, braille, and the middle dot used in tracks
GRAPHIC = {chr(c) for c in range(0x2500, 0x2600)} | {chr(c) for c in range(0x2800, 0x2900)} | {"·", " ", "\xa0"}


def _linear(c: float) -> float:
    c /= 255.0
    return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4


def luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = (_linear(x) for x in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(fg: tuple[int, int, int], bg: tuple[int, int, int]) -> float:
    a, b = sorted((luminance(fg), luminance(bg)), reverse=True)
    return (a + 0.05) / (b + 0.05)


def _triplet(color: RichColor | None, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if color is None or color.is_default:
        return default
    t = color.get_truecolor()
    return (t.red, t.green, t.blue)


@dataclass
class Low:
    text: str
    ratio: float
    fg: tuple[int, int, int]
    bg: tuple[int, int, int]
    line: int

    def __str__(self) -> str:
        return f"{self.ratio:.2f}:1 line {self.line} {self.text.strip()!r} fg={self.fg} bg={self.bg}"


def low_contrast(app, minimum: float = WCAG_AA) -> list[Low]:
    """Every text segment on the current screen whose contrast is below `minimum`."""
    from textual.color import Color

    variables = app.theme_variables
    background = Color.parse(variables["background"])
    default_bg = background.rgb
    default_fg = Color.parse(variables["foreground"]).rgb
    out: list[Low] = []
    for y, strip in enumerate(app.screen._compositor.render_strips()):
        for line_filter in app.get_line_filters():  # as the driver applies them (ANSI→truecolor, dim)
            strip = strip.apply_filter(line_filter, background)
        for seg in strip:
            text, style = seg.text, seg.style
            if style is None or not text or set(text) <= GRAPHIC:
                continue
            fg = _triplet(style.color, default_fg)
            bg = _triplet(style.bgcolor, default_bg)
            if style.reverse:
                fg, bg = bg, fg
            if style.dim:  # still dim after the filters: the terminal's faint, taken as half
                fg = tuple(round(b + (f - b) * DIM_FACTOR) for f, b in zip(fg, bg))
            ratio = contrast(fg, bg)
            if ratio < minimum:
                out.append(Low(text, ratio, fg, bg, y))
    return out
