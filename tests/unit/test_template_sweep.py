"""Template sweeps: every combination, few-shot examples that never show a case its own answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tuieval.suite import load_suite

ENV = {**os.environ, "TUIEVAL_DEMO_SPEED": "0"}


def _suite(tmp_path, sweep, n_cases=5):
    data = {"name": "sw", "templates": {"sweep": sweep},
            "cases": [{"id": f"c{i}", "question": f"question number {i}?", "target": f"answer{i}",
                       "metadata": {"parity": i % 2}} for i in range(n_cases)]}
    path = tmp_path / "sw.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


SWEEP = {"prompt": {"plain": "{{ question }}", "please": "Please answer: {{ question }}"},
         "system": {"none": None, "expert": "You are an expert."}, "shots": [0, 2]}


def test_every_combination_is_a_template(tmp_path):
    suite = load_suite(_suite(tmp_path, SWEEP))
    ids = [t.id for t in suite.templates]
    assert len(ids) == 8 and len(set(ids)) == 8
    assert "please/expert/2shot" in ids and "plain/none/0shot" in ids
    one = load_suite(_suite(tmp_path, {"prompt": "{{ question }}", "shots": [0, 1, 3]}))
    assert [t.id for t in one.templates] == ["0shot", "1shot", "3shot"]


def test_few_shot_examples_are_other_cases_never_the_case_itself(tmp_path):
    suite = load_suite(_suite(tmp_path, SWEEP))
    two_shot = next(t for t in suite.templates if t.id == "please/none/2shot")
    for case in suite.cases:
        text = two_shot.render(case)[-1]["content"]
        assert text.endswith(f"Please answer: {case.vars['question']}")
        examples = text[: -len(f"Please answer: {case.vars['question']}")]
        assert examples.count("Example:") == 2
        assert case.targets[0] not in examples and case.vars["question"] not in examples
        others = [c for c in suite.cases if c.id != case.id][:2]
        for other in others:
            assert f"{other.vars['question']}\nAnswer: {other.targets[0]}" in examples
        assert case.input_text() == case.vars["question"]  # the examples are not this case's input


def test_sweep_errors_name_the_field(tmp_path):
    path = _suite(tmp_path, {"prompt": "{{ question }}", "shots": [0, 9]}, n_cases=4)
    done = subprocess.run([sys.executable, "-m", "tuieval", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "templates.sweep.shots: 9-shot needs more than 9 cases (the suite has 4)" in done.stderr
    path = _suite(tmp_path, {"prompt": "{{ question }}", "shots": "many", "colour": 1})
    done = subprocess.run([sys.executable, "-m", "tuieval", "validate", str(path)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "templates.sweep.shots: must be a list of example counts" in done.stderr
    assert "templates.sweep.colour: unknown field" in done.stderr


def test_a_swept_run_reports_every_template_paired(tmp_path):
    path = _suite(tmp_path, SWEEP, n_cases=8)
    db = str(tmp_path / "t.db")
    run = subprocess.run([sys.executable, "-m", "tuieval", "run", str(path), "--model", "demo/sensitive", "--db", db,
                          "--quiet"], capture_output=True, text=True, env=ENV)
    assert run.returncode == 0, run.stderr
    report = json.loads(subprocess.run([sys.executable, "-m", "tuieval", "report", "latest", "--db", db, "--format",
                                        "json"], capture_output=True, text=True, env=ENV).stdout)
    section = report["robustness"]["templates"]
    assert section["n_templates"] == 8 and section["n_cases"] == 8
    assert {t["template"] for t in section["templates"]} == {t.id for t in load_suite(path).templates}
