"""The report's case list, built by array passes, is what the plain per-case rule gives.

The run is stored in a real SQLite file (tests/report/test_columnar_analysis._varied_run: two
templates, errors, answer-less samples, refusals, a case with no samples, a sample of a case
the run does not list) and analysed as `tuieval run` does (clusters stored). The reference
reads the stored samples back, one dictionary each, and builds every case's entry the direct
way: its templates in order, each template's samples by sample_index, each cluster (numbered
by first appearance) with its size, first member's answer and correctness, members' correct
count and sample indices; the clusters of the largest size listed as tied when there are two
or more of them. The report's figures must equal it.
"""

from __future__ import annotations

import math
from collections import defaultdict

import pytest

from tests.report.test_columnar_analysis import _varied_run
from tuieval.report.build import build
from tuieval.store import Store


def _plain_cases(cases, rows):
    by_case = defaultdict(lambda: defaultdict(list))
    for s in rows:
        by_case[s["case_id"]][s["template"]].append(s)
    multi_template = len({s["template"] for s in rows}) > 1
    order = [c["case_id"] for c in sorted(cases, key=lambda c: c["position"])]
    order += [cid for cid in dict.fromkeys(s["case_id"] for s in rows) if cid not in order]
    out = {}
    for cid in order:
        clusters, tied, n_samples, n_correct, n_valid, n_errors = [], [], 0, 0, 0, 0
        consistency = []
        for template in sorted(by_case[cid], key=lambda t: (t is None, str(t))):
            group = sorted(by_case[cid][template], key=lambda s: s["sample_index"])
            n_samples += len(group)
            n_correct += sum(s["correct"] for s in group)
            n_errors += sum(bool(s["error"]) for s in group)
            valid = [s for s in group if s["answer"] is not None]
            n_valid += len(valid)
            ids = list(dict.fromkeys(s["cluster"] for s in valid))
            assert ids == sorted(ids) == list(range(len(ids)))  # numbered by first appearance
            sizes = [sum(s["cluster"] == k for s in valid) for k in ids]
            if valid:
                consistency.append(max(sizes) / len(valid))
            ties = [i for i, n in enumerate(sizes) if n == max(sizes)] if sizes else []
            for k, size in zip(ids, sizes):
                members = [s for s in valid if s["cluster"] == k]
                entry = {"size": size, "correct": members[0]["correct"], "representative": members[0]["answer"],
                         "n_correct": sum(s["correct"] for s in members),
                         "sample_indices": [s["sample_index"] for s in members]}
                if multi_template:
                    entry["template"] = template
                clusters.append(entry)
            if len(ties) > 1:
                tied += [len(clusters) - len(ids) + i for i in ties]
        out[cid] = {"id": cid, "n_clusters": len(clusters), "clusters": clusters, "tied_clusters": tied,
                    "is_tied": bool(tied), "n_samples": n_samples, "n_valid": n_valid, "n_errors": n_errors,
                    "accuracy": n_correct / n_samples if n_samples else None,
                    "consistency": sum(consistency) / len(consistency) if consistency else None}
    return order, out


@pytest.mark.parametrize("method,pad", [("canonical", True), ("lexical", True), ("lexical", False)])
def test_case_list_equals_the_plain_per_case_rule(tmp_path, method, pad):
    # pad=False: the store reads the samples out of the cases' position order (c1, c10 …), so
    # the analysis sorts them; otherwise they come in its order and are taken as they are
    db = tmp_path / "v.db"
    run_id = _varied_run(db, method, pad)
    with Store(str(db)) as store:
        report = build(store, run_id, persist_clusters=True).report
        order, want = _plain_cases(store.analysis_cases(run_id), store.analysis_samples(run_id))
    assert [c["id"] for c in report["cases"]] == order
    for got in report["cases"]:
        plain = want[got["id"]]
        for key in ("n_clusters", "clusters", "tied_clusters", "is_tied", "n_samples", "n_valid", "n_errors",
                    "accuracy"):
            assert got[key] == plain[key], (got["id"], key)
        if plain["consistency"] is None:
            assert got["consistency"] is None
        else:
            assert math.isclose(got["consistency"], plain["consistency"], rel_tol=1e-12)
        assert got["majority_correct"] is (None if not plain["n_samples"] else got["majority_correct_rate"] >= 0.5)
    listed = [c for c in report["cases"] if c["n_samples"]]
    # the run holds what the rule treats apart: ties, several clusters, an empty case, errors
    assert sum(c["is_tied"] for c in listed) >= 3 and max(c["n_clusters"] for c in listed) >= 4
    assert any(not c["n_samples"] for c in report["cases"]) and sum(c["n_errors"] for c in listed) > 0
