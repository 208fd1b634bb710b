"""JUnit XML for CI dashboards (`tuieval report --format junit`).

One testcase per gate bound, failed when the gate fails (value, threshold and n in the
message), so a dashboard is red exactly when `tuieval run` exited 1 for a gate; and one
testcase per slice, failed when the slice is flagged (its failure rate significantly above
the rest).

When the report has a `robustness` section, its paired tests are testcases too, so a CI job
can track them run after run. For a dashboard to trust them they are stable and decided by
the same figures as the JSON: every test is a testcase whatever its outcome (the set of names
depends only on the suite's perturbations, slices, templates and extractors, not on the
results), a testcase fails only on a result that is significant after the section's own
correction (Benjamini–Hochberg q ≤ α, the JSON's `significant`), and its message holds the
figures with their n and interval. Classnames:

- `robustness.perturbations`: one per row of the perturbation × slice table (`typos:0.1 · all`),
  failed when accuracy dropped significantly (an improvement is not a failure);
- `robustness.templates`: one, "templates differ", failed when Cochran's Q (or its
  permutation analogue) rejects at α — one test, nothing to correct;
- `robustness.extractors`: one per pair of extractors, failed when they differ significantly
  (q ≤ α and the interval of the difference excludes 0).

Every robustness testcase, passed or failed, carries its figures in `<system-out>`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tuieval.report.formats.cells import ci, delta_ci, p_value, pct, pts
from tuieval.textsafe import sanitize


def _xml(x: Any) -> str:
    """Data text without the control characters XML 1.0 cannot hold."""
    return sanitize(x, single_line=True)


def _testcase(classname: str, name: str, failure: tuple[str, str] | None, out: str | None = None) -> str:
    body = ""
    if failure is not None:
        message, detail = failure
        body = f"<failure message={quoteattr(_xml(message))}>{escape(_xml(detail))}</failure>"
    if out is not None:
        body += f"<system-out>{escape(_xml(out))}</system-out>"
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
    cases += robustness_testcases(report.get("robustness") or {}, (report.get("analysis") or {}).get("alpha", 0.05))
    n_fail = sum(1 for c in cases if "<failure" in c)
    head = (f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name={quoteattr(_xml(run["suite"] + " " + run["model"]))} '
            f'tests="{len(cases)}" failures="{n_fail}">')
    return "\n".join([head, *cases, "</testsuite>"]) + "\n"


def _perturbation_figures(r: dict[str, Any]) -> str:
    return (f"accuracy {pct(r['accuracy_original'])} original → {pct(r['accuracy_perturbed'])} perturbed over "
            f"{r['n_pairs']} pairs, Δ {pts(r['delta'])} pts {delta_ci(r.get('delta_ci'))}; correct → wrong "
            f"{r['flips_correct_to_wrong']} ({pct(r.get('flip_rate'))} {ci(r.get('flip_rate_ci'))}), wrong → correct "
            f"{r['flips_wrong_to_correct']}; {r['test']} {p_value(r.get('p_value'))}, q={r.get('q_value', 1.0):.3g}")


def robustness_testcases(robustness: dict[str, Any], alpha: float) -> list[str]:
    """The testcases of a report's `robustness` section (see the module docstring)."""
    cases = []
    section = robustness.get("perturbations") or {}
    m = len(section.get("rows") or [])
    for r in section.get("rows") or []:
        figures = _perturbation_figures(r) + f" (Benjamini–Hochberg across {m} tests)"
        failure = None
        if r.get("significant") and (r.get("delta") or 0) < 0:
            failure = (f"accuracy dropped significantly under {r['label']} on {r['slice']}: "
                       f"{pct(r['accuracy_original'])} → {pct(r['accuracy_perturbed'])}, n={r['n_pairs']}, "
                       f"q={r['q_value']:.3g}", figures)
        cases.append(_testcase("robustness.perturbations", f"{r['label']} · {r['slice']}", failure, figures))
    templates = robustness.get("templates") or {}
    test = templates.get("test") or {}
    if test.get("p_value") is not None:
        spread = templates.get("spread") or {}
        name = {"cochran_q": "Cochran's Q", "permutation": "within-case permutation test"}.get(test.get("name"), "test")
        figures = (f"{templates['n_templates']} templates over {templates['n_cases']} paired cases; spread best − worst "
                   f"{pts(spread.get('value'), False)} pts ({spread.get('best')} vs {spread.get('worst')}) "
                   f"{delta_ci(spread.get('ci'))}; {name} {p_value(test['p_value'])} at α={alpha}")
        failure = None
        if test["p_value"] <= alpha:
            failure = (f"accuracy depends on the template: {p_value(test['p_value'])}, n={templates['n_cases']}",
                       figures)
        cases.append(_testcase("robustness.templates", "templates differ", failure, figures))
    extractors = robustness.get("extractors") or {}
    for pair in extractors.get("pairs") or []:
        figures = (f"{pair['a']} {pct(pair['accuracy_a'])} vs {pair['b']} {pct(pair['accuracy_b'])} over "
                   f"{pair['n_cases']} cases, Δ {pts(pair['delta'])} pts {delta_ci(pair.get('delta_ci'))}; only "
                   f"{pair['a']} right {pair['a_only']}, only {pair['b']} right {pair['b_only']}; "
                   f"{p_value(pair['p_value'])}, q={pair.get('q_value', 1.0):.3g}")
        failure = None
        if pair.get("significant"):
            failure = (f"the score depends on the extractor: {pair['a']} vs {pair['b']}, n={pair['n_cases']}, "
                       f"q={pair['q_value']:.3g}", figures)
        cases.append(_testcase("robustness.extractors", f"{pair['a']} vs {pair['b']}", failure, figures))
    return cases
