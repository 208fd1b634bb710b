"""Robustness: how much of a score the harness moves — templates and answer extraction.

`templates.template_sensitivity` and `extraction.extraction_sensitivity` build the
`robustness` section of a report (tuieval.report/1); both are pure functions of arrays.
"""

from tuieval.analysis.robustness.extraction import extraction_sensitivity
from tuieval.analysis.robustness.templates import cochran_q, template_sensitivity

__all__ = ["cochran_q", "extraction_sensitivity", "template_sensitivity"]
