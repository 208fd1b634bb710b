"""The rules about a stored sample row, stated once for every layer.

- An error sample (a request that still failed after its retries) is never correct,
  whatever its `correct` column says: a user would have seen it fail.
- The answer that is compared and clustered is the extracted text when a scorer
  extracted one, else the raw response; an error sample has no answer.

The store, the analysis, the report and the app all read samples through these
functions (and the store's SQL through `ANSWER_SQL`), so they cannot disagree.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Sequence

if TYPE_CHECKING:  # numpy only for the array rules: the run path (which stores samples) never loads it
    import numpy as np

#: the same rule as `answer_text`, for the store's lean queries
ANSWER_SQL = "CASE WHEN error IS NOT NULL THEN NULL ELSE COALESCE(extracted, response) END"


def is_error(sample: Mapping[str, Any]) -> bool:
    """The request failed after its retries (an error sample)."""
    return sample.get("error") is not None


def is_correct(sample: Mapping[str, Any]) -> bool:
    """Scored correct and not an error sample."""
    return bool(sample.get("correct")) and not is_error(sample)


def error_mask(errors: Sequence[Any]) -> "np.ndarray":
    """`is_error` over a column of stored `error` values (a large run's analysis reads columns)."""
    import operator
    from itertools import repeat

    import numpy as np

    # the rule as a C-level map (a million samples: no Python step per value)
    return np.fromiter(map(operator.is_not, errors, repeat(None)), dtype=bool, count=len(errors))


def correct_mask(correct: Sequence[Any], errors: "np.ndarray") -> "np.ndarray":
    """`is_correct` over a column of stored `correct` values and the `error_mask` beside it."""
    import numpy as np

    return np.fromiter(map(bool, correct), dtype=bool, count=len(correct)) & ~errors


def verdict(sample: Mapping[str, Any]) -> str:
    """How a sample is listed (search results): `error`, `correct` or `wrong`."""
    return "error" if is_error(sample) else ("correct" if is_correct(sample) else "wrong")


def answer_text(sample: Mapping[str, Any]) -> str | None:
    """The text compared and clustered: extracted, else response; None for an error sample.

    A lean row from `Store.analysis_samples` carries it precomputed as `answer`."""
    if is_error(sample):
        return None
    if "answer" in sample:
        return sample["answer"]
    extracted = sample.get("extracted")
    return extracted if extracted is not None else sample.get("response")
