"""The slice membership kept with a stored report: written when the report is stored, read
back as one mask per slice level over the run's sampled cases, never read once stale, dropped
when a report is stored without it; and the charts' arrays kept in latency order.

Expected members come from the cases' metadata as written here (by hand), and the derived
levels from the analysis's own rule (`slice_membership`), which this store must reproduce.
"""

from __future__ import annotations

import json
import math
import random
import sqlite3

import numpy as np
import pytest

from tuieval.analysis.report import slice_membership
from tuieval.report import build_report
from tuieval.report.slice_membership_store import load_membership, pack, unpack
from tuieval.report.stored import load_arrays, store_report
from tuieval.store import Store
from tuieval.store import report_parts

LANGS = ("en", "de", "fr")
N_CASES = 45


def _lang(i: int) -> str:
    return LANGS[i % 3]


@pytest.fixture
def run(tmp_path):
    """A finished run of 45 cases (lang en/de/fr, topic a/b), two samples each; the last case
    has no samples (it is not among the run's sampled cases)."""
    db = tmp_path / "m.db"
    rng = random.Random(3)
    cases = [{"case_id": f"k{i:02d}", "position": i, "vars": {}, "targets": ["x"],
              "metadata": {"lang": _lang(i), "topic": "ab"[i % 2]},
              "input_text": f"Question {i}: what is {'Łukasz' if i % 4 == 0 else 'Anna'}'s age?"}
             for i in range(N_CASES)]
    with Store(db) as store:
        run_id = store.create_run({"suite": "m", "model": "demo/steady", "simulated": 1, "samples_per_case": 2,
                                   "temperature": 0.5, "n_cases": N_CASES, "n_templates": 1,
                                   "n_expected": 2 * N_CASES, "config": {}}, cases)
        for i in range(N_CASES - 1):
            for k in range(2):
                lat = None if (i + k) % 7 == 0 else rng.uniform(50, 900)
                store.add_sample({"run_id": run_id, "case_id": f"k{i:02d}", "template": "t", "sample_index": k,
                                  "dispatch_order": 2 * i + k, "prompt": "[]", "response": "x" if (i + k) % 3 else "y",
                                  "extracted": None, "correct": int((i + k) % 3 != 0), "score": 1.0,
                                  "latency_ms": lat, "attempts": 1, "created_at": "2026-01-01T00:00:00+00:00"})
        store.set_status(run_id, "complete")
        build_report(store, run_id, persist_clusters=True)
    return db, run_id, cases


def _stored(db, run_id):
    with Store(db) as store:
        fingerprint = store.report_fingerprint(store.get_run(run_id))
        arrays = load_arrays(store, run_id, fingerprint)
        return arrays, load_membership(store, run_id, fingerprint, arrays.case_ids)


def test_the_membership_stored_with_the_report_names_each_slices_cases(run):
    db, run_id, cases = run
    arrays, masks = _stored(db, run_id)
    sampled = [f"k{i:02d}" for i in range(N_CASES - 1)]
    assert arrays.case_ids == sampled
    assert masks is not None
    members = {level: {arrays.case_ids[i] for i in np.flatnonzero(m)} for level, m in masks.items()}
    for lang in LANGS:  # by hand, from the metadata written above
        assert members[("lang", lang)] == {f"k{i:02d}" for i in range(N_CASES - 1) if _lang(i) == lang}
    assert members[("topic", "a")] == {f"k{i:02d}" for i in range(0, N_CASES - 1, 2)}
    # every level, derived ones too, as the analysis's rule says
    with Store(db) as store:
        rule = slice_membership(store.analysis_cases(run_id), set(sampled))
    assert members == rule
    # the report's slices are all there
    with Store(db) as store:
        report = build_report(store, run_id)
    for sl in report["slices"]:
        assert (sl["key"], sl["value"]) in masks and int(masks[(sl["key"], sl["value"])].sum()) == sl["n_cases"]


def test_a_stale_membership_is_never_read_and_a_report_stored_without_one_drops_it(run):
    db, run_id, _ = run
    arrays, _ = _stored(db, run_id)
    with Store(db) as store:
        fingerprint = store.report_fingerprint(store.get_run(run_id))
        assert load_membership(store, run_id, fingerprint + "x", arrays.case_ids) is None
        assert load_membership(store, run_id, fingerprint, arrays.case_ids[:-1]) is None  # other cases
        report = build_report(store, run_id)
        store_report(store, run_id, fingerprint, report, None)  # no rows, no cases: no membership
        assert store.conn.execute("SELECT COUNT(*) FROM report_slices WHERE run_id = ?", (run_id,)).fetchone()[0] == 0
        assert load_membership(store, run_id, fingerprint, arrays.case_ids) is None


def test_packed_masks_read_back_with_their_values_types():
    rng = np.random.default_rng(5)
    n = 1003  # not a multiple of 8
    masks = {("lang", "de"): rng.random(n) < 0.3, ("has_digits", True): rng.random(n) < 0.5,
             ("has_digits", False): rng.random(n) < 0.5, ("n_words", 3): rng.random(n) < 0.1,
             ("ratio", 0.25): np.zeros(n, dtype=bool), ("tags", json.dumps(["a", "b"])): np.ones(n, dtype=bool),
             ("missing", None): rng.random(n) < 0.9}
    levels, bits = pack(masks)
    assert len(bits) == len(masks) * math.ceil(n / 8)
    back = unpack(n, levels, bits)
    assert list(back) == list(masks)
    assert [type(v) for _, v in back] == [type(v) for _, v in masks]  # True stays a bool, 3 an int
    for level, m in masks.items():
        assert back[level].dtype == bool and back[level].tolist() == m.tolist()
    assert unpack(0, *pack({})) == {}


def test_arrays_stored_in_the_older_order_are_read_back_by_latency(run):
    db, run_id, _ = run
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT case_id, latency_ms, correct, error FROM samples WHERE run_id = ? "
                            "ORDER BY case_id, template, sample_index", (run_id,)).fetchall()
    ids = sorted({r[0] for r in rows})
    lat = np.array([np.nan if r[1] is None else r[1] for r in rows])
    older = {"n": len(rows), "case_ids": json.dumps(ids), "sample_case": np.array([ids.index(r[0]) for r in rows], "<i4").tobytes(),
             "latency": lat.astype("<f8").tobytes(), "correct": np.array([r[2] for r in rows], np.uint8).tobytes(),
             "error": np.zeros(len(rows), np.uint8).tobytes()}
    with Store(db) as store:
        fingerprint = store.report_fingerprint(store.get_run(run_id))
        head = report_parts.read_head(store, run_id, fingerprint)[0]
        report_parts.write_report(store, run_id, fingerprint, head, None, older)  # as the code before stored them
        arrays = load_arrays(store, run_id, fingerprint)
    got = arrays.latency
    known = got[~np.isnan(got)]
    assert known.tolist() == sorted(r[1] for r in rows if r[1] is not None)  # ascending, by hand
    assert np.isnan(got[known.size:]).all() and known.size == sum(r[1] is not None for r in rows)
    # the same samples: (case, latency, correct) as a multiset
    def key(c, v, ok):
        return (c, -1.0 if v is None or (isinstance(v, float) and math.isnan(v)) else v, bool(ok))
    assert sorted(key(arrays.case_ids[c], v, ok) for c, v, ok in
                  zip(arrays.sample_case.tolist(), got.tolist(), arrays.correct.tolist())) == \
        sorted(key(r[0], r[1], r[2]) for r in rows)
