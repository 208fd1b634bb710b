"""How figures and model text appear in a report's text formats (Markdown, the run summary).

Percentages to one decimal, intervals in brackets, milliseconds without a unit (the column
header carries it), p-values as `< 0.0001` below that bound, and any text that came from a
model or a dataset made inert (tuieval.textsafe) and safe inside a table cell.
"""

from __future__ import annotations

import contextlib
import contextvars
import re
from typing import Any, Iterator

from tuieval.textsafe import sanitize

#: the marks around data text while `data_marked()` is on (private-use code points, stripped
#: from the data itself so a model cannot close a mark early)
DATA_OPEN, DATA_CLOSE = "\ue000", "\ue001"
_MARKS = re.compile("[\ue000-\ue003]")
_data_marked: contextvars.ContextVar[bool] = contextvars.ContextVar("data_marked", default=False)


@contextlib.contextmanager
def data_marked() -> Iterator[None]:
    """While on, `cell` wraps data text in DATA_OPEN … DATA_CLOSE instead of escaping pipes, so a
    renderer of the Markdown (the HTML page) can tell data from the builder's own markup."""
    token = _data_marked.set(True)
    try:
        yield
    finally:
        _data_marked.reset(token)


#: the paired tests' names as a reader sees them
TEST_NAMES = {"mcnemar": "exact McNemar", "sign_flip": "sign-flip permutation"}


def pct(x: Any) -> str:
    return f"{x:.1%}" if isinstance(x, (int, float)) else "n/a"


def ci(interval: Any) -> str:
    return f"[{interval[0]:.1%}, {interval[1]:.1%}]" if interval and interval[0] is not None else "n/a"


def ms(x: Any) -> str:
    return f"{x:.0f}" if isinstance(x, (int, float)) else (str(x) if x is not None else "n/a")


def latency(m: dict[str, Any]) -> str:
    """p50 / p99 of a METRICS object; a p99 over fewer than 100 samples is its maximum, said so."""
    lat = m.get("latency_ms") or {}
    n = lat.get("n", m.get("n_samples"))
    p99 = ms(lat.get("p99"))
    if isinstance(n, int) and n < 100:
        p99 += f" (= max, n={n})"
    return f"{ms(lat.get('p50'))} / {p99}"


def cell(x: Any, *, limit: int | None = None) -> str:
    """Text from the data, inert and on one line, with `|` escaped for a Markdown table."""
    s = " ".join(sanitize(x, single_line=True, limit=limit).split(" "))
    if _data_marked.get():
        return DATA_OPEN + _MARKS.sub("", s) + DATA_CLOSE
    return s.replace("|", "\\|")


def text(x: Any) -> str:
    """Text from the data made inert for a terminal, line breaks kept."""
    return sanitize(x)


def pts(x: Any, signed: bool = True) -> str:
    """A proportion difference in percentage points."""
    if not isinstance(x, (int, float)):
        return "n/a"
    v = 100.0 * x
    if abs(v) < 0.05:
        v = 0.0  # no "-0.0"
    return f"{v:+.1f}" if signed else f"{v:.1f}"


def delta_ci(interval: Any) -> str:
    if interval and interval[0] is not None and interval[1] is not None:
        return f"[{pts(interval[0])}, {pts(interval[1])}]"
    return "n/a"


def p_value(p: Any) -> str:
    """`p = 0.012`, `p < 0.0001`, `p n/a`: the relation is part of the figure."""
    if not isinstance(p, (int, float)):
        return "p n/a"
    return "p < 0.0001" if p < 1e-4 else f"p = {p:.4g}"


def p_cell(p: Any) -> str:
    """A p- or q-value alone in a table column headed `p` or `q`."""
    if not isinstance(p, (int, float)):
        return "n/a"
    return "< 0.0001" if p < 1e-4 else f"{p:.4g}"


def slice_name(s: dict[str, Any]) -> str:
    """`key=value` of a slice, with the other names of the same cases: `a=x (also b=True)`."""
    name = cell(f"{s['key']}={s['value']}")
    aliases = s.get("aliases") or []
    return name + (f" (also {', '.join(cell(a) for a in aliases)})" if aliases else "")


def mde_points(mde: Any) -> str:
    """A minimum detectable effect in points, or why there is none."""
    return f"{100.0 * mde:.0f} pts" if isinstance(mde, (int, float)) else "none detectable"
