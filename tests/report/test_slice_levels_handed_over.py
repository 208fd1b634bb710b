"""The analysis hands its slice levels over to the stored membership only when they are the
membership's own rule, and what is stored is then what that rule gives from scratch.

The membership rule (`slice_masks`) reads the sampled case rows, the metadata keys they carry,
and drops no column. The analysis reads the keys of every case (an unsampled case's key is a
column too), drops the cluster key, and gives a sample of an unlisted case a bare row: in each
of those runs its levels are not the membership's, and the store must derive the membership
itself. Each run is stored in a real SQLite file and analysed as `tuieval run` does; the
reference is `masks_from_cases` with nothing remembered from the analysis.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

import tuieval.analysis.report as report_mod
from tuieval.report import slice_membership_store as sms
from tuieval.report.build import build
from tuieval.store import Store

TEXTS = ["What is the total?", "Wie viel kostet es, Jürgen?", "Сколько у Дмитрия яблок?", "Yesterday José paid 12."]


def _run(path, variant: str) -> str:
    rng = random.Random(11)
    store = Store(str(path))
    cases = [{"case_id": f"c{i:02d}", "position": i, "vars": {}, "targets": [str(i)],
              "metadata": {"lang": ["en", "de", "ru", "es"][i % 4], "size": i % 13, "tag": ["a", "b"][i % 2]},
              "input_text": TEXTS[i % 4] + " x" * (i % 40)} for i in range(48)]
    if variant == "unsampled_key":
        cases[47]["metadata"]["only_unsampled"] = "x"
    config = {"variance": {"method": "lexical"}}
    if variant == "cluster_key":
        config["cluster_key"] = "tag"
    run_id = store.create_run({"suite": "s", "model": "demo/x", "samples_per_case": 3, "temperature": 0.7,
                               "n_cases": len(cases), "n_templates": 1, "n_expected": 144, "config": config}, cases)
    order = 0
    for i in range(47):  # c47 has no samples
        for k in range(3):
            right = rng.random() < (0.4 if i % 4 == 1 else 0.9)
            row = {"run_id": run_id, "case_id": f"c{i:02d}", "template": "plain", "sample_index": k,
                   "dispatch_order": order, "prompt": "[]", "response": str(i if right else i + 1),
                   "correct": right, "score": float(right), "latency_ms": rng.uniform(100, 900)}
            if rng.random() < 0.05:
                row.update(error="timeout", error_kind="timeout", response=None, correct=False)
            store.add_sample(row)
            order += 1
    if variant == "stray":
        store.add_sample({"run_id": run_id, "case_id": "stray", "template": "plain", "sample_index": 0,
                          "dispatch_order": order, "prompt": "[]", "response": "7", "correct": True, "score": 1.0,
                          "latency_ms": 500.0})
    store.set_status(run_id, "complete")
    store.close()
    return run_id


def _stored_and_fresh(path, run_id):
    with Store(str(path)) as store:
        run = store.get_run(run_id)
        case_ids = sorted({s["case_id"] for s in store.analysis_samples(run_id)})
        stored = sms.load_membership(store, run_id, store.report_fingerprint(run), case_ids)
        cases = store.analysis_cases(run_id)
    report_mod._LAST_LEVELS = None  # nothing remembered from the analysis
    return stored, sms.masks_from_cases(cases, case_ids)


def _assert_same(stored, fresh):
    assert stored is not None and list(stored) == list(fresh)
    for level, mask in fresh.items():
        assert np.array_equal(stored[level], mask), level


def test_the_handed_over_levels_are_stored_as_the_membership_rule_gives_them(tmp_path, monkeypatch):
    db = tmp_path / "r.db"
    run_id = _run(db, "plain")

    def refuse(*a, **k):
        raise AssertionError("the membership was derived again though the analysis held it")

    with monkeypatch.context() as m:
        m.setattr(sms, "masks_from_cases", refuse)
        with Store(str(db)) as store:
            build(store, run_id, persist_clusters=True)
    stored, fresh = _stored_and_fresh(db, run_id)
    _assert_same(stored, fresh)
    # the run has what a membership holds: metadata levels, numeric bins and derived features
    assert ("lang", "de") in stored and ("script", "cyrillic") in stored
    assert any(k == "size" and str(v).startswith("(") for k, v in stored)
    assert int(stored[("lang", "de")].sum()) == len(range(1, 47, 4))


@pytest.mark.parametrize("variant", ["cluster_key", "unsampled_key", "stray"])
def test_levels_that_are_not_the_membership_rule_are_not_handed_over(tmp_path, variant):
    db = tmp_path / "r.db"
    run_id = _run(db, variant)
    with Store(str(db)) as store:
        report = build(store, run_id, persist_clusters=True).report
    stored, fresh = _stored_and_fresh(db, run_id)
    _assert_same(stored, fresh)
    listed = {(s["key"], s["value"]) for s in report["slices"]}
    if variant == "cluster_key":  # the analysis dropped the column, the membership keeps it
        assert ("tag", "a") in stored and not any(k == "tag" for k, _ in listed)
    elif variant == "unsampled_key":  # a column the analysis skipped, absent from the membership
        assert "only_unsampled" in report["analysis"]["discovery"]["skipped_columns"]
    else:  # the stray sample's bare case row is in the analysis's levels, in no stored level
        assert not any(m[-1] for m in stored.values())


def test_masks_over_ids_in_another_order_follow_the_ids():
    cases = [{"case_id": f"c{i}", "position": i, "metadata": {"lang": ["en", "de"][i % 2]},
              "input_text": "Hallo Jürgen" if i % 3 == 0 else "Hello"} for i in range(30)]
    report_mod._LAST_LEVELS = None
    levels = report_mod.slice_levels(cases)
    ids = [f"c{i}" for i in range(29, -1, -1)] + ["missing"]
    masks = levels.masks_over(ids)
    assert [ids[i] for i in np.flatnonzero(masks[("lang", "de")])] == [f"c{i}" for i in range(29, 0, -2)]
    assert not any(m[-1] for m in masks.values())
    same = levels.masks_over([f"c{i}" for i in range(30)])
    assert same[("lang", "en")].tolist() == [i % 2 == 0 for i in range(30)]
