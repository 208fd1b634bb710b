"""Scorers that compare response text with target text: exact, normalized, any_of, contains.

An empty response (after stripping or normalizing) extracts nothing (None) and is never
correct, even against an empty target: an empty answer is a non-answer, and counting it
as an extraction failure is what the extractor-sensitivity view needs.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from tuieval.scoring.base import BaseScorer, Score, binary, target_text
from tuieval.scoring.normalize import normalize_text


class ExactScorer(BaseScorer):
    """Response equals a target after stripping surrounding whitespace; case-sensitive."""

    type = "exact"

    def _score(self, response: str, targets: list) -> Score:
        answer = response.strip()
        if not answer:
            return binary(None, False)
        wanted = {t.strip() for t in map(target_text, targets) if t is not None}
        return binary(answer, answer in wanted)


class NormalizedScorer(BaseScorer):
    """Response equals a target after `normalize_text` (SQuAD-style, accents kept)."""

    type = "normalized"

    def _score(self, response: str, targets: list) -> Score:
        answer = normalize_text(response)
        if not answer:
            return binary(None, False)
        wanted = {normalize_text(t) for t in map(target_text, targets) if t is not None}
        # `extracted` is the answer as the model wrote it (clusters and the app show it);
        # only the comparison is normalized.
        return binary(response.strip(), answer in wanted)


class AnyOfScorer(NormalizedScorer):
    """Normalized equality with any of the listed targets.

    Every scorer already accepts a list of targets, so this is `normalized` under a name
    that reads better in suites whose cases list aliases (targets: [NYC, New York City]).
    """

    type = "any_of"


class ContainsScorer(BaseScorer):
    """A target occurs somewhere in the response (substring, not whole-word).

    Both sides are NFKC-normalized and any run of whitespace in the target matches any run
    in the response, so a line-wrapped answer still counts. Case-insensitive by default.
    `extracted` is the span of the response that matched. An empty target never matches:
    it would make every response correct.
    """

    type = "contains"

    def __init__(self, name: str | None = None, case_sensitive: bool = False) -> None:
        super().__init__(name)
        self.case_sensitive = bool(case_sensitive)

    def options(self) -> dict[str, Any]:
        return {"case_sensitive": self.case_sensitive}

    def _score(self, response: str, targets: list) -> Score:
        text = unicodedata.normalize("NFKC", response)
        flags = 0 if self.case_sensitive else re.IGNORECASE
        for target in targets:
            words = unicodedata.normalize("NFKC", target_text(target) or "").split()
            if not words:
                continue
            # A regex (rather than str.find on lowered text) so the matched span can be
            # reported exactly as written, whatever case folding did to string lengths.
            match = re.search(r"\s+".join(map(re.escape, words)), text, flags)
            if match:
                return binary(match.group(0), True)
        return binary(None, False)
