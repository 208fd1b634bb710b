"""JUnit XML for CI dashboards (`tuieval report --format junit`).

One testcase per gate bound, failed when the gate fails (value, threshold and n in the
message), so a dashboard is red exactly when `tuieval run` exited 1 for a gate; and one
testcase per slice, failed when the slice is flagged (its failure rate significantly above
the rest).
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tuieval.report.formats.cells import pct
from tuieval.textsafe import sanitize


def _xml(x: Any) -> str:
    """Data text without the control characters XML 1.0 cannot hold."""
    return sanitize(x, single_line=True)


def _testcase(classname: str, name: str, failure: tuple[str, str] | None) -> str:
    body = ""
    if failure is not None:
        message, detail = failure
        body = f"<failure message={quoteattr(_xml(message))}>{escape(_xml(detail))}</failure>"
    classname, name = _xml(classname), _xml(name)
    return f"  <testcase classname={quoteattr(classname)} name={quoteattr(name)}>{body}</testcase>"


def to_junit(report: dict[str, Any]) -> str:
    run = report["run"]
    cases = []
    for g in report.get("gates") or []:
        failure = None
        if not g["passed"]:
            failure = (g["message"], f"gate {g['gate']}: value {g['value']}, threshold {g['threshold']}, n={g['n']}")
        cases.append(_testcase("gates", g["gate"], failure))
    for s in report.get("slices", []):
        failure = None
        if s.get("flagged"):
            failure = (f"failure rate significantly above the rest (q={s['q_value']:.3g})",
                       f"accuracy {pct(s['accuracy'])} over {s['n_cases']} cases")
        cases.append(_testcase(run["suite"], f"{s['key']}={s['value']}", failure))
    n_fail = sum(1 for c in cases if "<failure" in c)
    head = (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(_xml(run["suite"] + " " + run["model"]))} '
            f'tests="{len(cases)}" failures="{n_fail}">')
    return "\n".join([head, *cases, "</testsuite>"]) + "\n"
