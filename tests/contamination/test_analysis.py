"""The contamination section from hand-made rows: thresholds, flags and the likely set."""

from __future__ import annotations

import pytest

from tuieval.contamination.analysis import contamination_section, likely_ids, with_slice

SETTINGS = {"probes": ["verbatim", "rewrite"], "overlap_n": 3, "quantile": 0.5}
REST = "a b c d e f"        # 3-grams: abc bcd cde def


def _case(cid, probe, of=None, meta=None, target=REST):
    m = {"probe": probe, **(meta or {})}
    if probe in ("verbatim", "control"):
        m["probe_of"] = of
    elif probe == "rewrite":
        m.update(perturbation="rewrite", severity=None, original_case=of)
    return {"case_id": cid, "metadata": m, "targets": [target]}


def _sample(cid, response=None, correct=False, error=None, i=0):
    return {"case_id": cid, "template": "t", "sample_index": i, "response": response, "correct": correct,
            "error": error, "error_kind": None}


def _rows():
    originals = [_case(f"o{i}", "original", meta={"kind": "x" if i < 2 else "y"}) for i in range(4)]
    controls = [_case(f"o{i}~control", "control", f"o{i}") for i in range(4)]
    verbatim = [_case(f"o{i}~verbatim", "verbatim", f"o{i}") for i in range(4)]
    rewrites = [_case(f"o{i}~rewrite", "rewrite", f"o{i}") for i in range(4)]
    samples = [
        # controls: longest runs 0, 1, 2, 3 tokens; 3-gram overlaps 0, 0, 0, 1/4
        _sample("o0~control", "zz"), _sample("o1~control", "a"), _sample("o2~control", "a b"),
        _sample("o3~control", "a b c"),
        # o0: a run of 2 (> 1.5) but no 3-gram (not > 0): not flagged
        _sample("o0~verbatim", "a b"),
        # o1: run 3, overlap 1/4: flagged
        _sample("o1~verbatim", "x b c d y"),
        # o2: the better of two samples counts: run 4, overlap 2/4
        _sample("o2~verbatim", "zz", i=0), _sample("o2~verbatim", "so c d e f", i=1),
        # o3: only a failed request: not measured
        _sample("o3~verbatim", None, error="HTTP 500"),
        # rewrite: o0 right → wrong, the rest unchanged: McNemar p = 1, not evidence
        *[_sample(f"o{i}", "A", correct=True) for i in range(4)],
        _sample("o0~rewrite", "B", correct=False),
        *[_sample(f"o{i}~rewrite", "A", correct=True) for i in range(1, 4)],
    ]
    return originals + controls + verbatim + rewrites, samples


def test_thresholds_are_the_controls_quantiles_and_a_case_must_pass_both():
    cases, samples = _rows()
    section = contamination_section(SETTINGS, cases, samples)
    v = section["verbatim"]
    # np.quantile's linear rule by hand: the middle of the 2nd and 3rd of 4 sorted values
    assert v["threshold"] == {"lcs_tokens": 1.5, "overlap": 0.0}
    assert (v["n_cases"], v["n_controls"], v["n_flagged"]) == (3, 4, 2)
    flagged = {c["case_id"]: c for c in section["cases"]}
    assert set(flagged) == {"o1", "o2"}
    o1 = flagged["o1"]["verbatim"]
    assert (o1["lcs_tokens"], o1["overlap"], o1["span"], o1["span_text"]) == (3, 0.25, [2, 7], "b c d")
    o2 = flagged["o2"]["verbatim"]
    assert (o2["lcs_tokens"], o2["overlap"], o2["span_text"]) == (4, 0.5, "c d e f")
    by = {r["slice"]: (r["k"], r["n"]) for r in v["by_slice"]}
    assert by == {"all": (2, 4), "kind=x": (1, 2), "kind=y": (1, 2)}


def test_a_copy_that_broke_is_no_evidence_unless_the_probe_drop_is_significant():
    cases, samples = _rows()
    section = contamination_section(SETTINGS, cases, samples)
    r = section["rewrite"]
    overall = next(row for row in r["rows"] if row["slice"] == "all")
    assert (overall["flips_correct_to_wrong"], overall["flips_wrong_to_correct"], overall["p_value"]) == (1, 0, 1.0)
    assert r["significant_drop"] is False and r["n_broken"] == 1
    assert "o0" not in likely_ids(section)
    assert section["likely"]["n_flagged"] == 2
    assert section["likely"]["rate"] == 0.5


def test_the_slice_labels_originals_and_their_probe_cases():
    cases, samples = _rows()
    section = contamination_section(SETTINGS, cases, samples)
    rows = [{"case_id": c["case_id"], "metadata": dict(c["metadata"])} for c in cases]
    with_slice(rows, likely_ids(section))
    label = {r["case_id"]: r["metadata"]["contamination"] for r in rows}
    assert label["o1"] == label["o1~verbatim"] == label["o1~control"] == label["o1~rewrite"] == "likely"
    assert label["o0"] == label["o0~rewrite"] == label["o3"] == "unflagged"


def test_without_control_answers_there_is_no_threshold_and_nothing_is_flagged():
    cases, samples = _rows()
    samples = [s for s in samples if not s["case_id"].endswith("~control")]
    v = contamination_section(SETTINGS, cases, samples)["verbatim"]
    assert v["threshold"] is None and v["n_flagged"] == 0 and "no control answers" in v["note"]


@pytest.mark.parametrize("q", [0.9, 0.99])
def test_the_quantile_setting_is_used(q):
    cases, samples = _rows()
    v = contamination_section({**SETTINGS, "quantile": q}, cases, samples)["verbatim"]
    # linear interpolation at position q·(4 − 1) between the 3rd (2) and the 4th (3) value
    assert v["threshold"]["lcs_tokens"] == pytest.approx(2 + (q * 3 - 2))
