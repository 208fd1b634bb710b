"""Extractor sensitivity: how much a result depends on how answers were extracted.

If two reasonable scorers (say `numeric` and a `regex` on "Answer: ...") disagree on many
samples, an accuracy difference between models may be an artefact of answer formatting
rather than of ability. These helpers count such samples from already-computed scores.
"""

from __future__ import annotations

from collections.abc import Sequence

from tuieval.scoring.base import Score


def disagreeing_samples(scores_by_scorer: Sequence[Sequence[Score | None]]) -> list[int]:
    """Indices of samples whose correctness differs between scorers.

    `scores_by_scorer[i][j]` is scorer i's score for sample j; every scorer must cover the
    same samples. A None score (sample not scored, e.g. the request failed) is left out of
    that sample's comparison rather than counted as incorrect.
    """
    rows = [list(row) for row in scores_by_scorer]
    if len(rows) < 2:
        return []
    lengths = {len(row) for row in rows}
    if len(lengths) > 1:
        raise ValueError(f"every scorer must score the same samples; got lengths {sorted(lengths)}")
    out = []
    for j, column in enumerate(zip(*rows)):
        verdicts = {s.correct for s in column if s is not None}
        if len(verdicts) > 1:
            out.append(j)
    return out


def extraction_disagreement(scores_by_scorer: Sequence[Sequence[Score | None]]) -> int:
    """How many samples some scorers mark correct and others incorrect."""
    return len(disagreeing_samples(scores_by_scorer))


def extraction_failures(scores: Sequence[Score | None]) -> int:
    """How many of one scorer's scores extracted nothing (no answer found at all)."""
    return sum(1 for s in scores if s is not None and s.extracted is None)
