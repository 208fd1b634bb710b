"""Validation catches what would break or silently corrupt a run, before a single request.

Each malformed suite or dataset goes through `tuieval validate` and `tuieval run --model
demo/steady` as a subprocess: exit 2, one line on stderr naming the file, the field (and
the line where there is one), no traceback, and no run stored.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tuieval.suite import load_suite, validate

ROOT = Path(__file__).resolve().parents[2]

CSV = "id,text,lang\n1,hello there,en\n2,hallo 42,de\n3,bonjour,fr\n"


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tuieval", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def _write(tmp_path: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        p = tmp_path / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")


# name → (files, the suite to run, words the one line must hold: file, field, what is wrong)
BROKEN: dict[str, tuple[dict[str, str | bytes], str, tuple[str, ...]]] = {
    "csv_without_the_mapped_column": (
        {"d.csv": CSV, "s.yaml": "template: 'Ticket: {{ ticket }}'\n"
                                 "dataset: {path: d.csv, fields: {target: lang, input: {ticket: body}}}\n"},
        "s.yaml", ("s.yaml:2", "dataset.fields.input.ticket", "no column 'body' in d.csv", "columns: id, text, lang")),
    "missing_metadata_column": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\n"
                                 "dataset: {path: d.csv, fields: {target: lang, metadata: [langauge]}}\n"},
        "s.yaml", ("s.yaml:2", "dataset.fields.metadata", "'langauge'", "did you mean 'lang'")),
    "missing_target_column": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\ndataset: {path: d.csv, fields: {target: answer}}\n"},
        "s.yaml", ("s.yaml:2", "dataset.fields.target", "no column 'answer' in d.csv")),
    "csv_without_any_target": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\ndataset: d.csv\n"},
        "s.yaml", ("s.yaml:2", "dataset.fields.target", "no target, targets or ideal column")),
    "gate_slice_key_typo": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\ndataset: {path: d.csv, fields: {target: lang, metadata: [lang]}}\n"
                                 "gates:\n  - {metric: accuracy, min: 0.5, slice: language=de}\n"},
        "s.yaml", ("s.yaml:4", "gates[0].slice", "'language'", "did you mean 'lang'")),
    "gate_slice_value_typo": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\ndataset: {path: d.csv, fields: {target: lang, metadata: [lang]}}\n"
                                 "gates:\n  - {metric: accuracy, min: 0.5, slice: lang=dee}\n"},
        "s.yaml", ("s.yaml:4", "gates[0].slice", "lang=dee", "did you mean 'de'")),
    "gate_on_a_derived_value_no_case_has": (
        {"s.yaml": "template: '{{ q }}'\ncases: [{q: plain words, target: a}]\n"
                   "gates: [{metric: accuracy, min: 0.5, slice: has_digits=True}]\n"},
        "s.yaml", ("s.yaml:3", "gates[0].slice", "has_digits=True", "values: False")),
    "dotted_variable_on_a_plain_string": (
        {"s.yaml": "template: 'Body: {{ body.text }}'\ncases: [{id: c1, body: plain, target: a}]\n"},
        "s.yaml", ("s.yaml:1", "template", "{{ body.text }}", "case 'c1'", "body is a string")),
    "template_referencing_a_missing_var": (
        {"s.yaml": "templates:\n  - 'Q: {{ question }}'\n  - 'Q: {{ qestion }}'\ncases: [{question: x, target: a}]\n"},
        "s.yaml", ("s.yaml:3", "templates[1]", "{{ qestion }}", "did you mean 'question'")),
    "null_variable": (
        {"d.jsonl": '{"q": "a", "target": "x"}\n{"q": null, "target": "y"}\n',
         "s.yaml": "template: '{{ q }}'\ndataset: d.jsonl\n"},
        "s.yaml", ("s.yaml:1", "template", "{{ q }}", "q is null")),
    "csv_row_wider_than_its_header": (
        {"d.csv": "id,text,lang\n1,hello,en\n2,hi, there,de\n", "s.yaml": "template: '{{ text }}'\n"
                                                                          "dataset: {path: d.csv, fields: {target: lang}}\n"},
        "s.yaml", ("d.csv:3", "row has 4 fields, the header has 3")),
    "csv_row_narrower_than_its_header": (
        {"d.csv": "id,text,lang\n1,hello\n", "s.yaml": "template: '{{ text }}'\ndataset: {path: d.csv, fields: {target: lang}}\n"},
        "s.yaml", ("d.csv:2", "row has 2 fields")),
    "bad_yaml": ({"s.yaml": "template: 'Q {{ q }}'\ncases: [{q: a, target: b}\n"}, "s.yaml", ("s.yaml:", "invalid YAML")),
    "wrong_types": ({"s.yaml": "template: 'Q {{ q }}'\ncases: [{q: a, target: b}]\nsampling: [1]\n"},
                    "s.yaml", ("s.yaml:3", "sampling", "must be a mapping")),
    "fields_of_the_wrong_type": (
        {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\ndataset: {path: d.csv, fields: {target: lang, metadata: lang}}\n"},
        "s.yaml", ("s.yaml:2", "dataset.fields.metadata", "must list column names")),
    "empty_dataset": ({"d.jsonl": "", "s.yaml": "template: '{{ q }}'\ndataset: d.jsonl\n"},
                      "s.yaml", ("s.yaml:2", "dataset.path", "d.jsonl has no rows")),
    "empty_plain_jsonl": ({"e.jsonl": "\n"}, "e.jsonl", ("e.jsonl", "no cases")),
    "csv_with_only_a_header": ({"d.csv": "id,text,lang\n", "s.yaml": "template: '{{ text }}'\ndataset: d.csv\n"},
                               "s.yaml", ("s.yaml:2", "d.csv has no rows")),
    "jsonl_with_a_bad_line": ({"e.jsonl": '{"input": "a", "target": "b"}\n{"input": "c", target: 1}\n'},
                              "e.jsonl", ("e.jsonl:2", "invalid JSON")),
    "jsonl_line_not_an_object": ({"e.jsonl": '{"input": "a", "target": "b"}\n[1, 2]\n'},
                                 "e.jsonl", ("e.jsonl:2", "must be a JSON object")),
    "jsonl_messages_that_are_not_messages": ({"e.jsonl": '{"input": ["hi", 3], "target": "b"}\n'},
                                             "e.jsonl", ("e.jsonl:1", "input[0]", "role and content")),
    "non_utf8_suite": ({"s.yaml": b"template: 'Q {{ q }}'\ncases: [{q: \xe9t\xe9, target: b}]\n"},
                       "s.yaml", ("s.yaml:2", "not UTF-8")),
    "non_utf8_dataset": ({"d.csv": b"id,text,lang\n1,caf\xe9,fr\n", "s.yaml": "template: '{{ text }}'\ndataset: d.csv\n"},
                         "s.yaml", ("d.csv:2", "not UTF-8")),
    "unknown_scorer": ({"s.yaml": "template: 'Q {{ q }}'\ncases: [{q: a, target: b}]\nscorer: telepathy\n"},
                       "s.yaml", ("s.yaml:3", "scorer", "telepathy")),
    "duplicate_case_ids": ({"s.yaml": "template: 'Q {{ q }}'\ncases:\n  - {id: 1, q: a, target: b}\n"
                                      "  - {id: 1, q: c, target: d}\n"},
                           "s.yaml", ("s.yaml:4", "cases", "duplicate case id '1'")),
    "yaml_value_json_cannot_hold": ({"s.yaml": "template: 'Q {{ q }}'\ncases: [{q: a, target: b, blob: !!binary aGk=}]\n"},
                                    "s.yaml", ("s.yaml:2", "cases[0].blob", "not bytes")),
    "dataset_is_a_directory": ({"s.yaml": "template: 'Q {{ q }}'\ndataset: sub\n"}, "s.yaml",
                               ("s.yaml:2", "dataset.path", "is a directory")),
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_bad_input_is_one_line_exit_2_before_any_request(tmp_path, name):
    files, suite, words = BROKEN[name]
    _write(tmp_path, files)
    (tmp_path / "sub").mkdir()
    val = _cli("validate", suite, cwd=tmp_path)
    assert val.returncode == 2, val.stdout + val.stderr
    assert "Traceback" not in val.stderr
    first = val.stderr.splitlines()[0]
    for w in words:
        assert w in first, (w, val.stderr)

    db = tmp_path / "runs.db"
    run = _cli("run", suite, "--model", "demo/steady", "--db", str(db), cwd=tmp_path)
    assert run.returncode == 2, run.stdout + run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    for w in words:
        assert w in lines[0], (w, run.stderr)
    assert run.stdout == ""  # no run id: nothing was started
    assert not db.exists()  # checked before the database is even opened


def test_a_missing_column_is_named_once_not_per_case(tmp_path):
    rows = "".join(f"{i},text {i},en\n" for i in range(50))
    _write(tmp_path, {"d.csv": "id,text,lang\n" + rows,
                      "s.yaml": "template: '{{ ticket }}'\ndataset: {path: d.csv, fields: {input: {ticket: body}, "
                                "target: answer}}\n"})
    problems = validate(tmp_path / "s.yaml")
    assert sorted(p.field for p in problems) == ["dataset.fields.input.ticket", "dataset.fields.target"], problems
    assert all("d.csv" in p.message for p in problems)


def test_jsonl_column_missing_on_some_rows_is_one_problem(tmp_path):
    lines = [{"qid": i, "question": "q", "answer": "a"} for i in range(5)] + [{"qid": 9, "answer": "a"}]
    _write(tmp_path, {"d.jsonl": "\n".join(json.dumps(x) for x in lines) + "\n",
                      "s.yaml": "template: '{{ q }}'\ndataset: {path: d.jsonl, fields: {id: qid, target: answer, "
                                "input: {q: question}}}\n"})
    (problem,) = validate(tmp_path / "s.yaml")
    assert problem.field == "dataset.fields.input.q"
    assert "missing on 1 of 6 rows of" in problem.message and problem.message.endswith("d.jsonl")


@pytest.mark.parametrize("gate_slice", [
    "lang=de", "input_tokens=short", "script=latin", "has_digits=True", "has_digits=False", "non_ascii_name=False",
])
def test_gates_on_metadata_and_derived_slices_that_exist_validate(tmp_path, gate_slice):
    _write(tmp_path, {"d.csv": CSV, "s.yaml": "template: '{{ text }}'\n"
                                              "dataset: {path: d.csv, fields: {target: lang, metadata: [lang]}}\n"
                                              f"gates: [{{metric: accuracy, min: 0.1, slice: '{gate_slice}'}}]\n"})
    assert validate(tmp_path / "s.yaml") == []


def test_a_gate_on_a_numeric_bin_validates(tmp_path):
    cases = "".join(f"  - {{q: x, target: a, metadata: {{n: {i}}}}}\n" for i in range(40))
    _write(tmp_path, {"s.yaml": "template: '{{ q }}'\ncases:\n" + cases +
                      "gates: [{metric: accuracy, min: 0.1, slice: 'n=[0, 3]'}]\n"})
    assert validate(tmp_path / "s.yaml") == []
    (tmp_path / "s.yaml").write_text((tmp_path / "s.yaml").read_text().replace("n=[0, 3]", "n=[0, 4]"))
    (problem,) = validate(tmp_path / "s.yaml")
    assert problem.field == "gates[0].slice" and "n=[0, 4]" in problem.message and "[0, 3]" in problem.message


def test_the_sample_suites_still_validate_and_dates_become_text(tmp_path):
    for path in sorted((ROOT / "sample_suites").glob("*.yaml")):
        assert validate(path) == [], path
    _write(tmp_path, {"s.yaml": "template: 'On {{ day }}'\ncases: [{day: 2024-01-31, target: a}]\n"})
    suite = load_suite(tmp_path / "s.yaml")
    assert suite.templates[0].render(suite.cases[0])[-1]["content"] == "On 2024-01-31"


def test_dotted_variables_that_resolve_are_fine(tmp_path):
    _write(tmp_path, {"s.yaml": "template: '{{ body.text }} / {{ items.1 }}'\n"
                                "cases: [{body: {text: hi}, items: [a, b], target: x}]\n"})
    suite = load_suite(tmp_path / "s.yaml")
    assert suite.templates[0].render(suite.cases[0])[-1]["content"] == "hi / b"
