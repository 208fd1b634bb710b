"""A run's lean sample rows held as columns, for the analysis of large runs.

`Store.analysis_sample_columns` fills one from a single SELECT (the columns of
`Store.analysis_samples`, same order, same sample rules) without building a dictionary per
sample: at a million samples those dictionaries were most of the analysis's time and memory.
The analysis reads the columns directly (`columns`, `errors`, `correct_mask`…); any other
reader can still treat the object as the familiar sequence of row dictionaries — a row is
built only when it is asked for, equal to the one `analysis_samples` returns. The store reads
case id and template once per (case, template) group (`groups`: the rows come sorted by them),
so those two columns hold one string object per group, repeated, and `case_codes` gives the
sorted case ids and each sample's index into them from the groups, not from a million strings.

This module sits beside `tuieval.sample_rules` (below both the store and the analysis), so
the store can fill it and the analysis can read it without either importing the other.
"""

from __future__ import annotations

from itertools import chain, repeat
from typing import Any, Iterator, Sequence

import numpy as np

from tuieval.sample_rules import correct_mask, error_mask


class SampleColumns(Sequence):
    """Lean sample rows as columns (name → list, in `names` order), ordered like the store reads them.

    `correct` holds the stored column as read; `correct_mask` applies the sample rule (an
    error is never correct), as the row dictionaries' `correct` does."""

    def __init__(self, names: Sequence[str], columns: dict[str, list[Any]], *,
                 groups: Sequence[tuple[str, str, int]] | None = None) -> None:
        """`groups`: (case id, template, number of samples) in the rows' order, when the rows are
        sorted by case id then template and `columns` has neither column (they are made here)."""
        self.names = tuple(names)
        self.columns = columns
        self._groups = groups
        self._runs: tuple[list[Any], list[Any], np.ndarray] | None = None
        if groups is not None:
            columns["case_id"] = list(chain.from_iterable(repeat(c, n) for c, _, n in groups))
            columns["template"] = list(chain.from_iterable(repeat(t, n) for _, t, n in groups))
            if any(len(col) != len(columns["case_id"]) for col in columns.values()):
                raise ValueError("sample columns of different lengths: the groups do not count the rows")
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

    def group_runs(self) -> tuple[list[Any], list[Any], np.ndarray] | None:
        """(case id of each run, its template, its number of rows): the runs of consecutive rows
        that share a case id and a template, in row order, as the store read them; None when the
        store gave no groups. A reader that needs one value per sample can look each run up once
        and repeat it (`np.repeat(codes, counts)`), not look up a million repeated strings."""
        if self._groups is None:
            return None
        if self._runs is None:  # made once: the analysis reads it twice
            g = self._groups
            self._runs = ([c for c, _, _ in g], [t for _, t, _ in g],
                          np.fromiter((k for _, _, k in g), dtype=np.int64, count=len(g)))
        return self._runs

    def case_codes(self) -> tuple[list[str], np.ndarray]:
        """(the distinct case ids sorted, each sample's index into them) — from the groups when
        the store gave them (their case ids come sorted: SQLite's order of UTF-8 text is the code
        point order of `sorted`), else from the column."""
        case_col = self.columns["case_id"]
        if self._groups is not None:
            ids = list(dict.fromkeys(c for c, _, _ in self._groups))
            if all(type(c) is str for c in ids) and all(map(str.__lt__, ids, ids[1:])):
                position = {c: i for i, c in enumerate(ids)}
                per_group = np.fromiter((position[c] for c, _, _ in self._groups), dtype=np.int64,
                                        count=len(self._groups))
                counts = np.fromiter((n for _, _, n in self._groups), dtype=np.int64, count=len(self._groups))
                return ids, np.repeat(per_group, counts)
        ids = sorted(set(case_col))
        index = {c: i for i, c in enumerate(ids)}
        return ids, np.fromiter(map(index.__getitem__, case_col), dtype=np.int64, count=self._n)

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
