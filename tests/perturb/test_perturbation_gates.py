"""Gates on perturbations (`flip_rate`, `worst_case_accuracy`) recomputed from `tuieval export`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _tuieval(*args):
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, env=ENV)


def test_perturbation_gates_read_the_worst_flip_rate_and_the_worst_case(tmp_path):
    suite = {"name": "pg", "templates": [{"id": "t", "prompt": "{{ text }}\n\nQuestion: {{ question }}"}],
             "dataset": {"path": str(ROOT / "sample_suites" / "data" / "extraction.jsonl")},
             "scorers": ["normalized"], "sampling": {"samples": 1, "seed": 7},
             "perturbations": ["names:1", "distractors:1"],
             "gates": [{"metric": "flip_rate", "max": 0.05}, {"metric": "worst_case_accuracy", "min": 0.1}]}
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    db = str(tmp_path / "t.db")
    run = _tuieval("run", str(path), "--model", "demo/brittle", "--db", db, "--quiet", "--limit", "60")
    assert run.returncode == 1, run.stderr

    rows = [json.loads(line) for line in _tuieval("export", "latest", "--db", db).stdout.splitlines()]
    ok = {r["case_id"]: bool(r["correct"]) for r in rows}
    meta = {r["case_id"]: r["metadata"] for r in rows}
    originals = [c for c in ok if "original_case" not in meta[c]]
    copies: dict = {}
    for c, m in meta.items():
        if "original_case" in m:
            copies.setdefault(m["perturbation"], {})[m["original_case"]] = c
    flip = {p: sum(ok[o] and not ok[c] for o, c in pairs.items()) / len(pairs) for p, pairs in copies.items()}
    worst = sum(ok[o] and all(ok[pairs[o]] for pairs in copies.values() if o in pairs) for o in originals) / len(originals)

    report = json.loads(_tuieval("report", "latest", "--db", db, "--format", "json").stdout)
    gate_flip, gate_worst = report["gates"]
    assert gate_flip["value"] == pytest.approx(max(flip.values())) and not gate_flip["passed"]
    assert gate_worst["value"] == pytest.approx(worst) and gate_worst["passed"] == (worst >= 0.1)
    assert f"gate failed: flip_rate on overall = {max(flip.values()):.3f} > max 0.05" in run.stderr
    md = _tuieval("report", "latest", "--db", db).stdout
    assert "## Perturbations (120 perturbed copies of 60 cases" in md and "Worst case over every perturbation" in md


def test_a_perturbation_gate_on_a_run_without_perturbations_fails_and_says_why(tmp_path):
    suite = {"name": "np", "template": "{{ q }}", "cases": [{"id": "a", "q": "x", "target": "x"}],
             "gates": [{"metric": "flip_rate", "max": 0.1}]}
    path = tmp_path / "np.yaml"
    path.write_text(yaml.safe_dump(suite), encoding="utf-8")
    db = str(tmp_path / "t.db")
    run = _tuieval("run", str(path), "--model", "demo/steady", "--db", db, "--quiet")
    assert run.returncode == 1
    assert "gate failed: flip_rate on overall: this run has no perturbation figure there" in run.stderr
