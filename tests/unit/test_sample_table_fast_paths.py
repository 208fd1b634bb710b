"""The sample table's fast paths read what the plain per-sample rules read.

* `_timeouts` (only the errors' kinds read when every kind sits beside an error) and `_answered`
  (`~errors` when the None answers are exactly the errors') against the value-by-value rules, on
  fuzzed columns that take both branches;
* the table built from the store's runs of (case, template) rows (`SampleColumns.group_runs`: one
  look-up per run) against the table built from one dictionary per sample.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from tuieval.analysis.report import _answered, _Table, _timeouts
from tuieval.sample_columns import SampleColumns
from tuieval.sample_rules import is_error


def _column(rng: random.Random, n: int):
    errors = [rng.random() < rng.choice([0.0, 0.05, 0.5]) for _ in range(n)]
    stray = rng.random() < 0.3   # a kind (or a missing answer) where there is no error
    kinds, answers = [], []
    for e in errors:
        if e:
            kinds.append(rng.choice(["timeout", "server", None, "timeout"]))
            answers.append(None if not stray or rng.random() < 0.8 else "x")
        else:
            kinds.append(rng.choice(["timeout", "rate"]) if stray and rng.random() < 0.1 else None)
            answers.append(None if stray and rng.random() < 0.1 else rng.choice(["4", "", "four"]))
    return np.array(errors, dtype=bool), kinds, answers


def test_timeouts_and_answers_are_the_value_by_value_rules():
    rng = random.Random(5)
    branches = {"kinds at errors": 0, "kinds elsewhere": 0, "answers are the errors'": 0, "answers elsewhere": 0}
    for _ in range(600):
        errors, kinds, answers = _column(rng, rng.choice([0, 1, 7, 60]))
        want_t = np.array([k == "timeout" for k in kinds], dtype=bool)
        want_a = np.array([a is not None for a in answers], dtype=bool)
        assert _timeouts(kinds, errors).tolist() == want_t.tolist(), (kinds, errors)
        assert _answered(answers, errors).tolist() == want_a.tolist(), (answers, errors)
        at_errors = all(k is None or e for k, e in zip(kinds, errors))
        branches["kinds at errors" if at_errors else "kinds elsewhere"] += 1
        exact = [a is None for a in answers] == errors.tolist()
        branches["answers are the errors'" if exact else "answers elsewhere"] += 1
    assert min(branches.values()) > 30, branches


def _rows(rng: random.Random):
    rows = []
    for c in rng.sample(range(40), 25):
        for t in rng.sample(["plain", "terse", None], rng.choice([1, 2])):
            for k in range(rng.choice([1, 3, 5])):
                err = rng.random() < 0.1
                rows.append({"case_id": f"c{c:02d}", "template": t, "sample_index": k, "dispatch_order": len(rows),
                             "answer": None if err else rng.choice(["1", "2", "two"]), "correct": rng.random() < 0.5,
                             "error": "boom" if err else None,
                             "error_kind": rng.choice(["timeout", "server"]) if err else None,
                             "latency_ms": rng.choice([None, rng.uniform(1, 900)]), "ttft_ms": rng.uniform(1, 50),
                             "output_tokens": rng.randint(1, 40), "cluster": None})
    # the store's order: by case id, then template (None first, as SQLite sorts NULL), then sample index
    rows.sort(key=lambda r: (r["case_id"], r["template"] is not None, r["template"] or "", r["sample_index"]))
    return rows


def _columns(rows) -> SampleColumns:
    names = ("case_id", "template", "sample_index", "dispatch_order", "answer", "correct", "error", "error_kind",
             "latency_ms", "ttft_ms", "output_tokens", "cluster")
    groups: list[tuple] = []
    for r in rows:
        if groups and groups[-1][:2] == (r["case_id"], r["template"]):
            groups[-1] = (*groups[-1][:2], groups[-1][2] + 1)
        else:
            groups.append((r["case_id"], r["template"], 1))
    cols = {k: [r[k] for r in rows] for k in names if k not in ("case_id", "template")}
    return SampleColumns(names, cols, groups=groups)


def test_the_table_from_runs_of_rows_is_the_table_from_one_dictionary_per_sample():
    rng = random.Random(9)
    for _ in range(40):
        rows = _rows(rng)
        columns = _columns(rows)
        case_ids, templates, counts = columns.group_runs()
        assert np.repeat(np.arange(len(case_ids)), counts).size == len(rows)
        assert [c for c, n in zip(case_ids, counts.tolist()) for _ in range(n)] == columns.columns["case_id"]
        assert [t for t, n in zip(templates, counts.tolist()) for _ in range(n)] == columns.columns["template"]
        index = {c: i for i, c in enumerate(sorted({r["case_id"] for r in rows}, reverse=rng.random() < 0.5))}
        plain = [{**r, "correct": bool(r["correct"]) and not is_error(r)} for r in rows]
        a, b = _Table(columns, index), _Table(plain, index)
        for name in ("n", "templates", "n_groups", "texts"):
            assert getattr(a, name) == getattr(b, name), name
        for name in ("order", "case", "tmpl", "sample_index", "error", "correct", "censored", "valid_text",
                     "group", "group_case", "group_tmpl", "latency", "ttft", "out_tokens"):
            assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name


@pytest.mark.parametrize("pad", [True, False])
def test_cluster_rows_in_or_out_of_order_are_what_cluster_records_makes(tmp_path, pad):
    # pad=True: the store reads the samples in the analysis's order (the rows taken as they are);
    # pad=False: out of it (c1, c10 …), so the table reorders them and the rows are put back in order
    from tests.report.test_columnar_analysis import _varied_run
    from tuieval.analysis.report import analyze_run_clustered, cluster_records, cluster_run
    from tuieval.store import Store

    db = tmp_path / "v.db"
    run_id = _varied_run(db, "lexical", pad)
    with Store(str(db)) as store:
        run, cases = store.get_run(run_id), store.analysis_cases(run_id)
        rows, columns = store.analysis_samples(run_id), store.analysis_sample_columns(run_id)
    _, clustered = analyze_run_clustered(run, cases, columns, method="lexical")
    assert clustered.table.in_order is pad
    per_input, cluster_rows = clustered.records()
    want_map, want_rows = cluster_records(rows, cluster_run(rows, "lexical"))
    assert cluster_rows == want_rows
    assert {(s["case_id"], s["template"], s["sample_index"]): c
            for s, c in zip(rows, per_input.tolist()) if c >= 0} == want_map


def test_cases_by_position_are_the_sort_by_position():
    from tuieval.analysis.report import by_position

    rng = random.Random(4)
    for _ in range(300):
        cases = [{"case_id": i, "position": rng.choice([None, 0, 1, 2, 3, rng.randint(0, 50)])}
                 for i in range(rng.choice([0, 1, 2, 9]))]
        if rng.random() < 0.5:   # most often the store's order: positions non-decreasing
            cases = sorted(cases, key=lambda c: (c["position"] is None, c["position"] or 0))
        want = sorted(cases, key=lambda c: (c.get("position") is None, c.get("position") or 0))
        got = by_position(cases)
        assert [c["case_id"] for c in got] == [c["case_id"] for c in want] and got is not cases
