"""The demo shows the hidden variables without a key: demo/sensitive moves with the template,
demo/verbose with the extractor, demo/steady with neither (sample_suites/hidden_variables.yaml)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "sample_suites" / "hidden_variables.yaml"
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args):
    done = subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


def _templates(db, model):
    _tuieval("run", str(SUITE), "--model", model, "--db", db, "--quiet")
    return json.loads(_tuieval("report", "latest", "--db", db, "--format", "json"))["robustness"]["templates"]


def test_sensitive_moves_with_the_template_and_steady_does_not(tmp_path):
    db = str(tmp_path / "t.db")
    sensitive = _templates(db, "demo/sensitive")
    assert sensitive["test"]["name"] == "cochran_q" and sensitive["test"]["p_value"] < 0.001
    assert sensitive["spread"]["ci"][0] > 0.2
    steady = _templates(db, "demo/steady")
    assert steady["test"]["p_value"] > 0.05


def test_verbose_moves_with_the_extractor(tmp_path):
    db = str(tmp_path / "t.db")
    _tuieval("run", str(SUITE), "--model", "demo/verbose", "--db", db, "--quiet")
    out = json.loads(_tuieval("rescore", "latest", "--db", db, "--format", "json"))
    acc = {e["name"]: e["accuracy"] for e in out["extractors"]}
    assert acc["number"] > 0.85 and acc["strict"] < 0.4 and acc["last_number"] < acc["number"] - 0.3
    pair = next(p for p in out["pairs"] if {p["a"], p["b"]} == {"strict", "number"})
    assert pair["significant"]
    assert not next(e for e in out["extractors"] if e["name"] == "choice")["applicable"]


def test_the_suites_extractors_are_in_the_report(tmp_path):
    db = str(tmp_path / "t.db")
    _tuieval("run", str(SUITE), "--model", "demo/verbose", "--db", db, "--quiet")
    report = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json"))
    section = report["robustness"]["extractors"]
    assert [e["name"] for e in section["extractors"]] == ["scorer:numeric", "strict", "last_number", "first_number",
                                                          "number"]
    assert section["extractors"][0]["accuracy"] == report["overall"]["accuracy"]
    assert "## Extraction sensitivity" in _tuieval("report", "latest", "--db", db)


def test_an_unknown_extractor_in_a_suite_is_named_with_its_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text('name: x\ntemplate: "{{ q }}"\ncases: [{q: a, target: a}]\nextractors: [numbr, strict]\n',
                   encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "tuieval", "validate", str(bad)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"{bad}:4: extractors[0]: unknown extractor 'numbr' (did you mean number?); "
                                   "one of strict, last_number, first_number, number, choice, boxed, json_field:PATH")


def test_fragile_shows_all_three_hidden_variables_in_one_run(tmp_path):
    db = str(tmp_path / "t.db")
    _tuieval("run", str(SUITE), "--model", "demo/fragile", "--db", db, "--quiet")
    robustness = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json"))["robustness"]
    templates, perturbations, extractors = (robustness["templates"], robustness["perturbations"],
                                            robustness["extractors"])
    assert templates["n_cases"] == 60  # the originals: perturbed copies are the perturbation section's
    assert templates["test"]["p_value"] < 0.05 and templates["spread"]["ci"][0] > 0
    padded = next(r for r in perturbations["rows"] if r["label"] == "distractors:1" and r["slice"] == "all")
    assert padded["significant"] and padded["delta"] < -0.1
    pair = next(p for p in extractors["pairs"] if {p["a"], p["b"]} == {"strict", "number"})
    assert pair["significant"]
