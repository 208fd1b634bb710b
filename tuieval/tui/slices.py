"""Rows of the slice tables: what each column shows, how rows sort (worst first), the detail line."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tuieval.tui import fmt
from tuieval.tui.sanitize import sanitize

FLAG = "⚑"
TRACK = 16
#: the longest slice name shown in full; the slice column grows to it when the table has room
NAME_LIMIT = 80
#: columns that give way, in this order, when the terminal is too narrow for all of them: the
#: headline tail figures (p99, accuracy within the SLO) stay
REPORT_DROP = ("se", "cons", "passk", "ci", "p50", "err", "n")
LIVE_DROP = ("err", "ci", "n")


def slice_key(sl: dict[str, Any]) -> str:
    if sl.get("key") == "overall":
        return "overall"
    return f"{sl.get('key')}={sl.get('value')}"


def slice_label(sl: dict[str, Any], palette: fmt.Palette, width: int = NAME_LIMIT) -> Text:
    if sl.get("key") == "overall":
        return Text("overall", style="bold", no_wrap=True)
    flagged = bool(sl.get("flagged"))
    t = Text(no_wrap=True, overflow="ellipsis")
    t.append(f"{FLAG} " if flagged else "  ", style=f"bold {palette.bad}" if flagged else "")
    t.append(sanitize(slice_key(sl), single_line=True, limit=width - 2), style=palette.bad if flagged else "")
    return t


def _p99(metrics: dict[str, Any]) -> Text:
    lat = metrics.get("latency_ms") or {}
    v = lat.get("p99")
    n = lat.get("n", metrics.get("n_samples"))
    if v is None:
        return fmt.right(fmt.DASH, "dim")
    shown = (lat.get("display") or {}).get("p99")
    s = sanitize(shown, single_line=True) if shown else fmt.ms(v)
    if isinstance(n, int) and n < 100:
        return fmt.right("≤" + s, "dim")  # with n < 100 the p99 is the maximum
    return fmt.right(s)


def n_width(slices: list[dict[str, Any]]) -> int:
    """The n column's width: the widest case count in full (100000, never cut to 1000)."""
    return max([4] + [len(str(s.get("n_cases"))) for s in slices if s.get("n_cases") is not None])


def report_columns(n: int = 4) -> list[tuple[str, str, int | None]]:
    return [("slice", "slice", 20), ("n", "n", n), ("acc", "acc", 4), ("95% CI", "ci", 7), ("cons", "cons", 4),
            ("SE", "se", 4), ("pass^k", "passk", 6), ("err", "err", 4), ("p50", "p50", 5), ("p99", "p99", 6),
            ("@SLO", "slo", 4)]


def report_row(sl: dict[str, Any], palette: fmt.Palette, samples_per_case: int | None) -> list[Any]:
    many = (samples_per_case or 1) >= 2
    k, ph = fmt.pass_hat(sl)
    err = fmt.num(sl.get("error_rate"))
    return [
        slice_label(sl, palette),
        fmt.right(str(sl.get("n_cases", fmt.DASH))),
        fmt.acc_text(sl.get("accuracy"), palette),
        fmt.right(fmt.ci(sl.get("accuracy_ci")), "dim"),
        fmt.right(fmt.pct(sl.get("consistency")) if many else "n/a", "" if many else "dim"),
        fmt.right(fmt.dec(sl.get("semantic_entropy")) if many else "n/a", "" if many else "dim"),
        fmt.right(f"{fmt.pct(ph)}" if ph is not None else fmt.DASH),
        fmt.right(fmt.pct(err), palette.bad if err else "dim"),
        fmt.right(fmt.ms((sl.get("latency_ms") or {}).get("p50"))),
        _p99(sl),
        fmt.acc_text(sl.get("accuracy_within_slo"), palette) if sl.get("accuracy_within_slo") is not None
        else fmt.right(fmt.DASH, "dim"),
    ]


def live_columns() -> list[tuple[str, str, int | None]]:
    return [("slice", "slice", 20), ("n", "n", 4), ("acc", "acc", 4), ("live interval", "track", TRACK),
            ("range", "ci", 7), ("err", "err", 4)]


def live_row(sl: dict[str, Any], palette: fmt.Palette) -> list[Any]:
    ci = sl.get("ci") or sl.get("accuracy_ci") or [None, None]
    err = fmt.num(sl.get("error_rate"))
    return [
        slice_label(sl, palette),
        fmt.right(str(sl.get("n_cases", fmt.DASH))),
        fmt.acc_text(sl.get("accuracy"), palette),
        fmt.interval_track(ci[0], ci[1], sl.get("accuracy"), TRACK, palette),
        fmt.right(fmt.ci(ci), "dim"),
        fmt.right(fmt.pct(err), palette.bad if err else "dim"),
    ]


SORTS = {
    "accuracy": ("worst first", lambda s: (fmt.num(s.get("accuracy")) if fmt.num(s.get("accuracy")) is not None else 2.0)),
    "ci_high": ("lowest upper bound", lambda s: fmt.num((s.get("accuracy_ci") or s.get("ci") or [0, 2])[1]) or 2.0),
    "p99": ("slowest p99", lambda s: -(fmt.num((s.get("latency_ms") or {}).get("p99")) or 0.0)),
    "errors": ("most errors", lambda s: -(fmt.num(s.get("error_rate")) or 0.0)),
    "consistency": ("least consistent", lambda s: fmt.num(s.get("consistency")) if fmt.num(s.get("consistency")) is not None else 2.0),
    "n": ("largest", lambda s: -(s.get("n_cases") or 0)),
    "name": ("by name", lambda s: slice_key(s)),
}
SORT_ORDER = list(SORTS)
COLUMN_SORT = {"acc": "accuracy", "ci": "ci_high", "p99": "p99", "p50": "p99", "err": "errors", "cons": "consistency",
               "se": "consistency", "n": "n", "slice": "name", "slo": "accuracy", "passk": "accuracy"}


def ordered(slices: list[dict[str, Any]], sort: str, flagged_first: bool = True) -> list[dict[str, Any]]:
    """Overall first, then flagged slices (when asked), then by the sort key; ties by name."""
    _, key = SORTS.get(sort, SORTS["accuracy"])
    overall = [s for s in slices if s.get("key") == "overall"]
    rest = [s for s in slices if s.get("key") != "overall"]
    rest.sort(key=lambda s: (not s.get("flagged") if flagged_first else False, key(s), slice_key(s)))
    return overall + rest


def detail_line(sl: dict[str, Any] | None, palette: fmt.Palette, samples_per_case: int | None = None) -> Text:
    """One or two lines explaining the highlighted slice: n, flag and q-value, what a figure is missing."""
    if sl is None:
        return Text("")
    t = Text(no_wrap=False)
    t.append(sanitize(slice_key(sl), single_line=True, limit=60), style="bold")
    if sl.get("flagged"):
        q = fmt.num(sl.get("q_value"))
        t.append(f"  {FLAG} flagged: fails significantly more than the rest" +
                 (f" ({fmt.p_clause('q', q)})" if q is not None else ""), style=palette.bad)
    n_cases, n_samples, n_err = sl.get("n_cases"), sl.get("n_samples"), sl.get("n_errors")
    if "n_sequenced" in sl:  # a live row: samples so far, from the cases that have any answer yet
        t.append(f"\n{n_samples} samples so far from {n_cases} cases, {n_err or 0} errors", style="dim")
    else:
        t.append(f"\n{n_cases} cases, {n_samples} samples, {n_err or 0} errors", style="dim")
    ci = sl.get("accuracy_ci") or sl.get("ci")
    t.append(f" · accuracy {fmt.pct(sl.get('accuracy'), 1)} [{fmt.ci(ci)}]", style="dim")
    if sl.get("majority_accuracy") is not None:
        t.append(f" · majority vote {fmt.pct(sl.get('majority_accuracy'))}", style="dim")
    pk = sl.get("pass_at_k") or {}
    ph = sl.get("pass_hat_k") or {}
    if isinstance(pk, dict) and pk:
        k = max(pk, key=lambda x: int(x) if str(x).isdigit() else 0)
        t.append(f" · pass@{k} {fmt.pct(pk.get(k))} pass^{k} {fmt.pct(ph.get(k))}", style="dim")
    lat = sl.get("latency_ms") or {}
    n_lat = lat.get("n")
    if isinstance(n_lat, int) and 0 < n_lat < 100:
        t.append(f" · p99 is the max (n={n_lat}<100)", style="dim")
    if (samples_per_case or 1) < 2:
        t.append(" · 1 sample/case: no consistency or entropy", style="dim")
    if isinstance(n_cases, int) and n_cases < 10 and sl.get("key") != "overall":
        t.append(f" · only {n_cases} cases: read the interval, not the point", style=palette.warn)
    return t
