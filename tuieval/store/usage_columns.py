"""A run's token usage per case, the rule of `Store.token_usage`: SQL that groups the samples,
and the same rows held as integer columns for the cost section's arithmetic over 100,000 cases.

The cost section needs, per case, the requests, the tokens the server counted and the text of
the answered samples it gave no counts for (tuieval.cost.spend). The `GROUP BY case_id` query is
a scan of every sample row (at a million samples one to two CPU seconds, nearly all inside
SQLite), so `Store.token_usage_beside` runs it in a thread on a second connection while the
analysis goes on, and hands back a `UsageTable`: the same rows, their sums as numpy columns, so
pricing them is array arithmetic rather than a `Price.cost` call per case. `PER_ROW` is the one
place the rule is written.
"""

from __future__ import annotations

from typing import Any, Iterator, Sequence

#: the names of a token_usage row, in its order
USAGE_KEYS = ("case_id", "n", "input_tokens", "output_tokens", "n_uncounted", "uncounted_prompt_chars",
              "uncounted_response_chars", "n_cached", "cached_tokens", "cache_write_tokens", "cache_write_1h_tokens")

#: per sample, its share of each sum (a sample answered from the response cache cost nothing this
#: time), with how `token_usage` aggregates it: COALESCE(SUM(x), 0) where NULL means "no count"
PER_ROW = (
    ("cached = 0", "SUM({})"),
    ("input_tokens * (cached = 0)", "COALESCE(SUM({}), 0)"),
    ("output_tokens * (cached = 0)", "COALESCE(SUM({}), 0)"),
    ("cached = 0 AND error IS NULL AND (input_tokens IS NULL OR output_tokens IS NULL)", "SUM({})"),
    ("CASE WHEN cached = 0 AND error IS NULL AND input_tokens IS NULL THEN LENGTH(prompt) ELSE 0 END", "SUM({})"),
    ("CASE WHEN cached = 0 AND error IS NULL AND output_tokens IS NULL THEN LENGTH(response) ELSE 0 END", "SUM({})"),
    ("cached", "SUM({})"),
    ("cached_tokens * (cached = 0)", "COALESCE(SUM({}), 0)"),
    ("cache_write_tokens * (cached = 0)", "COALESCE(SUM({}), 0)"),
    ("cache_write_1h_tokens * (cached = 0)", "COALESCE(SUM({}), 0)"),
)

#: `token_usage`'s query: the per-row shares summed per case
GROUPED_SQL = (f"SELECT case_id, {', '.join(agg.format(expr) for expr, agg in PER_ROW)} "
               "FROM samples WHERE run_id = ? GROUP BY case_id")


#: joins the case ids of `joined_rows` (a case id holding it is read the plain way)
_SEP = "\x1f"


def joined_rows(conn, run_id: str) -> list[tuple[Any, ...]] | None:
    """GROUPED_SQL's rows from one aggregate row over it (one SQLite step: a thread reading it
    beside the analysis takes the GIL back twice, not once per case). None where that cannot be
    trusted to be the same rows: a case id that is not text or holds the separator, a sum that is
    not an integer (its text would not be the float), case ids not strictly ascending (the
    `GROUP BY`'s order, which group_concat's order must be shown to keep)."""
    import sqlite3

    sums = [f"s{i}" for i in range(len(PER_ROW))]
    inner = (f"SELECT case_id, {', '.join(f'{agg.format(expr)} AS {s}' for (expr, agg), s in zip(PER_ROW, sums))} "
             "FROM samples WHERE run_id = ? GROUP BY case_id")
    odd = " OR ".join([f"typeof(case_id) != 'text' OR instr(case_id, '{_SEP}') > 0"]
                      + [f"typeof({s}) != 'integer'" for s in sums])
    try:
        row = conn.execute(f"SELECT COUNT(*), SUM({odd}), group_concat(case_id, '{_SEP}'), "
                           f"{', '.join(f'group_concat({s})' for s in sums)} FROM ({inner})", (run_id,)).fetchone()
    except sqlite3.Error:
        return None
    count, bad, ids = row[:3]
    if count == 0:
        return []
    if bad:
        return None
    ids = ids.split(_SEP)
    columns = [list(map(int, text.split(","))) for text in row[3:]]
    if any(len(col) != count for col in [ids, *columns]) or not all(map(str.__lt__, ids, ids[1:])):
        return None
    return list(zip(ids, *columns))


class UsageTable(Sequence):
    """`Store.token_usage`'s rows (tuples in USAGE_KEYS order, case id order) as a sequence of
    the same dictionaries, and as columns: `case_ids`, and `arrays` (key → int64 numpy array)
    when every sum is an integer (`integral`; a REAL token count stored by another tool makes
    its SUM a float, and then only the rows are offered)."""

    def __init__(self, rows: Sequence[tuple[Any, ...]]) -> None:
        import numpy as np

        self._rows = list(rows)
        columns = list(zip(*self._rows)) if self._rows else [() for _ in USAGE_KEYS]
        self.case_ids: list[str] = list(columns[0])
        self.arrays: dict[str, Any] = {}
        self.integral = True
        for key, col in zip(USAGE_KEYS[1:], columns[1:]):
            arr = np.array(col) if col else np.zeros(0, dtype=np.int64)
            if arr.dtype.kind != "i":  # floats, None or integers past int64: the rows, not the columns
                self.integral = False
                self.arrays = {}
                break
            self.arrays[key] = arr.astype(np.int64, copy=False)

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [dict(zip(USAGE_KEYS, r)) for r in self._rows[i]]
        return dict(zip(USAGE_KEYS, self._rows[i]))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (dict(zip(USAGE_KEYS, r)) for r in self._rows)
