"""Cross-checks of a loaded suite that would otherwise break or silently corrupt a run:
every template placeholder resolves for every case, and every gate's slice names a slice
the report can hold.  Run by the loader, so `tuieval validate` and `tuieval run` (before
any request and before a run row exists) apply the same rules.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from tuieval.suite import template as tpl
from tuieval.suite.model import Case, Gate, Template

Report = Callable[..., None]  # (field path, message, line=None)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """"; did you mean 'x'?" for the closest choice, or "" when nothing is close."""
    import difflib  # only for a suggestion in an error: not on every run's path
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_templates(templates: Sequence[Template], cases: Sequence[Case], where: Callable[[int], tuple],
                    report: Report, skip: set[str] = frozenset()) -> None:
    """Each template's placeholders against every case: one problem per template and
    placeholder, naming the first case it fails for and how many fail.  Variables in
    `skip` were already reported (a dataset column that does not exist)."""
    for ti, t in enumerate(templates):
        if t.messages_var is not None:
            continue
        for dotted in tpl.placeholders(t.prompt) + tpl.placeholders(t.system or ""):
            if dotted.split(".")[0] in skip:
                continue
            failing = [(c, why) for c in cases if (why := tpl.unresolved(dotted, c.vars)) is not None]
            if not failing:
                continue
            case, why = failing[0]
            more = f" (and {len(failing) - 1} more case{'s' if len(failing) > 2 else ''})" if len(failing) > 1 else ""
            if why.startswith("no variable"):
                name = dotted.split(".")[0]
                has = ", ".join(sorted(map(str, case.vars))) or "no variables"
                report(where(ti), f"unknown template variable {{{{ {dotted} }}}}: case {case.id!r} has {has}"
                       f"{did_you_mean(name, case.vars)}{more}")
            else:
                report(where(ti), f"template variable {{{{ {dotted} }}}} cannot be filled: case {case.id!r}: "
                       f"{why}{more}")


def check_messages(cases: Sequence[Case], var: str, report: Report) -> None:
    """A chat passthrough (`input` holding messages): each item must be {role, content}."""
    for case in cases:
        value = case.vars.get(var)
        if not isinstance(value, list):
            continue
        for i, m in enumerate(value):
            if not isinstance(m, dict) or "content" not in m:
                report((var, i), f"case {case.id!r}: each message must be a mapping with role and content, "
                       f"got {tpl.describe(m)}", case.line)
                break
            if m.get("role", "user") not in ("system", "user", "assistant"):
                report((var, i, "role"), f"case {case.id!r}: role must be system, user or assistant", case.line)
                break


def slice_columns(cases: Sequence[Case], cluster_key: str | None) -> dict[str, list[Any]]:
    """The columns a report slices on (analysis.report.case_slice_columns: metadata keys, then
    the derived features); the cluster_key column is the clustering unit, not a slice."""
    from tuieval.analysis.report import case_slice_columns

    cols, _ = case_slice_columns([{"metadata": c.metadata, "input_text": c.input_text()} for c in cases])
    if cluster_key:
        cols.pop(cluster_key, None)
    return cols


def check_gates(gates: Sequence[Gate], cases: Sequence[Case], cluster_key: str | None,
                where: Callable[[int], tuple], report: Report) -> None:
    """Every gate slice `key=value` must be a slice of these cases, compared as the gate
    is evaluated (the slice value's text), with a did-you-mean on typos."""
    sliced = [(i, g) for i, g in enumerate(gates) if g.slice]
    if not sliced or not cases:
        return
    from tuieval.analysis.slices import column_levels

    cols = slice_columns(cases, cluster_key)
    for i, gate in sliced:
        key, value = gate.slice_key, gate.slice_value
        if cluster_key and key == cluster_key:
            report(where(i), f"{key} is the cluster_key (the clustering unit), not a slice")
            continue
        if key not in cols:
            report(where(i), f"no case has a slice key {key!r}{did_you_mean(key, cols)} "
                   f"(keys: {', '.join(cols)})")
            continue
        levels, skipped = column_levels(key, cols[key])
        if skipped:
            report(where(i), f"{key} is not sliced: {skipped}")
            continue
        values = [str(lv.value) for lv in levels]
        if value not in values:
            shown = ", ".join(values[:12]) + (", …" if len(values) > 12 else "")
            report(where(i), f"no case has {key}={value}{did_you_mean(value, values)} (values: {shown})")
