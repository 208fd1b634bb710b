"""Make untrusted text (model output, case data) inert before it reaches a terminal.

Terminal control sequences in a model's answer (`ESC [2J` clears the screen,
`ESC ] 52 ; c ; ... BEL` writes the clipboard) must never reach the terminal, whether the
text is shown by the app or printed by `tuieval report`. `sanitize` removes every control
sequence and control character except newline and tab. The app additionally wraps the result
in a rich Text so markup in it is never interpreted (tuieval.tui.sanitize.inert).
"""

from __future__ import annotations

import re

# ESC-introduced sequences (ECMA-48): CSI, OSC/DCS/SOS/PM/APC strings up to their
# terminator (BEL or ST), and two-byte escapes. Their 8-bit C1 forms are matched too.
_ESCAPES = re.compile(
    r"""
    (?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?          # CSI ... final byte
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                      # OSC, DCS, SOS, PM, APC
        .*?(?:\x07|\x1b\\|\x9c|$)                                #   ... up to BEL / ST / end
  | \x1b[\x20-\x2f]*[\x30-\x7e]?                                 # other ESC sequences, lone ESC
    """,
    re.VERBOSE | re.DOTALL,
)
# Remaining C0 controls except \t and \n, DEL, and C1 controls.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def sanitize(text: object, *, single_line: bool = False, limit: int | None = None) -> str:
    """`text` as a plain string with no terminal control sequences or control characters.

    `\\r\\n` and lone `\\r` become `\\n` (a carriage return could otherwise overwrite the
    line). With `single_line`, newlines and tabs become spaces (for table cells); `limit`
    truncates with an ellipsis.
    """
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    s = _ESCAPES.sub("", s)
    s = _CONTROLS.sub("", s)
    if single_line:
        s = " ".join(s.split())
    if limit is not None and len(s) > limit:
        s = s[: max(0, limit - 1)] + "…"
    return s
