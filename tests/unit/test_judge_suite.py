"""Judge suites: human labels inline or from a file, checked with file/field/line; the demo judge end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tuieval.suite import SuiteError, load_suite, validate

SUITE = """\
name: labelled
template: "Capital of {{ country }}?"
cases:
  - {id: fr, country: France, target: Paris, human_label: pass}
  - {id: de, country: Germany, target: Berlin}
  - {id: it, country: Italy, target: Rome, human_label: 0}
scorers:
  - {type: judge, model: demo/judge}
"""


def test_human_labels_inline_and_from_a_file(tmp_path):
    (tmp_path / "labels.jsonl").write_text('{"id": "de", "label": "incorrect"}\n{"id": "fr", "label": false}\n')
    path = tmp_path / "s.yaml"
    path.write_text(SUITE + "human_labels: labels.jsonl\n")
    suite = load_suite(path)
    # fr: the case's own label wins over the file's
    assert suite.human_labels == {"fr": True, "de": False, "it": False}
    assert suite.config()["human_labels"] == {"fr": True, "de": False, "it": False}
    assert "human_label" not in suite.cases[0].vars


def test_bad_labels_are_named_with_file_and_line(tmp_path):
    (tmp_path / "labels.csv").write_text("id,label\nde,sure\nxx,pass\n")
    path = tmp_path / "s.yaml"
    path.write_text(SUITE.replace("human_label: 0", "human_label: perhaps") + "human_labels: labels.csv\n")
    problems = [str(p) for p in validate(path)]
    assert any("labels.csv line 2: label 'sure'" in p for p in problems)
    assert any("labels.csv line 3: no case with id 'xx'" in p for p in problems)
    assert any("s.yaml:6:" in p and "human_label 'perhaps'" in p for p in problems), problems
    with pytest.raises(SuiteError):
        load_suite(path)


def test_demo_judge_run_offline_reports_the_judge_section(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(SUITE)
    db = tmp_path / "t.db"
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))},
           "TUIEVAL_DEMO_SPEED": "0"}
    run = subprocess.run([sys.executable, "-m", "tuieval", "run", str(path), "--model", "demo/steady", "--db", str(db),
                          "-q"], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    out = subprocess.run([sys.executable, "-m", "tuieval", "report", "latest", "--db", str(db), "--format", "json"],
                         capture_output=True, text=True, env=env, timeout=120, check=True)
    report = json.loads(out.stdout)
    section = report["judge"]["scorers"][0]
    assert section["requests"]["n"] == 3 and section["n_pending"] == 0
    # demo/judge passes an answer that holds the target; the report's accuracy is the judge's
    assert report["overall"]["accuracy"] == pytest.approx(section["accuracy"]["majority"]["value"])
    assert section["human"]["n"] == 2
    md = subprocess.run([sys.executable, "-m", "tuieval", "report", "latest", "--db", str(db)],
                        capture_output=True, text=True, env=env, timeout=120, check=True).stdout
    assert "## Judge `judge`" in md and "Cohen's κ" in md


def test_no_early_warning_from_samples_still_waiting_for_their_judge(tmp_path):
    # 40 cases all answered right (demo/steady at ~90%) and passed by demo/judge: an early warning
    # read from the not-yet-judged rows (correct = 0 until judged) would call the gate failing.
    cases = "\n".join(f"  - {{id: q{i}, country: C{i}, target: X{i}}}" for i in range(40))
    path = tmp_path / "g.yaml"
    path.write_text(SUITE.split("cases:")[0] + "cases:\n" + cases + "\nscorers:\n  - {type: judge, model: demo/judge}\n"
                    "gates:\n  - {metric: accuracy, min: 0.5}\n")
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))},
           "TUIEVAL_DEMO_SPEED": "0"}
    run = subprocess.run([sys.executable, "-m", "tuieval", "run", str(path), "--model", "demo/steady", "--db",
                          str(tmp_path / "t.db")], capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "early warning" not in run.stderr
