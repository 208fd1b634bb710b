"""A run's token usage per case, the rule of `Store.token_usage`, in two forms: SQL that groups
the samples, and the same sums taken from one extra column of the analysis's own read.

The cost section needs, per case, the requests, the tokens the server counted and the text of
the answered samples it gave no counts for (tuieval.cost.spend). As a `GROUP BY case_id` query
that is a second scan of every sample row (at a million samples about 2 CPU seconds), after the
analysis has just read every row once. So `Store.analysis_sample_columns` reads one more value
per sample, `USAGE_SQL`: for a plain sample (not answered from the response cache, no prompt
cache counts, its tokens counted or an error) just its input tokens; for any other sample a JSON
array of its contributions to every sum (`PER_ROW`, the same expressions `token_usage` sums).
`usage_from_columns` adds them up per case with numpy. `PER_ROW` is the one place the rule is
written; tests hold the two forms to each other.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # numpy is imported by the reader of columns, not by a run storing samples
    import numpy as np

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

#: a sample whose shares fit one integer: not answered from the response cache, no prompt-cache
#: counts, integer counts, its output tokens counted (or an error, whose missing counts add
#: nothing). Its shares are (1, input tokens, output tokens, 0, …) — or, an answer without its
#: input tokens counted, (1, 0, output tokens, 1, prompt characters, 0, …)
_ONE_INT = ("cached = 0 AND cached_tokens IS NULL AND cache_write_tokens IS NULL AND cache_write_1h_tokens IS NULL "
            "AND typeof(input_tokens) IN ('integer', 'null') AND typeof(output_tokens) IN ('integer', 'null') "
            "AND (error IS NOT NULL OR output_tokens IS NOT NULL)")

#: the value read per sample beside the analysis columns: for a sample of _ONE_INT its input
#: tokens (≥ 0), or −1 − its prompt's length when they were not counted; for any other sample
#: the JSON array of its shares in PER_ROW order
USAGE_SQL = (f"CASE WHEN {_ONE_INT} THEN (CASE WHEN error IS NULL AND input_tokens IS NULL "
             f"THEN -1 - COALESCE(LENGTH(prompt), 0) ELSE COALESCE(input_tokens, 0) END) "
             f"ELSE json_array({', '.join(expr for expr, _ in PER_ROW)}) END")


def usage_from_columns(case_ids: Sequence[str], sample_case: np.ndarray, output_tokens: np.ndarray,
                       usage: Sequence[Any]) -> list[dict[str, Any]]:
    """`Store.token_usage` of the samples read as columns: `case_ids` the sorted distinct case
    ids, `sample_case` each sample's index into them, `output_tokens` the stored column as floats
    (NaN for NULL), `usage` the USAGE_SQL column. Rows in case id order, as the query's."""
    import numpy as np

    n_cases, n = len(case_ids), len(usage)
    try:  # every sample's shares one integer (the usual run): one conversion
        values = np.array(usage, dtype=np.int64) if n else np.zeros(0, dtype=np.int64)
        plain = np.ones(n, dtype=bool)
    except (TypeError, ValueError):
        plain = np.fromiter((u.__class__ is int for u in usage), dtype=bool, count=n)
        values = np.fromiter((u if p else 0 for u, p in zip(usage, plain.tolist())), dtype=np.int64, count=n)
    sums = np.zeros((len(PER_ROW), n_cases), dtype=np.int64)
    if plain.any():
        cases, values = sample_case[plain], values[plain]
        uncounted = values < 0
        # integer-valued float64 weights: bincount sums them exactly far past any token count (2⁵³)
        sums[0] = np.bincount(cases, minlength=n_cases)
        sums[1] = np.bincount(cases, weights=np.where(uncounted, 0, values), minlength=n_cases)
        sums[2] = np.bincount(cases, weights=np.nan_to_num(output_tokens[plain], nan=0.0), minlength=n_cases)
        sums[3] = np.bincount(cases, weights=uncounted, minlength=n_cases)
        sums[4] = np.bincount(cases, weights=np.where(uncounted, -1 - values, 0), minlength=n_cases)
    extra = np.flatnonzero(~plain)
    # the other samples (cached, prompt-cache counts, answers without output counts): few, one by one
    exact: dict[int, list[Any]] = {}
    for i in extra.tolist():
        shares = json.loads(usage[i])
        acc = exact.setdefault(int(sample_case[i]), [0] * len(PER_ROW))
        for k, v in enumerate(shares):
            if v is not None:
                acc[k] += v
    table = sums.T.tolist()
    for c, acc in exact.items():
        table[c] = [a + b for a, b in zip(table[c], acc)]
    return [dict(zip(USAGE_KEYS, (cid, *vals))) for cid, vals in zip(case_ids, table)]
