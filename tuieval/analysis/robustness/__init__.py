"""Robustness: how much of a score the harness moves — templates and answer extraction.

`templates.template_sensitivity` and `extraction.extraction_sensitivity` build the
`robustness` section of a report (tuieval.report/1); both are pure functions of arrays.
`answer_change.answer_changes` clusters a perturbed copy's answers with its original's for
the perturbation rows (tuieval.analysis.perturbations).
(Import them from their modules: `extraction` uses `analysis.compare`, which the report
module itself is imported by.)
"""
