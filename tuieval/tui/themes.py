"""Readable versions of the two themes the app offers (textual-dark, textual-light).

Textual's built-in themes leave some text below WCAG AA's 4.5:1 against the background it is
drawn on: in the light one the footer keys, the success/warning colours, placeholders and
muted labels; in both, text on the highlighted table row and dim text. Each text colour the
app uses (the `text-*` variables, footer keys, placeholders, the row cursor) is moved towards
black or white, only as far as it takes to reach the minimum against every surface it appears
on, so the themes keep their look. The same names are registered, so `F2` and
`app.theme = "textual-light"` keep working.

Dim text is drawn by the app itself as a blend towards its background (`DIM_FACTOR`), not
left to each terminal's faint rendering, so its contrast is known and checked too.
"""

from __future__ import annotations

from dataclasses import replace

from textual import constants
from textual.color import Color
from textual.theme import Theme

#: a little over WCAG AA's 4.5:1, so rounding to 8-bit colours never lands below it
READABLE = 4.6
#: how much of a dim text's colour is kept when blended towards its background: the share
#: Textual uses where it converts dim itself (TEXTUAL_DIM_FACTOR, 66% by default)
DIM_FACTOR = constants.DIM_FACTOR
THEMES = ("textual-dark", "textual-light")

#: the app's own variables, for any theme readable_theme has not computed them for
VARIABLE_DEFAULTS = {"tuieval-strong-primary": "#004578", "tuieval-strong-error": "#8C1C36"}

TEXT_VARIABLES = ("text-primary", "text-secondary", "text-warning", "text-error", "text-success", "text-accent",
                  "text-muted", "text-disabled", "foreground-muted")


def luminance(c: Color) -> float:
    """WCAG 2 relative luminance."""
    def lin(v: int) -> float:
        x = v / 255.0
        return x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b)


def contrast(a: Color, b: Color) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def dimmed(fg: Color, bg: Color, factor: float = DIM_FACTOR) -> Color:
    return bg.blend(fg, factor)


def readable(color: Color, backgrounds: list[Color], *, dim: bool = False, minimum: float = READABLE) -> Color:
    """`color` moved towards black or white in small steps until it reads on every background
    (also when drawn dim, if `dim`)."""
    dark = sum(luminance(b) for b in backgrounds) / len(backgrounds) < 0.18
    target = Color(255, 255, 255) if dark else Color(0, 0, 0)
    for step in range(101):
        c = color.blend(target, step / 100)
        if all(contrast(dimmed(c, bg) if dim else c, bg) >= minimum for bg in backgrounds):
            return c
    return target


def strong_background(fg: Color, bg: Color, *, dim: bool = True, minimum: float = READABLE) -> Color:
    """A coloured background (row cursor, button) darkened or lightened until `fg` reads on it
    (also when drawn dim, if `dim`)."""
    target = Color(0, 0, 0) if luminance(fg) > 0.18 else Color(255, 255, 255)
    for step in range(101):
        c = bg.blend(target, step / 100)
        if contrast(dimmed(fg, c) if dim else fg, c) >= minimum:
            return c
    return target


def _resolver(base: Color):
    def parse(value: str) -> Color:
        """A theme value as the colour it paints over the background (`auto 60%` included)."""
        value = value.strip()
        if value.startswith("auto"):
            pct = value[4:].strip().rstrip("%")
            return base + base.get_contrast_text(float(pct) / 100 if pct else 0.95)
        color = Color.parse(value)
        return base + color if color.a < 1 else color

    return parse


def readable_theme(theme: Theme) -> Theme:
    """The theme with its text variables made readable on the surfaces the app draws text on."""
    v = theme.to_color_system().generate()
    base = Color.parse(v["background"])
    parse = _resolver(base)
    # translucent surfaces are laid over the background
    grounds = [base] + [parse(v[k]) for k in ("surface", "panel", "boost", "footer-background") if k in v]
    out: dict[str, str] = {}
    for name in TEXT_VARIABLES:
        if name in v:
            out[name] = readable(parse(v[name]), grounds).hex
    # body text may be drawn dim; the foreground itself must survive that blend
    fg = readable(parse(v.get("foreground", v["text"])), grounds, dim=True)
    out["foreground"] = fg.hex
    out["text"] = fg.hex
    footer = [parse(v["footer-background"])] if "footer-background" in v else grounds
    out["footer-key-foreground"] = readable(parse(v["footer-key-foreground"]), footer).hex
    out["footer-description-foreground"] = readable(parse(v["footer-description-foreground"]), footer).hex
    white = Color(255, 255, 255)
    out["block-cursor-foreground"] = white.hex
    out["block-cursor-background"] = strong_background(white, parse(v["block-cursor-background"])).hex
    blurred = parse(v.get("block-cursor-blurred-background", v["surface"]))
    # an unfocused list's highlighted row keeps the body text colour (OptionList, DataTable)
    out["block-cursor-blurred-foreground"] = fg.hex
    out["block-cursor-blurred-background"] = strong_background(fg, blurred).hex
    # buttons of the app's own (tuieval.tcss), with room for a focus or hover tint
    out["tuieval-strong-primary"] = strong_background(white, parse(v["primary"]), dim=False, minimum=5.5).hex
    out["tuieval-strong-error"] = strong_background(white, parse(v["error"]), dim=False, minimum=5.5).hex
    out["input-selection-foreground"] = fg.hex
    return replace(theme, variables={**theme.variables, **out})


def install(app) -> None:
    """Register the readable versions under the built-in names, and withdraw the ANSI themes:
    their colours are the terminal's own, with no RGB values, so neither the app's contrast
    rules nor the blend that draws dim text can work with them (Textual's dimming crashed on
    their background)."""
    for name, theme in list(app.available_themes.items()):
        if getattr(theme, "ansi", False):
            app.unregister_theme(name)
    for name in THEMES:
        theme = app.get_theme(name)
        if theme is not None:
            app.register_theme(readable_theme(theme))
