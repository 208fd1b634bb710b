"""analyze_run against the tuieval.report/1 contract and hand calculations."""

from __future__ import annotations

import json
import math

import pytest

from tuieval.analysis.report import analyze_run, cluster_records, cluster_run

METRIC_FIELDS = {
    "n_cases": int, "n_samples": int, "n_errors": int, "accuracy": float, "accuracy_ci": list,
    "majority_accuracy": float, "consistency": float, "semantic_entropy": float, "pass_at_k": dict,
    "pass_hat_k": dict, "error_rate": float, "latency_ms": dict, "ttft_ms": dict,
}
RUN_FIELDS = ("id", "suite", "model", "status", "samples_per_case", "temperature", "started_at", "finished_at",
              "slo_ms")
CASE_FIELDS = {"id": str, "metadata": dict, "accuracy": float, "consistency": float, "n_clusters": int,
               "semantic_entropy": float, "majority_correct": bool, "clusters": list}


def _run(**kw):
    run = {"id": "r1", "suite": "tiny", "model": "demo/test", "status": "complete", "samples_per_case": 3,
           "temperature": 0.7, "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:01:40+00:00",
           "slo_ms": None, "simulated": True, "config": {}}
    run.update(kw)
    return run


def _case(cid, pos, lang, text, target, **meta):
    return {"case_id": cid, "position": pos, "vars": {}, "targets": [target], "metadata": {"lang": lang, **meta},
            "input_text": text}


def _s(cid, i, text, correct, latency, *, template="t", error=None, kind=None, order=0):
    return {"case_id": cid, "template": template, "sample_index": i, "response": text, "extracted": text,
            "correct": int(correct), "score": float(correct), "latency_ms": latency,
            "ttft_ms": None if latency is None or error else latency / 5, "output_tokens": 10, "error": error,
            "error_kind": kind, "dispatch_order": order}


CASES = [
    _case("c1", 0, "en", "What is 2+2?", "4"),
    _case("c2", 1, "en", "What is the capital of France?", "Paris"),
    _case("c3", 2, "de", "Wie heißt der Mann? Er heißt Jürgen.", "Jürgen"),
    _case("c4", 3, "de", "Was ist 3+3?", "6"),
]
SAMPLES = [
    _s("c1", 0, "4", True, 100), _s("c1", 1, "4.0", True, 200), _s("c1", 2, "5", False, 300),
    _s("c2", 0, "Paris", True, 400), _s("c2", 1, "Lyon", False, 500), _s("c2", 2, "paris.", True, 600),
    _s("c3", 0, None, False, 30000, error="timeout", kind="timeout"), _s("c3", 1, "Jürgen", True, 700),
    _s("c3", 2, "Hans", False, 800),
    _s("c4", 0, "6", True, 900), _s("c4", 1, "6", True, 1000), _s("c4", 2, "6", True, 1100),
]


def _check_type(value, typ, where):
    if value is None:
        return
    if typ is float:
        assert isinstance(value, (int, float)) and not isinstance(value, bool), where
    else:
        assert isinstance(value, typ), where


def _check_metrics(m, where):
    for k, typ in METRIC_FIELDS.items():
        assert k in m, f"{where}: {k} missing"
        _check_type(m[k], typ, f"{where}.{k}")
    assert "accuracy_within_slo" in m
    for k in ("p50", "p95", "p99", "max"):
        assert k in m["latency_ms"]
    for k in ("p50", "p95", "p99"):
        assert k in m["ttft_ms"]
    assert len(m["accuracy_ci"]) == 2


def test_contract_fields_and_types():
    rep = analyze_run(_run(), CASES, SAMPLES)
    json.dumps(rep, allow_nan=False)  # strictly JSON-serialisable
    assert rep["schema"] == "tuieval.report/1"
    assert set(RUN_FIELDS) <= set(rep["run"]) and rep["run"]["status"] == "complete"
    _check_metrics(rep["overall"], "overall")
    assert rep["slices"]
    for s in rep["slices"]:
        assert {"key", "value", "flagged", "q_value"} <= set(s)
        assert isinstance(s["flagged"], bool) and (s["q_value"] is None or isinstance(s["q_value"], float))
        _check_metrics(s, f"slice {s['key']}={s['value']}")
    assert [c["id"] for c in rep["cases"]] == ["c1", "c2", "c3", "c4"]
    for c in rep["cases"]:
        for k, typ in CASE_FIELDS.items():
            assert k in c
            _check_type(c[k], typ, f"case {c['id']}.{k}")
        for cl in c["clusters"]:
            assert isinstance(cl["size"], int) and isinstance(cl["correct"], bool)
            assert isinstance(cl["representative"], str)


def test_hand_calculation_fractional_items():
    rep = analyze_run(_run(), CASES, SAMPLES)
    ov = rep["overall"]
    acc = [2 / 3, 2 / 3, 1 / 3, 1.0]
    mean = sum(acc) / 4
    sd = math.sqrt(sum((a - mean) ** 2 for a in acc) / 3)
    half = 1.959964 * sd / 2
    assert ov["accuracy"] == pytest.approx(mean)
    assert ov["accuracy_ci"] == pytest.approx([mean - half, mean + half], abs=1e-6)
    assert ov["accuracy_ci_method"] == "clt"
    assert ov["n_cases"] == 4 and ov["n_samples"] == 12 and ov["n_errors"] == 1
    assert ov["error_rate"] == pytest.approx(1 / 12) and ov["n_valid"] == 11
    assert ov["majority_accuracy"] == 1.0
    assert ov["consistency"] == pytest.approx((2 / 3 + 2 / 3 + 1 / 2 + 1) / 4)
    h3 = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert ov["semantic_entropy"] == pytest.approx((h3 + h3 + math.log(2) + 0) / 4)
    assert ov["pass_at_k"] == pytest.approx({"1": 2 / 3, "2": (1 + 1 + 2 / 3 + 1) / 4, "3": 1.0})
    assert ov["pass_hat_k"] == pytest.approx({"1": 2 / 3, "2": (1 / 3 + 1 / 3 + 0 + 1) / 4, "3": 0.25})
    # nearest-rank over 12 latencies; the timeout is censored and ranks last
    assert ov["latency_ms"]["p50"] == 600 and ov["latency_ms"]["max"] == 30000
    assert "max" in ov["latency_ms"]["censored"] and ov["latency_ms"]["p99_is_max"] is True
    assert ov["ttft_ms"]["p50"] == 120  # 11 measured TTFTs (100..1100)/5 → 6th is 600/5
    assert ov["accuracy_within_slo"] is None
    assert ov["correct_goodput_per_s"] == pytest.approx(8 / 100)  # 8 correct samples in 100 s


def test_cases_clusters_and_ties():
    rep = analyze_run(_run(), CASES, SAMPLES)
    c1, c2, c3, c4 = rep["cases"]
    assert [(cl["size"], cl["correct"], cl["representative"]) for cl in c1["clusters"]] == \
        [(2, True, "4"), (1, False, "5")]
    assert c1["clusters"][0]["sample_indices"] == [0, 1]
    assert c2["n_clusters"] == 2 and c2["consistency"] == pytest.approx(2 / 3)
    assert c3["n_valid"] == 2 and c3["is_tied"] and c3["majority_correct"] is True  # first-appearing wins
    assert c3["semantic_entropy"] == pytest.approx(math.log(2)) and c3["semantic_entropy_normalized"] == 1.0
    assert c4["semantic_entropy"] == 0.0 and c4["consistency"] == 1.0 and c4["n_clusters"] == 1
    assert c1["miller_madow"] == pytest.approx(c1["semantic_entropy"] + 1 / 6)


def test_slices_metadata_and_derived():
    rep = analyze_run(_run(), CASES, SAMPLES)
    by = {(s["key"], s["value"]): s for s in rep["slices"]}
    de = by[("lang", "de")]
    assert de["n_cases"] == 2 and de["accuracy"] == pytest.approx((1 / 3 + 1) / 2) and de["source"] == "metadata"
    for key in ("has_digits", "non_ascii_name"):
        assert any(k == key for k, _ in by), key
    # every case is short and Latin: those levels are the overall line, not slices
    skipped = rep["analysis"]["discovery"]["skipped_columns"]
    for key in ("input_tokens", "script"):
        assert not any(k == key for k, _ in by) and "every case" in skipped[key], key
    assert by[("has_digits", True)]["n_cases"] == 2
    assert by[("non_ascii_name", True)]["n_cases"] == 1  # "Jürgen" mid-sentence
    assert all(s["q_value"] is None and not s["flagged"] for s in rep["slices"])  # n = 4 < n_min
    assert rep["analysis"]["discovery"]["exploratory"] is True


def test_hand_calculation_binary_items_wilson():
    cases = [_case(f"k{i}", i, "en", f"q{i}", "a") for i in range(6)]
    outcomes = [True, True, False, True, None, True]  # None = a failed request
    samples = [_s(f"k{i}", 0, None if o is None else "a", bool(o), 100.0 * (i + 1),
                  error="HTTP 500" if o is None else None) for i, o in enumerate(outcomes)]
    rep = analyze_run(_run(samples_per_case=1, slo_ms=350), cases, samples)
    ov = rep["overall"]
    k, n, z = 4, 6, 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert ov["accuracy"] == pytest.approx(4 / 6)
    assert ov["accuracy_ci"] == pytest.approx([centre - half, centre + half], abs=1e-6)
    assert ov["accuracy_ci_method"] == "wilson"
    assert ov["pass_at_k"] == pytest.approx({"1": 4 / 6}) and ov["consistency"] == 1.0
    assert ov["accuracy_within_slo"] == pytest.approx(2 / 6)  # correct and ≤ 350 ms: k0, k1
    assert rep["cases"][4]["majority_correct"] is False and rep["cases"][4]["consistency"] is None


def test_lexical_method_and_config_default():
    samples = [_s("c2", 0, "Paris", True, 1), _s("c2", 1, "The capital is Paris", True, 2),
               _s("c2", 2, "Lyon", False, 3)]
    canon = analyze_run(_run(), CASES[1:2], samples)
    lex = analyze_run(_run(config={"variance": {"method": "lexical"}}), CASES[1:2], samples)
    assert canon["cases"][0]["n_clusters"] == 3 and lex["cases"][0]["n_clusters"] == 2
    assert lex["analysis"]["clustering"]["method"] == "lexical"


def test_judge_method():
    def judge(q, a, b):
        return "entailment" if ("Paris" in a) == ("Paris" in b) else "contradiction"

    samples = [_s("c2", 0, "Paris", True, 1), _s("c2", 1, "It must be Paris, the city of light", True, 2),
               _s("c2", 2, "Lyon", False, 3)]
    rep = analyze_run(_run(), CASES[1:2], samples, method="entailment", judge=judge)
    assert rep["cases"][0]["n_clusters"] == 2
    assert rep["analysis"]["clustering"]["judge_calls"] == 4
    with pytest.raises(ValueError):
        analyze_run(_run(), CASES[1:2], samples, method="entailment")


def test_templates_partial_runs_and_status():
    samples = []
    for t in ("a", "b"):
        samples += [_s("c1", 0, "4", True, 10, template=t), _s("c1", 1, "4", True, 10, template=t)]
    samples += [_s("c2", 0, "Paris", True, 10, template="a"), _s("c2", 1, "Paris", True, 10, template="a"),
                _s("c2", 0, "Lyon", False, 10, template="b"), _s("c2", 1, "Lyon", False, 10, template="b")]
    rep = analyze_run(_run(status="running"), CASES, samples)
    assert rep["run"]["status"] == "partial"
    ov = rep["overall"]
    assert ov["n_cases"] == 2 and ov["n_cases_pending"] == 2 and ov["n_templates"] == 2
    assert ov["per_template"]["a"]["accuracy"] == 1.0 and ov["per_template"]["b"]["accuracy"] == 0.5
    assert ov["template_flip_rate"]["anchored"] == pytest.approx(0.5)  # c1 stable, c2 flips
    c2 = rep["cases"][1]
    assert {cl["template"] for cl in c2["clusters"]} == {"a", "b"} and c2["majority_correct_rate"] == 0.5
    assert rep["cases"][2]["accuracy"] is None and rep["cases"][2]["n_samples"] == 0


def test_cluster_key_uses_clustered_interval():
    cases = [_case(f"k{i}", i, "en", f"q{i}", "a", passage=f"p{i // 2}") for i in range(12)]
    samples = []
    for i in range(12):
        samples += [_s(f"k{i}", j, "a" if (i + j) % 3 else "b", (i + j) % 3 != 0, 10.0) for j in range(3)]
    rep = analyze_run(_run(config={"cluster_key": "passage"}), cases, samples)
    assert rep["overall"]["accuracy_ci_method"] == "clustered"
    assert rep["overall"]["n_item_clusters"] == 6
    assert all(s["key"] != "passage" for s in rep["slices"])


def test_cluster_run_and_records_agree_with_report():
    res = cluster_run(SAMPLES, "canonical")
    assert set(res) == {("c1", "t"), ("c2", "t"), ("c3", "t"), ("c4", "t")}
    r3 = res[("c3", "t")]
    assert r3.ids == [-1, 0, 1] and r3.sample_indices == [0, 1, 2] and r3.n_valid == 2
    sample_clusters, clusters = cluster_records(SAMPLES, res)
    assert sample_clusters[("c1", "t", 1)] == 0 and sample_clusters[("c1", "t", 2)] == 1
    assert ("c3", "t", 0) not in sample_clusters  # errors have no cluster
    rep = analyze_run(_run(), CASES, SAMPLES)
    for c in rep["cases"]:
        mine = [cl for cl in clusters if cl["case_id"] == c["id"]]
        assert [(m["size"], m["correct"], m["representative"]) for m in mine] == \
            [(cl["size"], cl["correct"], cl["representative"]) for cl in c["clusters"]]
    assert set(clusters[0]) == {"case_id", "template", "cluster", "size", "correct", "representative"}


def test_empty_run():
    rep = analyze_run(_run(status="failed"), CASES, [])
    json.dumps(rep, allow_nan=False)
    assert rep["overall"]["n_cases"] == 0 and rep["overall"]["accuracy"] is None
    assert rep["slices"] == [] and len(rep["cases"]) == 4
