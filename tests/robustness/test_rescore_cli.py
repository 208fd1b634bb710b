"""`tuieval rescore` over a real SQLite store: no new requests, figures by hand, bad names rejected."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tuieval.store import Store

RESPONSES = {  # case -> (response, target); the suite scored with a strict "Answer:" regex
    "c1": ("12 + 17 = 29.\nAnswer: $29.00", "29"),
    "c2": ("Answer: 1,000", "1000"),
    "c3": ("Answer: 7", "7"),
    "c4": ("I am not sure, maybe 5 or 6", "6"),
}


@pytest.fixture()
def db(tmp_path):
    path = tmp_path / "r.db"
    with Store(path) as st:
        run_id = st.create_run(
            {"suite": "arith", "model": "openai/m", "samples_per_case": 1, "temperature": 0.0, "n_cases": 4,
             "n_templates": 1, "n_expected": 4, "config": {"scorers": ["regex"]}},
            [{"case_id": c, "position": i, "vars": {}, "targets": [t], "metadata": {"kind": "money" if c == "c1" else "plain"},
              "input_text": c} for i, (c, (_, t)) in enumerate(RESPONSES.items())])
        for i, (c, (response, target)) in enumerate(RESPONSES.items()):
            stored_ok = c == "c3"  # what the run's own scorer said
            st.add_sample({"run_id": run_id, "case_id": c, "template": "t0", "sample_index": 0, "dispatch_order": i,
                           "prompt": [], "response": response, "extracted": None, "correct": stored_ok,
                           "score": float(stored_ok), "latency_ms": 10.0,
                           "scores": {"regex": {"extracted": "x", "correct": stored_ok, "score": float(stored_ok)}}})
        st.set_status(run_id, "complete")
    return str(path)


def _rescore(db, *args):
    return subprocess.run([sys.executable, "-m", "tuieval", "rescore", "latest", "--db", db, *args],
                          capture_output=True, text=True)


def test_rescore_reports_each_extractor_and_their_pairs(db):
    done = _rescore(db, "--extractor", "number,last_number", "--format", "json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["schema"] == "tuieval.rescore/1"
    acc = {e["name"]: e["accuracy"] for e in out["extractors"]}
    # number: $29.00 = 29, 1,000 = 1000, 7, and "6" is the last number of c4 -> 4/4
    # last_number: "29.00" != "29", "000" != "1000", "7", "6" -> 2/4; stored regex: c3 only -> 1/4
    assert acc == {"scorer:regex": 0.25, "number": 1.0, "last_number": 0.5}
    pair = next(p for p in out["pairs"] if (p["a"], p["b"]) == ("scorer:regex", "number"))
    assert (pair["a_only"], pair["b_only"]) == (0, 3) and pair["p_value"] == pytest.approx(0.25)  # 2·(½)^3
    assert out["disagreement_rate"]["n_disagree"] == 3
    assert {d["case_id"] for d in out["disagreements"]} == {"c1", "c2", "c4"}
    assert out["points_depending"]["spread_points"] == pytest.approx(75.0)


def test_rescore_markdown_and_bad_extractor(db):
    md = _rescore(db, "--extractor", "number")
    assert md.returncode == 0 and "points of the score depend on the extractor" in md.stdout
    bad = _rescore(db, "--extractor", "nmber")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [
        "tuieval: --extractor: unknown extractor 'nmber' (did you mean number?); one of strict, last_number, "
        "first_number, number, choice, boxed, json_field:PATH"]
