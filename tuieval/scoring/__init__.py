"""Answer extraction and scoring.

Build scorers from suite specs and score responses against lists of accepted targets::

    scorers = build_scorers([{"type": "numeric", "tolerance": 0.01}, "normalized"])
    scorers[0].score("... so the total is $1,000.", ["1000"])
    # Score(extracted='$1,000', correct=True, score=1.0)

Scorer types and their options (defaults in brackets), all also taking `name`:

* ``exact`` — equal after stripping surrounding whitespace; case-sensitive.
* ``normalized`` — equal after `normalize_text` (SQuAD-style; accents kept).
* ``any_of`` — same as normalized, named for cases listing alias targets.
* ``contains`` — a target occurs in the response; ``case_sensitive`` [false].
* ``numeric`` — last number in the response; ``tolerance`` [0], ``relative`` [false].
* ``choice`` — the multiple-choice letter; ``choices`` ["ABCD"].
* ``json`` — JSON in the response; ``fields`` [whole value], ``normalize``
  [true with fields, false without].
* ``regex`` — ``pattern`` (required), ``group`` [1, or 0 without groups],
  ``then`` (normalized | exact | numeric) [normalized], ``match`` (first | last) [last],
  ``ignore_case`` [false]; with ``then: numeric`` also ``tolerance`` and ``relative``.

Every scorer accepts a list of targets and is correct if any matches. Modules:
`base` (types), `normalize`, `text`, `numeric`, `choice`, `json_match`, `pattern`,
`spec` (validation and construction), `sensitivity` (extractor disagreement).
"""

from tuieval.scoring.base import Score, Scorer, ScorerSpec, ScorerSpecError
from tuieval.scoring.normalize import normalize_text
from tuieval.scoring.sensitivity import disagreeing_samples, extraction_disagreement, extraction_failures
from tuieval.scoring.spec import (
    SCORER_TYPES,
    build_scorer,
    build_scorers,
    validate_scorer_spec,
    validate_scorer_specs,
)

__all__ = [
    "SCORER_TYPES",
    "Score",
    "Scorer",
    "ScorerSpec",
    "ScorerSpecError",
    "build_scorer",
    "build_scorers",
    "disagreeing_samples",
    "extraction_disagreement",
    "extraction_failures",
    "normalize_text",
    "validate_scorer_spec",
    "validate_scorer_specs",
]
