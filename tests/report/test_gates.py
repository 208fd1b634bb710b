"""Gates a CI job can trust: the JSON, JUnit and Markdown say what `tuieval run`'s exit status said."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)


def _suite_with_gates(tmp_path: Path, gates: list[dict]) -> Path:
    shutil.copytree(ROOT / "sample_suites" / "data", tmp_path / "data")
    suite = yaml.safe_load((ROOT / "sample_suites" / "extraction.yaml").read_text(encoding="utf-8"))
    suite["gates"] = gates
    path = tmp_path / "gated.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    return path


GATES = [
    {"metric": "accuracy", "min": 0.99},                                   # fails: ~88%
    {"metric": "accuracy", "slice": "name_origin=non_english", "min": 0.95},  # fails: the planted slice
    {"metric": "error_rate", "max": 0.5},                                  # holds: no errors
    {"metric": "p99_ms", "max": 1.0},                                      # fails: simulated latency > 1 ms
]


def test_failed_gates_are_failed_testcases_and_listed_in_every_format(tmp_path):
    suite = _suite_with_gates(tmp_path, GATES)
    db = str(tmp_path / "t.db")
    run = _tuieval("run", str(suite), "--model", "demo/brittle", "--db", db, "--quiet")
    assert run.returncode == 1, run.stderr
    printed = [line for line in run.stderr.splitlines() if line.startswith("gate failed:")]
    assert len(printed) == 3

    report = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json").stdout)
    gates = report["gates"]
    assert [g["passed"] for g in gates] == [False, False, True, False]
    for g in gates:
        assert set(g) >= {"gate", "slice", "metric", "op", "threshold", "value", "n", "passed"}
    slice_gate = gates[1]
    assert slice_gate["slice"] == "name_origin=non_english" and slice_gate["op"] == ">="
    the_slice = next(s for s in report["slices"] if s["key"] == "name_origin" and s["value"] == "non_english")
    assert slice_gate["value"] == the_slice["accuracy"] and slice_gate["n"] == the_slice["n_cases"]
    assert gates[3]["value"] == report["overall"]["latency_ms"]["p99"]

    root = ET.fromstring(_tuieval("report", "latest", "--db", db, "--format", "junit").stdout)
    gate_cases = [c for c in root.iter("testcase") if c.get("classname") == "gates"]
    assert len(gate_cases) == 4
    failed = [c for c in gate_cases if c.find("failure") is not None]
    assert len(failed) == 3
    message = failed[1].find("failure").get("message")
    assert "name_origin=non_english" in message and "0.95" in message and f"n={the_slice['n_cases']}" in message
    n_flagged = sum(1 for s in report["slices"] if s.get("flagged"))
    robustness = [c for c in root.iter("testcase") if c.get("classname").startswith("robustness.")]
    rob = report.get("robustness") or {}
    # the robustness tests are testcases too: one per perturbation row, the template test, extractor pairs
    assert len(robustness) == (len((rob.get("perturbations") or {}).get("rows") or [])
                               + int(bool((rob.get("templates") or {}).get("test")))
                               + len((rob.get("extractors") or {}).get("pairs") or []))
    n_robust_failed = sum(1 for c in robustness if c.find("failure") is not None)
    assert root.get("failures") == str(3 + n_flagged + n_robust_failed)
    assert root.get("tests") == str(4 + len(report["slices"]) + len(robustness))

    md = _tuieval("report", "latest", "--db", db).stdout
    head = md.split("| metric | value |")[0]
    assert "## Gates: 3 of 4 failed" in head
    assert head.count("✗ FAILED") == 3 and head.count("✓ passed") == 1


def test_a_run_whose_gates_hold_has_no_failed_gate_testcase(tmp_path):
    suite = _suite_with_gates(tmp_path, [{"metric": "accuracy", "min": 0.5}])
    db = str(tmp_path / "t.db")
    assert _tuieval("run", str(suite), "--model", "demo/steady", "--db", db, "--quiet").returncode == 0
    root = ET.fromstring(_tuieval("report", "latest", "--db", db, "--format", "junit").stdout)
    gate_cases = [c for c in root.iter("testcase") if c.get("classname") == "gates"]
    assert len(gate_cases) == 1 and gate_cases[0].find("failure") is None
