"""Suite loading: the YAML format, datasets, plain JSONL shapes, and one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuieval.suite import load_suite, validate

ROOT = Path(__file__).resolve().parents[2]


def _cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, cwd=cwd, timeout=60)


def test_sample_suites_are_valid():
    for path in sorted((ROOT / "sample_suites").glob("*.yaml")):
        assert validate(path) == [], path
    extraction = load_suite(ROOT / "sample_suites" / "extraction.yaml")
    slices = {(c.metadata["length"], c.metadata["name_origin"]) for c in extraction.cases}
    assert ("long", "english") in slices and ("short", "non_english") in slices
    assert len(extraction.cases) >= 100


def test_inline_suite_with_templates_renders(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "name: t\n"
        "templates:\n"
        "  - id: a\n    system: Be brief.\n    prompt: 'Q: {{ question }}'\n"
        "  - 'Tell me: {{question}}'\n"
        "cases:\n"
        "  - {id: x, question: 'What is {{ not_a_var }}?', targets: [one, '1'], metadata: {lang: en}}\n",
        encoding="utf-8",
    )
    suite = load_suite(path)
    assert [t.id for t in suite.templates] == ["a", "t1"]
    case = suite.cases[0]
    assert case.targets == ["one", "1"] and case.metadata == {"lang": "en"}
    messages = suite.templates[0].render(case)
    assert messages == [{"role": "system", "content": "Be brief."},
                        {"role": "user", "content": "Q: What is {{ not_a_var }}?"}]  # case text is not re-expanded


def test_dataset_jsonl_and_csv_with_field_mapping(tmp_path):
    (tmp_path / "d.csv").write_text("qid,question,answer,lang\n7,Capital of France?,Paris,en\n", encoding="utf-8")
    (tmp_path / "s.yaml").write_text(
        "template: '{{ question }}'\n"
        "dataset: {path: d.csv, fields: {id: qid, target: answer, metadata: [lang]}}\n", encoding="utf-8")
    suite = load_suite(tmp_path / "s.yaml")
    (case,) = suite.cases
    assert (case.id, case.targets, case.metadata, case.vars) == ("7", ["Paris"], {"lang": "en"}, {"question": "Capital of France?"})


def test_plain_jsonl_shapes_are_suites(tmp_path):
    path = tmp_path / "evals.jsonl"
    rows = [
        {"input": "2+2?", "target": "4", "id": "a", "metadata": {"kind": "math"}},
        {"input": [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Capital of Peru?"}],
         "ideal": ["Lima", "lima"]},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    suite = load_suite(path)
    assert [s.as_mapping() for s in suite.scorers] == [{"type": "normalized", "name": "normalized"}]
    first, second = suite.cases
    assert first.metadata == {"kind": "math"} and first.targets == ["4"]
    assert second.targets == ["Lima", "lima"]
    assert suite.templates[0].render(second)[1] == {"role": "user", "content": "Capital of Peru?"}


BROKEN = {
    "broken_yaml.yaml": ("name: x\ntemplates: [unclosed\n", "invalid YAML"),
    "missing_cases.yaml": ("name: x\ntemplate: 'Q {{ q }}'\n", "cases"),
    "mistyped_samples.yaml": ("template: 'Q {{ q }}'\ncases: [{q: a, target: b}]\nsampling: {samples: many}\n",
                              "sampling.samples"),
    "missing_dataset.yaml": ("template: 'Q {{ q }}'\ndataset: nowhere.jsonl\n", "dataset file not found"),
    "unknown_variable.yaml": ("template: 'Q {{ qestion }}'\ncases:\n  - {question: a, target: b}\n",
                              "unknown template variable {{ qestion }}"),
    "bad_scorer.yaml": ("template: 'Q {{ q }}'\ncases: [{q: a, target: b}]\nscorer: {type: telepathy}\n", "scorer"),
    "no_target.yaml": ("template: 'Q {{ q }}'\ncases: [{id: c1, q: a}]\n", "no target"),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_malformed_suite_exits_2_with_one_line(tmp_path, name):
    text, expected = BROKEN[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = _cli("run", str(path), "--model", "demo/steady", "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert name in lines[0] and expected in lines[0]
    val = _cli("validate", str(path))
    assert val.returncode == 2 and expected in val.stderr


def test_validate_reports_line_numbers(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("template: 'Q {{ q }}'\ncases:\n  - {q: a, target: b}\nsampling:\n  temperature: hot\n",
                    encoding="utf-8")
    (problem,) = validate(path)
    assert problem.line == 5 and problem.field == "sampling.temperature"


def test_bad_flags_exit_2_with_one_line(tmp_path):
    for args in (["run", "sample_suites/qa.yaml", "--model", "nope"],
                 ["run", "sample_suites/qa.yaml", "--model", "demo/steady", "--concurrency", "0"],
                 ["run", "sample_suites/qa.yaml"],
                 ["report", "latest", "--db", str(tmp_path / "missing.db")],
                 ["run", "sample_suites/qa.yaml", "--model", "openai/gpt-4o-mini"]):
        result = subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, cwd=ROOT,
                                timeout=60, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
        assert result.returncode == 2, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr, result.stderr
