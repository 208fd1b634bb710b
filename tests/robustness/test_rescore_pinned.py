"""`rescore` results pinned on a small stored run, every figure worked out by hand below.

Written before the rescore speed work: the same answer repeats across cases with different
targets (a reading shared across cases must still be judged against each case's own target), a
case has an error sample, and there are three samples per case (case means, not sample counts).
"""

from __future__ import annotations

import math

import pytest

from tuieval.report.rescore import rescore
from tuieval.store import Store

Z = 1.959963984540054

# case → (target, kind, its three responses; None = an error sample)
RUN = {
    "c1": ("29", "money", ["Answer: $29.00", "Answer: 29", "The total is 29.00."]),
    "c2": ("30", "money", ["Answer: 29", "Answer: 30", "Answer: $29.00"]),
    "c3": ("1000", "plain", ["So it is 1,000.", None, "\\boxed{1000}"]),
    "c4": ("7", "plain", ["I think 7 or 8", "I think 7 or 8", "Answer: 7"]),
}
EXTRACTORS = ["strict", "last_number", "number", "boxed"]


def wilson(k, n):
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return [0.0 if k == 0 else centre - half, 1.0 if k == n else centre + half]


@pytest.fixture()
def out(tmp_path):
    with Store(tmp_path / "r.db") as st:
        run_id = st.create_run(
            {"suite": "arith", "model": "openai/m", "samples_per_case": 3, "temperature": 0.7, "n_cases": 4,
             "n_templates": 1, "n_expected": 12, "config": {"scorers": ["regex"]}},
            [{"case_id": c, "position": i, "vars": {}, "targets": [t], "metadata": {"kind": kind}, "input_text": c}
             for i, (c, (t, kind, _)) in enumerate(RUN.items())])
        order = 0
        for c, (target, _, responses) in RUN.items():
            for k, response in enumerate(responses):
                # the suite's own scorer: right only on exactly "Answer: <target>"
                said = response[len("Answer: "):] if response and response.startswith("Answer: ") else None
                ok = response == f"Answer: {target}"
                st.add_sample({"run_id": run_id, "case_id": c, "template": "t", "sample_index": k,
                               "dispatch_order": order, "prompt": [], "response": response, "extracted": said,
                               "correct": ok, "score": float(ok), "latency_ms": 5.0,
                               "error": "server error 500" if response is None else None,
                               "scores": {"regex": {"extracted": said, "correct": ok, "score": float(ok)}}})
                order += 1
        st.set_status(run_id, "complete")
        return rescore(st, run_id, EXTRACTORS)


# verdicts by hand (✓ = right), per case, samples 0–2:
#   c1 "29":   $29.00 → strict "29.00"✗ last "29.00"✗ number 29✓ | "29" all✓ but boxed | "29.00." number✓ only
#   c2 "30":   "29" all✗ | "30" all✓ but boxed | "$29.00" all✗
#   c3 "1000": "1,000." number✓ only (last_number reads "000") | error | boxed{1000}: last, number, boxed✓
#   c4 "7":    "7 or 8" all✗ (the last number is 8) twice | "Answer: 7" all✓ but boxed
def test_accuracy_per_extractor_is_the_mean_of_case_means(out):
    acc = {e["name"]: e["accuracy"] for e in out["extractors"]}
    assert acc == pytest.approx({"scorer:regex": (1 / 3 + 1 / 3 + 0 + 1 / 3) / 4, "strict": 1 / 4,
                                 "last_number": 1 / 3, "number": (1 + 1 / 3 + 2 / 3 + 1 / 3) / 4, "boxed": 1 / 12})
    read = {e["name"]: e["n_extracted"] for e in out["extractors"]}
    assert read == {"scorer:regex": 6, "strict": 6, "last_number": 11, "number": 11, "boxed": 1}
    assert all(e["applicable"] for e in out["extractors"])


def test_disagreements_are_listed_in_sample_order_with_what_each_read(out):
    listed = [(d["case_id"], d["sample_index"]) for d in out["disagreements"]]
    assert listed == [("c1", 0), ("c1", 1), ("c1", 2), ("c2", 1), ("c3", 0), ("c3", 2), ("c4", 2)]
    first = out["disagreements"][0]
    assert first["extracted"] == {"scorer:regex": "$29.00", "strict": "$29.00", "last_number": "29.00",
                                  "number": "$29.00", "boxed": None}
    assert first["correct"] == {"scorer:regex": False, "strict": False, "last_number": False, "number": True,
                                "boxed": False}
    # "Answer: 29" is right for c1 and wrong for c2: read once, judged against each case's target
    c2 = next(d for d in out["disagreements"] if d["case_id"] == "c2")
    assert c2["correct"]["number"] and c2["extracted"]["number"] == "30"
    rate = out["disagreement_rate"]
    assert (rate["n_disagree"], rate["n_samples"]) == (7, 12)
    assert rate["ci"] == pytest.approx(wilson(7, 12))


def test_slices_spread_and_pairs(out):
    by = {(s["key"], s["value"]): s for s in out["by_slice"]}
    assert by[("kind", "money")]["disagreement_rate"] == pytest.approx(4 / 6)
    assert by[("kind", "money")]["ci"] == pytest.approx(wilson(4, 6))
    assert by[("kind", "plain")]["disagreement_rate"] == pytest.approx(3 / 6)
    dep = out["points_depending"]
    assert dep["spread_points"] == pytest.approx(100 * (7 / 12 - 1 / 12))
    assert (dep["best"], dep["worst"]) == ("number", "boxed")
    assert dep["n_cases_depending"] == 2      # number's majority is right on c1 and c3, nobody else's
    pair = next(p for p in out["pairs"] if (p["a"], p["b"]) == ("strict", "number"))
    assert pair["delta"] == pytest.approx(7 / 12 - 1 / 4)
    assert out["test"] == "sign_flip" and len(out["pairs"]) == 10


def test_stored_verdicts_read_in_sql_match_the_rows_decoded_in_python(tmp_path):
    # names in first-appearance order (the second sample brings "b\"q"), a key the JSON path
    # cannot quote, an object extracted, a sample with no scores at all
    scores = [{"z": {"correct": True, "extracted": "1"}},
              {"z": {"correct": False, "extracted": None}, 'b"q': {"correct": True, "extracted": {"k": [1, 2]}}},
              None,
              {"a": {"correct": 1, "extracted": 7}}]
    with Store(tmp_path / "v.db") as st:
        run_id = st.create_run({"suite": "s", "model": "m", "samples_per_case": 1, "temperature": 0.0, "n_cases": 4, "n_templates": 1,
                                "n_expected": 4, "config": {}},
                               [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["1"], "metadata": {},
                                 "input_text": "q"} for i in range(4)])
        for i, sc in enumerate(scores):
            st.add_sample({"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": 0,
                           "dispatch_order": i, "prompt": [], "response": "1", "correct": False, "score": 0.0,
                           "latency_ms": 1.0, **({"scores": sc} if sc is not None else {})})
        got = st.stored_verdicts(run_id)
    assert list(got) == ["z", 'b"q', "a"]
    assert got["z"] == ([True, False, False, False], ["1", None, None, None])
    assert got['b"q'] == ([False, True, False, False], [None, {"k": [1, 2]}, None, None])
    assert got["a"] == ([False, False, False, True], [None, None, None, 7])


def test_stored_verdicts_names_in_object_order_when_every_sample_has_the_same_scorers(tmp_path):
    # every sample has the same two scorers, written "zeta" first: that is their order (not the
    # alphabetical one), whatever order the samples were stored in
    with Store(tmp_path / "w.db") as st:
        run_id = st.create_run({"suite": "s", "model": "m", "samples_per_case": 1, "temperature": 0.0, "n_cases": 3,
                                "n_templates": 1, "n_expected": 3, "config": {}},
                               [{"case_id": f"c{i}", "position": i, "vars": {}, "targets": ["1"], "metadata": {},
                                 "input_text": "q"} for i in range(3)])
        for i in (2, 0, 1):
            st.add_sample({"run_id": run_id, "case_id": f"c{i}", "template": "t", "sample_index": 0,
                           "dispatch_order": i, "prompt": [], "response": "1", "correct": False, "score": 0.0,
                           "latency_ms": 1.0, "scores": {"zeta": {"correct": i == 1, "extracted": str(i)},
                                                         "alpha": {"correct": i != 1, "extracted": None}}})
        got = st.stored_verdicts(run_id)
    assert list(got) == ["zeta", "alpha"]
    assert got["zeta"] == ([False, True, False], ["0", "1", "2"])
    assert got["alpha"] == ([True, False, True], [None, None, None])
