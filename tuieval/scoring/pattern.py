"""Extraction by regular expression, then comparison by another scorer.

For answer formats the built-in extractors do not know ("FINAL: <x>", "#### 42"):
`pattern` finds the answer, `group` picks it out, and `then` (normalized, exact or
numeric) judges it. No match extracts None and is incorrect.

The LAST match is used by default (`match: first` to change it), for the same reason the
numeric scorer takes the last number: responses restate and revise before concluding.
Matches where the chosen group did not take part, or is empty, are skipped. The pattern is compiled
with Python's defaults (`^`/`$` anchor the whole response); use inline flags such as
`(?m)` for per-line anchors, or `ignore_case: true`.
"""

from __future__ import annotations

import re
from typing import Any

from tuieval.scoring.base import BaseScorer, Score, binary
from tuieval.scoring.text import NormalizedScorer

#: The scorers a regex scorer can hand its extraction to.
THEN_TYPES = ("normalized", "exact", "numeric")


class RegexScorer(BaseScorer):
    """`pattern` extracts, `then` compares."""

    type = "regex"

    def __init__(
        self,
        name: str | None = None,
        *,
        pattern: str,
        group: int | str | None = None,
        then: BaseScorer | None = None,
        match: str = "last",
        ignore_case: bool = False,
    ) -> None:
        super().__init__(name)
        self.regex = re.compile(pattern, re.IGNORECASE if ignore_case else 0)
        # Default: the first capture group if there is one, else the whole match.
        self.group = group if group is not None else (1 if self.regex.groups else 0)
        self.then = then if then is not None else NormalizedScorer()
        self.match = match
        self.ignore_case = bool(ignore_case)

    def options(self) -> dict[str, Any]:
        opts = {
            "pattern": self.regex.pattern,
            "group": self.group,
            "then": self.then.type,
            "match": self.match,
            "ignore_case": self.ignore_case,
        }
        # The comparison scorer's own options (e.g. tolerance) live flat in the spec.
        opts.update(self.then.options())
        return opts

    def extract(self, response: str) -> str | None:
        """The chosen group of the first/last match where it is non-empty, or None."""
        found = None
        for m in self.regex.finditer(response):
            text = m.group(self.group)
            # Skip groups that did not take part, and empty ones: finditer ends with an
            # empty match for patterns like "(.*)", which would otherwise always be "last".
            if not text:
                continue
            found = text
            if self.match == "first":
                break
        return found

    def _score(self, response: str, targets: list) -> Score:
        extracted = self.extract(response)
        if extracted is None:
            return binary(None, False)
        judged = self.then.score(extracted, targets)
        if judged.extracted == extracted:  # the usual case (a group with no spaces around it)
            return judged  # the very Score the line below would make: one Score per sample, not two
        # Report the group as matched, not the inner scorer's view of it: that is what
        # a reader needs to see to tell whether the pattern or the comparison failed.
        return Score(extracted=extracted, correct=judged.correct, score=judged.score)
