"""Validation problems in suites and datasets, each naming file, field path and line."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a suite: where it is and what is wrong."""

    file: str
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class SuiteError(Exception):
    """A suite that cannot be used. `problems` lists everything found, first is shown first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(str(problems[0]) if problems else "invalid suite")

    def one_line(self) -> str:
        """The message for `tuieval run`: the first problem, and how many more there are."""
        first = str(self.problems[0])
        more = len(self.problems) - 1
        return first + (f" (and {more} more problem{'s' if more > 1 else ''}; see `tuieval validate`)" if more else "")
