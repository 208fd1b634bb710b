"""Formatting built reports: each module turns a report (or a comparison) into one output format.

Nothing here builds or analyses; `tuieval.report.build` does. `RENDERERS` maps the
`tuieval report --format` choices to their function.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from tuieval.report.formats.comparison import comparison_to_markdown
from tuieval.report.formats.csv_table import to_csv
from tuieval.report.formats.junit import to_junit
from tuieval.report.formats.markdown import summary_lines, to_markdown


def to_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


RENDERERS: dict[str, Callable[[dict[str, Any]], str]] = {
    "json": to_json, "md": to_markdown, "csv": to_csv, "junit": to_junit,
}

__all__ = ["RENDERERS", "comparison_to_markdown", "summary_lines", "to_csv", "to_json", "to_junit", "to_markdown"]
