"""compare_runs (tuieval.compare/1) against hand calculations, and comparison_to_markdown."""

from __future__ import annotations

import itertools
import json
import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuieval.analysis.compare import (SCHEMA, _rng, compare_runs, paired_bootstrap_ci,
                                      sign_flip_p)
from tuieval.analysis.stats import mcnemar_exact, paired_bootstrap, sign_flip_test
from tuieval.report.formats import comparison_to_markdown

CONTRACT_SLICE = {"key", "value", "n_cases", "baseline_accuracy", "candidate_accuracy", "delta", "delta_ci",
                  "p_value", "q_value", "significant"}


def _rows(run_id, outcomes, metadata=None, *, suite="tiny", model="demo/x", simulated=True, texts=None,
          errors=None):
    """(run, cases, samples): outcomes[i] is case i's list of 0/1 sample results (or one 0/1)."""
    outcomes = [o if isinstance(o, (list, tuple)) else [o] for o in outcomes]
    k = max((len(o) for o in outcomes), default=1)
    run = {"id": run_id, "suite": suite, "model": model, "simulated": simulated, "samples_per_case": k,
           "status": "complete", "temperature": 0.0, "started_at": "2026-01-01T00:00:00+00:00"}
    cases, samples = [], []
    for i, res in enumerate(outcomes):
        cid = f"c{i:04d}"
        cases.append({"case_id": cid, "position": i, "metadata": (metadata[i] if metadata else {}),
                      "input_text": texts[i] if texts else "What is the answer?", "vars": {}, "targets": []})
        for j, r in enumerate(res):
            err = errors.get((i, j)) if errors else None
            samples.append({"case_id": cid, "template": "t", "sample_index": j, "correct": bool(r), "error": err})
    return run, cases, samples


def _lang(n, langs=("en", "de", "fr", "ja")):
    return [{"lang": langs[i % len(langs)]} for i in range(n)]


# ---------------------------------------------------------------------------------------------
# McNemar through compare_runs
# ---------------------------------------------------------------------------------------------

def test_mcnemar_check_values_through_compare_runs():
    # 10 cases baseline right / candidate wrong, 2 the other way, 50 concordant
    base = [1] * 10 + [0] * 2 + [1] * 30 + [0] * 20
    cand = [0] * 10 + [1] * 2 + [1] * 30 + [0] * 20
    out = compare_runs(_rows("A", base), _rows("B", cand), B=2000)
    o = out["overall"]
    assert out["schema"] == SCHEMA and out["test"] == "mcnemar"
    assert (o["b"], o["c"]) == (10, 2)
    assert o["p_value"] == pytest.approx(0.03857, abs=5e-6)
    assert o["p_mid"] == pytest.approx(0.02246, abs=5e-6)
    assert o["baseline_accuracy"] == pytest.approx(40 / 62)
    assert o["candidate_accuracy"] == pytest.approx(32 / 62)
    assert o["delta"] == pytest.approx(-8 / 62)
    lo, hi = o["delta_ci"]
    assert lo < -8 / 62 < hi < 0
    assert o["significant"] is True
    # the symmetric table gives the same p
    swapped = compare_runs(_rows("B", cand), _rows("A", base), B=2000)["overall"]
    assert swapped["p_value"] == o["p_value"] and (swapped["b"], swapped["c"]) == (2, 10)


def _planted(n=200):
    """lang=de loses 25 of its 50 cases, lang=fr loses 12 of 50; 'en' and 'ja' are unchanged."""
    meta = _lang(n)
    base = [0 if i % 10 == 9 else 1 for i in range(n)]  # 90% correct everywhere
    cand = list(base)
    lost = {"de": 25, "fr": 12}
    for lang, k in lost.items():
        idx = [i for i in range(n) if meta[i]["lang"] == lang and base[i] == 1][:k]
        for i in idx:
            cand[i] = 0
    return meta, base, cand


def test_planted_regression_is_found_and_listed_first():
    meta, base, cand = _planted()
    out = compare_runs(_rows("A", base, meta), _rows("B", cand, meta), B=4000)
    regs = out["regressions"]
    assert [(r["key"], r["value"]) for r in regs] == [("lang", "de"), ("lang", "fr")]  # worst first
    de, fr = regs
    assert de["delta"] == pytest.approx(-25 / 50) and fr["delta"] == pytest.approx(-12 / 50)
    # McNemar on the slice: b = 25, c = 0 → p = 2 / 2^25
    assert de["p_value"] == pytest.approx(2 / 2 ** 25)
    assert fr["p_value"] == pytest.approx(2 / 2 ** 12)
    for r in regs:
        assert CONTRACT_SLICE <= set(r)
        assert r["significant"] and r["q_value"] < 0.05 and r["delta_ci"][1] < 0
    by = {(s["key"], s["value"]): s for s in out["slices"]}
    assert by[("lang", "en")]["delta"] == 0 and by[("lang", "en")]["p_value"] == 1.0
    assert not by[("lang", "en")]["significant"] and not by[("lang", "ja")]["significant"]
    assert out["improvements"] == []
    # the Markdown lists the regressions before the table of all slices, worst first
    md = comparison_to_markdown(out)
    assert md.index("## Regressions") < md.index("## All slices")
    reg_part = md[md.index("## Regressions"): md.index("## All slices")]
    assert reg_part.index("lang=de") < reg_part.index("lang=fr")
    assert "lang=en" not in reg_part


def test_identical_runs_give_zero_delta_p_one_and_no_regressions():
    meta = _lang(120)
    for outcomes in ([i % 3 != 0 for i in range(120)],
                     [[int(i % 3 != 0), int(i % 5 != 0), 1] for i in range(120)]):
        outcomes = [list(map(int, o)) if isinstance(o, list) else int(o) for o in outcomes]
        out = compare_runs(_rows("A", outcomes, meta), _rows("B", outcomes, meta), B=1000)
        o = out["overall"]
        assert o["delta"] == 0.0 and o["p_value"] == 1.0 and o["delta_ci"] == [0.0, 0.0]
        assert o["significant"] is False
        assert out["regressions"] == [] and out["improvements"] == []
        assert out["slices"]
        for s in out["slices"]:
            assert s["delta"] == 0.0 and s["p_value"] == 1.0 and s["q_value"] == 1.0
            assert not s["significant"]
    assert compare_runs(_rows("A", [1, 0]), _rows("B", [1, 0]))["test"] == "mcnemar"


def _bh_reference(p):
    """Benjamini–Hochberg adjusted p-values from the definition, one by one."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    rank = {i: r + 1 for r, i in enumerate(order)}
    return [min(min(1.0, m * p[j] / rank[j]) for j in range(m) if rank[j] >= rank[i]) for i in range(m)]


def test_bh_q_values_match_an_independent_calculation_with_untested_slices_as_p_one():
    n = 240
    rng = np.random.default_rng(3)
    meta = [{"lang": ["en", "de", "fr"][i % 3], "topic": f"t{i % 6}",
             "rare": "yes" if i < 8 else "no"} for i in range(n)]
    base = (rng.random(n) < 0.8).astype(int).tolist()
    cand = [b if (rng.random() < 0.85 or meta[i]["lang"] != "de") else 0 for i, b in enumerate(base)]
    out = compare_runs(_rows("A", base, meta), _rows("B", cand, meta), B=2000)
    assert out["n_min"] == 20
    untested = {(s["key"], s["value"]) for s in out["untested_slices"]}
    assert untested == {("rare", "yes")}
    assert ("rare", "no") in {(s["key"], s["value"]) for s in out["slices"]}
    assert out["m"] == len(out["slices"]) + len(out["untested_slices"])
    p = [s["p_value"] for s in out["slices"]] + [1.0] * len(out["untested_slices"])
    ref = _bh_reference(p)
    for s, q in zip(out["slices"], ref):
        assert s["q_value"] == pytest.approx(q, rel=1e-12)
    for s in out["untested_slices"]:
        assert s["p_value"] is None and s["q_value"] is None and s["delta_ci"] is None
        assert s["significant"] is False and s["n_cases"] == 8
    # significant exactly when q < alpha and the CI excludes 0
    for s in out["slices"]:
        lo, hi = s["delta_ci"]
        assert s["significant"] == (s["q_value"] < 0.05 and (lo > 0 or hi < 0))
    assert _bh_reference([0.01, 0.04, 0.03, 0.20, 0.005]) == pytest.approx([0.025, 0.05, 0.05, 0.20, 0.025])


def test_derived_slices_are_compared_and_full_coverage_levels_are_not_repeated():
    texts = ["Who met José in the park yesterday?" if i % 4 == 0 else "Who wrote this short note?"
             for i in range(100)]
    base = [1] * 100
    cand = [0 if i % 4 == 0 else 1 for i in range(100)]
    out = compare_runs(_rows("A", base, texts=texts), _rows("B", cand, texts=texts), B=2000)
    by = {(s["key"], s["value"]): s for s in out["slices"]}
    assert by[("non_ascii_name", True)]["delta"] == -1.0
    assert by[("non_ascii_name", True)]["source"] == "derived"
    assert out["regressions"][0]["key"] == "non_ascii_name" and out["regressions"][0]["value"] is True
    # every input is short latin text: those levels would only repeat the overall line
    assert ("input_tokens", "short") not in by and ("script", "latin") not in by
    assert "script" in out["skipped_columns"] and "input_tokens" in out["skipped_columns"]


def test_a_derived_slice_with_the_same_cases_as_a_metadata_slice_is_one_row_and_one_test():
    texts = ["Who met José in the park yesterday?" if i % 4 == 0 else "Who wrote this short note?"
             for i in range(100)]
    meta = [{"name_origin": "non_english" if i % 4 == 0 else "english"} for i in range(100)]
    base = [1] * 100
    cand = [0 if i % 4 == 0 else 1 for i in range(100)]
    out = compare_runs(_rows("A", base, meta, texts=texts), _rows("B", cand, meta, texts=texts), B=2000)
    names = [(s["key"], s["value"]) for s in out["slices"] + out["untested_slices"]]
    assert names.count(("name_origin", "non_english")) == 1
    assert ("non_ascii_name", True) not in names and ("non_ascii_name", False) not in names
    by = {(s["key"], s["value"]): s for s in out["slices"]}
    assert by[("name_origin", "non_english")]["aliases"] == ["non_ascii_name=True"]
    assert by[("name_origin", "english")]["aliases"] == ["non_ascii_name=False"]
    # two distinct sets of cases: a BH family of two, one regression
    assert out["m"] == 2
    assert [(r["key"], r["value"]) for r in out["regressions"]] == [("name_origin", "non_english")]


def test_a_frequent_value_of_an_identifier_like_metadata_column_is_still_tested():
    # 400 cases, 101 authors: one author wrote 40 of them, the others 3 or 4 each
    n = 400
    meta = [{"author": "alice" if i < 40 else f"a{i % 100}"} for i in range(n)]
    base = [1] * n
    cand = [0 if (i < 40 and i % 2 == 0) else 1 for i in range(n)]
    out = compare_runs(_rows("A", base, meta), _rows("B", cand, meta), B=2000)
    by = {(s["key"], s["value"]): s for s in out["slices"]}
    assert ("author", "alice") in by and by[("author", "alice")]["n_cases"] == 40
    assert by[("author", "alice")]["delta"] == pytest.approx(-0.5)
    assert [(r["key"], r["value"]) for r in out["regressions"]] == [("author", "alice")]
    assert "identifier" in out["skipped_columns"]["author"] and "n_min = 20" in out["skipped_columns"]["author"]
    assert not any(s["key"] == "author" for s in out["untested_slices"])


def test_an_untested_slice_says_why_and_the_minimum():
    meta = [{"lang": "de" if i < 8 else "en"} for i in range(100)]
    out = compare_runs(_rows("A", [1] * 100, meta), _rows("B", [1] * 92 + [0] * 8, meta), B=500)
    (u,) = out["untested_slices"]
    assert (u["key"], u["value"], u["n_cases"], u["n_min"]) == ("lang", "de", 8, 20)
    assert u["note"] == "not tested: 8 paired cases < n_min = 20" and u["mde"] is None


def _mde_by_hand(n, s2, alpha, k=1):
    # fixed-point solution of δ√n = z_a√s2 + z_b√(s2 − δ²) + 1/(k√n), s2 = max(s2_obs, δ/k)
    za, zb = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(0.8)
    d = 0.5
    for _ in range(2000):
        v = max(s2, d / k)
        d = (za * math.sqrt(v) + zb * math.sqrt(max(0.0, v - d * d)) + 1 / (k * math.sqrt(n))) / math.sqrt(n)
    return d


def test_mde_of_the_overall_line_and_of_slices_from_the_observed_discordance():
    # 200 cases; 40 discordant (25 baseline-better, 15 candidate-better); lang splits 120 / 80
    base = [1] * 25 + [0] * 15 + [1] * 100 + [0] * 60
    cand = [0] * 25 + [1] * 15 + [1] * 100 + [0] * 60
    meta = [{"lang": "en" if i % 5 < 3 else "de"} for i in range(200)]
    out = compare_runs(_rows("A", base, meta), _rows("B", cand, meta), B=2000)
    o = out["overall"]
    assert (o["b"], o["c"]) == (25, 15) and not o["significant"]
    assert o["mde"] == pytest.approx(_mde_by_hand(200, 40 / 200, 0.05), abs=1e-6)
    assert o["mde"] == pytest.approx(0.0930, abs=5e-4)  # docs/statistics.md §4.4 worked example
    assert out["mde_alpha"] == {"overall": 0.05, "slices": 0.05 / 2} and out["power"] == 0.8
    for s in out["slices"]:
        disc = [i for i in range(200) if base[i] != cand[i] and meta[i]["lang"] == s["value"]]
        assert s["mde"] == pytest.approx(_mde_by_hand(s["n_cases"], len(disc) / s["n_cases"], 0.05 / 2), abs=1e-6)
        assert s["mde"] > o["mde"]  # fewer cases and a stricter level: only a larger change is visible


def test_mde_with_several_samples_per_case_uses_the_second_moment_of_the_differences():
    rng = np.random.default_rng(5)
    a = (rng.random((150, 3)) < 0.8).astype(int).tolist()
    b = (rng.random((150, 3)) < 0.8).astype(int).tolist()
    out = compare_runs(_rows("A", a), _rows("B", b), B=2000)
    d = np.array([sum(y) / 3 - sum(x) / 3 for x, y in zip(a, b)])
    assert out["test"] == "sign_flip"
    assert out["overall"]["mde"] == pytest.approx(_mde_by_hand(150, float(np.mean(d * d)), 0.05, k=3), abs=1e-6)


def test_two_cases_can_detect_nothing():
    out = compare_runs(_rows("A", [1, 1]), _rows("B", [0, 0]), B=200)
    assert out["overall"]["mde"] is None


# ---------------------------------------------------------------------------------------------
# Several samples per case: per-case means, sign-flip test
# ---------------------------------------------------------------------------------------------

def test_per_case_means_with_errors_counted_wrong_and_sign_flip_test():
    base = [[1, 1, 1], [1, 0, 1], [0, 0, 0], [1, 1, 0]]
    cand = [[1, 1, 0], [1, 1, 1], [0, 0, 1], [1, 1, 1]]
    # an errored sample marked correct must still count as wrong
    out = compare_runs(_rows("A", base), _rows("B", cand, errors={(3, 2): "timeout"}), B=2000, n_min=1)
    o = out["overall"]
    assert out["test"] == "sign_flip"
    s_a = np.array([3, 2, 0, 2]) / 3
    s_b = np.array([2, 3, 1, 2]) / 3
    assert o["baseline_accuracy"] == pytest.approx(s_a.mean())
    assert o["candidate_accuracy"] == pytest.approx(s_b.mean())
    assert o["delta"] == pytest.approx((s_b - s_a).mean())
    assert (o["b"], o["c"]) == (1, 2)
    # exact sign-flip p over all 2^3 sign patterns of the non-zero differences
    d = np.array([-1, 1, 1]) / 3
    pats = np.array(list(itertools.product([-1, 1], repeat=3)))
    exact = float((np.abs((pats * d).sum(axis=1)) >= abs(d.sum()) - 1e-12).mean())
    assert exact == 1.0 and o["p_value"] == 1.0


def test_sign_flip_matches_enumeration_and_the_index_based_test():
    d = np.array([2, 1, 3, 1, 2, 3, 3, 1, -1, 2, 0, 3], dtype=float) / 3
    pats = np.array(list(itertools.product([-1, 1], repeat=d.size)))
    exact = float((np.abs((pats * d).sum(axis=1)) >= abs(d.sum()) - 1e-12).mean())
    fast = sign_flip_p(d, 40_000, _rng(0, "t"))
    slow = sign_flip_test(d, B=40_000, rng=np.random.default_rng(1))
    se = math.sqrt(exact * (1 - exact) / 40_000)
    assert abs(fast - exact) < 5 * se + 1e-4
    assert abs(slow - exact) < 5 * se + 1e-4


def test_bootstrap_fast_path_matches_the_index_bootstrap():
    rng = np.random.default_rng(7)
    a = (rng.random(400) < 0.7).astype(float)
    b = (rng.random(400) < 0.6).astype(float)
    lo, hi = paired_bootstrap_ci(b - a, 20_000, _rng(0, "x"), 0.05)
    ref = paired_bootstrap(b, a, B=20_000, rng=np.random.default_rng(1))["ci"]
    assert lo == pytest.approx(ref[0], abs=0.008) and hi == pytest.approx(ref[1], abs=0.008)
    # many distinct differences: the index bootstrap itself is used
    d = rng.normal(0.1, 0.2, 500)
    lo2, hi2 = paired_bootstrap_ci(d, 5000, _rng(0, "y"), 0.05)
    assert lo2 < d.mean() < hi2
    assert paired_bootstrap_ci(np.zeros(10), 100, _rng(0, "z"), 0.05) == (0.0, 0.0)


# ---------------------------------------------------------------------------------------------
# Symmetry, determinism, pairing, errors
# ---------------------------------------------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.integers(1, 60), st.integers(0, 2 ** 31 - 1))
def test_swapping_baseline_and_candidate_negates_delta_and_ci(k, n, seed):
    rng = np.random.default_rng(seed)
    meta = [{"lang": ["en", "de", "fr"][int(x)]} for x in rng.integers(0, 3, n)]
    a = (rng.random((n, k)) < rng.random()).astype(int).tolist()
    b = (rng.random((n, k)) < rng.random()).astype(int).tolist()
    ab = compare_runs(_rows("A", a, meta), _rows("B", b, meta), B=300, n_min=3, rng_seed=seed % 100)
    ba = compare_runs(_rows("B", b, meta), _rows("A", a, meta), B=300, n_min=3, rng_seed=seed % 100)
    for x, y in [(ab["overall"], ba["overall"])] + list(zip(ab["slices"], ba["slices"])):
        assert x.get("key") == y.get("key") and x.get("value") == y.get("value")
        assert x["delta"] == -y["delta"]
        assert x["delta_ci"] == [-y["delta_ci"][1], -y["delta_ci"][0]]
        assert x["p_value"] == y["p_value"]
        assert x.get("q_value") == y.get("q_value")
        assert (x["b"], x["c"]) == (y["c"], y["b"])
    # what regressed one way improved the other way, in the same order
    assert [(s["key"], s["value"]) for s in ab["regressions"]] == [(s["key"], s["value"]) for s in ba["improvements"]]
    assert [(s["key"], s["value"]) for s in ab["improvements"]] == [(s["key"], s["value"]) for s in ba["regressions"]]


def test_deterministic_given_seed():
    meta, base, cand = _planted()
    cand3 = [[c, c, 1] for c in cand]
    base3 = [[b, 1, b] for b in base]
    one = compare_runs(_rows("A", base3, meta), _rows("B", cand3, meta), B=1500, rng_seed=5)
    two = compare_runs(_rows("A", base3, meta), _rows("B", cand3, meta), B=1500, rng_seed=5)
    assert json.dumps(one, sort_keys=True) == json.dumps(two, sort_keys=True)
    other = compare_runs(_rows("A", base3, meta), _rows("B", cand3, meta), B=1500, rng_seed=6)
    assert other["overall"]["delta"] == one["overall"]["delta"]
    # a slice's numbers do not depend on which other slices exist
    meta2 = [dict(m, extra="x" if i % 2 else "y") for i, m in enumerate(meta)]
    three = compare_runs(_rows("A", base3, meta2), _rows("B", cand3, meta2), B=1500, rng_seed=5)
    by1 = {(s["key"], s["value"]): s for s in one["slices"]}
    for s in three["slices"]:
        if (s["key"], s["value"]) in by1:
            assert s["delta_ci"] == by1[(s["key"], s["value"])]["delta_ci"]
            assert s["p_value"] == by1[(s["key"], s["value"])]["p_value"]


def test_pairing_on_case_id_counts_unpaired_cases():
    a_run, a_cases, a_samples = _rows("A", [1, 1, 0, 1, 1])
    b_run, b_cases, b_samples = _rows("B", [1, 0, 0, 1, 1])
    # baseline has an extra case; the candidate has a case of its own; one case has no candidate samples
    a_cases.append({"case_id": "only_a", "position": 9, "metadata": {}, "input_text": "x"})
    a_samples.append({"case_id": "only_a", "template": "t", "sample_index": 0, "correct": True, "error": None})
    b_cases.append({"case_id": "only_b", "position": 9, "metadata": {}, "input_text": "x"})
    b_samples = [s for s in b_samples if s["case_id"] != "c0004"]
    b_run["status"] = "partial"
    out = compare_runs((a_run, a_cases, a_samples), (b_run, b_cases, b_samples), B=500)
    assert out["n_cases"] == 4 and out["overall"]["n_cases"] == 4
    assert out["unpaired"] == {"only_in_baseline": 1, "only_in_candidate": 1, "no_samples": 1}
    assert out["unpaired_cases"] == 3
    assert out["overall"]["delta"] == pytest.approx(-1 / 4)
    assert any("3 case(s)" in w for w in out["warnings"])
    assert any("candidate run is partial" in w for w in out["warnings"])


def test_runs_that_cannot_be_paired_are_errors():
    with pytest.raises(ValueError, match="different suites"):
        compare_runs(_rows("A", [1], suite="qa"), _rows("B", [1], suite="extraction"))
    a = _rows("A", [1, 0])
    b_run, b_cases, b_samples = _rows("B", [1, 0])
    for s in b_samples:
        s["case_id"] = "other-" + s["case_id"]
    with pytest.raises(ValueError, match="share no case"):
        compare_runs(a, (b_run, b_cases, b_samples))


def test_output_is_strict_json_with_the_contract_fields():
    meta, base, cand = _planted()
    out = compare_runs(_rows("A", base, meta), _rows("B", cand, meta), B=500)
    json.dumps(out, allow_nan=False)
    assert set(out) >= {"schema", "baseline", "candidate", "overall", "slices", "regressions"}
    assert set(out["baseline"]) >= {"id", "suite", "model", "simulated", "samples_per_case"}
    assert set(out["overall"]) >= {"baseline_accuracy", "candidate_accuracy", "delta", "delta_ci", "p_value"}
    for s in out["slices"] + out["regressions"]:
        assert CONTRACT_SLICE <= set(s)
        assert isinstance(s["significant"], bool)
        assert len(s["delta_ci"]) == 2 and s["delta_ci"][0] <= s["delta"] <= s["delta_ci"][1]


def test_ten_thousand_cases_with_one_and_five_samples():
    # Speed is measured in benchmarks/bench_compare.py, not asserted here: this checks that
    # the large case runs through both tests and every slice.
    rng = np.random.default_rng(0)
    n = 10_000
    meta = [{"lang": ["en", "de", "fr", "es", "ja"][i % 5], "topic": f"t{i % 17}", "level": i % 3}
            for i in range(n)]
    a = (rng.random(n) < 0.8).astype(int).tolist()
    b = (rng.random(n) < 0.78).astype(int).tolist()
    out = compare_runs(_rows("A", a, meta), _rows("B", b, meta), B=2000)
    a5 = (rng.random((n, 5)) < 0.8).astype(int).tolist()
    b5 = (rng.random((n, 5)) < 0.78).astype(int).tolist()
    out5 = compare_runs(_rows("A", a5, meta), _rows("B", b5, meta), B=2000)
    assert out["test"] == "mcnemar" and out5["test"] == "sign_flip"
    # 5 + 17 + 3 metadata levels (derived features are one value for every case)
    assert len(out["slices"]) == len(out5["slices"]) == 25
    assert out["m"] == out5["m"] == 25


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

def test_markdown_marks_simulated_models_and_strips_control_characters():
    meta, base, cand = _planted()
    meta = [dict(m, lang=m["lang"] + ("\x1b[31m|\x1b]52;c;AAAA\x07" if m["lang"] == "de" else "")) for m in meta]
    a = _rows("run\x1b[2J-A", base, meta, model="demo/steady")
    b = _rows("run-B\x9b31m", cand, meta, model="openai/gpt\x00-\x07x\x85", simulated=False)
    out = compare_runs(a, b, B=1000)
    md = comparison_to_markdown(out)
    assert "demo/steady (simulated)" in md
    assert "openai/gpt-x" in md and "gpt-x (simulated)" not in md
    for bad in ("\x1b", "\x9b", "\x07", "\x00", "\x85", "52;c;"):
        assert bad not in md
    assert "lang=de\\|" in md  # a pipe in the data cannot break the table
    assert "## Regressions (2, worst first)" in md
    first = md.splitlines()[0]
    assert first == "# Comparison · tiny"
    overall = next(line for line in md.splitlines() if line.startswith("**Overall**"))
    assert "200 paired cases" in overall and "p < 0.0001" in overall and "CI" in overall and "Δ" in overall
    assert "p = <" not in md  # the relation is part of the figure, said once


def test_markdown_without_regressions_says_so_and_lists_untested_slices():
    meta = [{"lang": "en" if i < 190 else "rare"} for i in range(200)]
    out = compare_runs(_rows("A", [1] * 200, meta), _rows("B", [1] * 200, meta), B=500)
    md = comparison_to_markdown(out)
    assert "No slice regressed significantly" in md
    assert "Not tested" in md and "lang=rare (n=10" in md


def test_markdown_names_aliases_and_says_what_each_test_could_have_seen():
    texts = ["Who met José in the park yesterday?" if i % 4 == 0 else "Who wrote this short note?"
             for i in range(100)]
    meta = [{"name_origin": "non_english" if i % 4 == 0 else "english"} for i in range(100)]
    # 3 of the 25 non-English cases flip: a real change, too small for 25 cases to show
    cand = [0 if i in (0, 4, 8) else 1 for i in range(100)]
    out = compare_runs(_rows("A", [1] * 100, meta, texts=texts), _rows("B", cand, meta, texts=texts), B=2000)
    assert not out["overall"]["significant"] and not out["regressions"]
    md = comparison_to_markdown(out)
    assert "name_origin=non_english (also non_ascii_name=True)" in md
    mde_slice = {s["value"]: s["mde"] for s in out["slices"]}["non_english"]
    assert f"MDE {100 * mde_slice:.0f} pts" in md
    assert f"smallest change this comparison detects with 80% power: {100 * out['overall']['mde']:.0f} pts" in md


def test_markdown_when_too_few_cases_to_detect_anything():
    md = comparison_to_markdown(compare_runs(_rows("A", [1, 1]), _rows("B", [0, 0]), B=200))
    assert "too few cases to detect any change" in md
