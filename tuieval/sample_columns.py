"""A run's lean sample rows held as columns, for the analysis of large runs.

`Store.analysis_sample_columns` fills one from a single SELECT (the columns of
`Store.analysis_samples`, same order, same sample rules) without building a dictionary per
sample: at a million samples those dictionaries were most of the analysis's time and memory.
The analysis reads the columns directly (`columns`, `errors`, `correct_mask`…); any other
reader can still treat the object as the familiar sequence of row dictionaries — a row is
built only when it is asked for, equal to the one `analysis_samples` returns.

This module sits beside `tuieval.sample_rules` (below both the store and the analysis), so
the store can fill it and the analysis can read it without either importing the other.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from tuieval.sample_rules import correct_mask, error_mask


class SampleColumns(Sequence):
    """Lean sample rows as columns (name → list, in `names` order), ordered like the store reads them.

    `correct` holds the stored column as read; `correct_mask` applies the sample rule (an
    error is never correct), as the row dictionaries' `correct` does."""

    def __init__(self, names: Sequence[str], columns: dict[str, list[Any]]) -> None:
        self.names = tuple(names)
        self.columns = columns
        self._n = len(columns[self.names[0]]) if self.names else 0
        self._cache: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self._n))]
        if i < 0:
            i += self._n
        if not 0 <= i < self._n:
            raise IndexError(i)
        row = {k: self.columns[k][i] for k in self.names}
        row["correct"] = bool(self.correct_mask[i])
        return row

    def __iter__(self) -> Iterator[dict[str, Any]]:
        ok = self.correct_mask.tolist()
        cols = [self.columns[k] for k in self.names]
        for i, values in enumerate(zip(*cols)):
            row = dict(zip(self.names, values))
            row["correct"] = ok[i]
            yield row

    def rows(self) -> list[dict[str, Any]]:
        """Every row as a dictionary (what `Store.analysis_samples` returns)."""
        return list(self)

    @property
    def errors(self) -> np.ndarray:
        """Per sample: the request failed (sample_rules.is_error)."""
        if "errors" not in self._cache:
            self._cache["errors"] = error_mask(self.columns["error"])
        return self._cache["errors"]

    @property
    def correct_mask(self) -> np.ndarray:
        """Per sample: scored correct and not an error (sample_rules.is_correct)."""
        if "correct" not in self._cache:
            self._cache["correct"] = correct_mask(self.columns["correct"], self.errors)
        return self._cache["correct"]

    def floats(self, name: str) -> np.ndarray:
        """A numeric column as float64, NaN for NULL."""
        if name not in self._cache:
            self._cache[name] = np.array(self.columns[name], dtype=float) if self._n else np.zeros(0)
        return self._cache[name]
