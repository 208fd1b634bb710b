"""`NAME[:SEVERITY]` specs, from --perturb and from a suite's perturbations: list."""

from __future__ import annotations

import pytest
import yaml

from tuieval.perturb import FAMILIES, PerturbSpec, PerturbSpecError, parse_spec, parse_specs, specs_from_config

ALL = {"typos", "casing", "whitespace", "punctuation", "contractions", "numbers", "names", "distractors",
       "options", "homoglyphs"}


def test_every_family_of_the_issue_is_registered():
    assert set(FAMILIES) == ALL


def test_parse_spec_with_and_without_severity():
    assert parse_spec("typos:0.1") == PerturbSpec("typos", 0.1)
    assert parse_spec(" Casing ") == PerturbSpec("casing", FAMILIES["casing"].default_severity)
    assert parse_spec("options") == PerturbSpec("options", None)
    assert parse_spec("typos:0.10").label == "typos:0.1"
    assert parse_spec("numbers:1").label == "numbers:1"
    assert parse_spec("options").label == "options"


def test_parse_specs_lists_a_severity_curve():
    specs = parse_specs("typos:0.02,typos:0.05,typos:0.1,typos:0.2,options")
    assert [s.label for s in specs] == ["typos:0.02", "typos:0.05", "typos:0.1", "typos:0.2", "options"]


@pytest.mark.parametrize("text, fragment", [
    ("typo:0.1", "unknown perturbation 'typo' (known: casing, contractions"),
    ("typos:fast", "typos: severity must be a number in [0, 1], got 'fast'"),
    ("typos:1.5", "typos: severity must be a number in [0, 1]"),
    ("typos:-0.1", "severity must be a number in [0, 1]"),
    ("typos:nan", "severity must be a number in [0, 1]"),
    ("options:0.5", "options takes no severity"),
    ("", "empty perturbation"),
    ("typos,,casing", "empty perturbation"),
    ("typos:0.1,typos:0.10", "typos:0.1 is listed twice"),
])
def test_bad_specs_say_what_is_wrong_in_one_line(text, fragment):
    with pytest.raises(PerturbSpecError) as info:
        parse_specs(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_config_forms_as_yaml_reads_them():
    value = yaml.safe_load("""
- typos:0.1
- casing
- typos: 0.2
- numbers: [0.5, 1]
- {name: whitespace, severity: 0.4}
- {name: homoglyphs, severities: [0.05, 0.1]}
- options
""")
    assert [s.label for s in specs_from_config(value)] == [
        "typos:0.1", "casing:0.3", "typos:0.2", "numbers:0.5", "numbers:1", "whitespace:0.4",
        "homoglyphs:0.05", "homoglyphs:0.1", "options"]
    assert specs_from_config(None) == []


@pytest.mark.parametrize("value, fragment", [
    ("typos", "must be a list"),
    ([42], "[0]: each perturbation is NAME[:SEVERITY]"),
    (["casing", {"name": "typos", "rate": 0.1}], "[1]: unknown field 'rate'"),
    ([{"name": "typos", "severity": 2}], "[0]: typos: severity must be a number in [0, 1]"),
    ([{"name": "typos", "severity": True}], "[0]: typos: severity must be a number"),
    ([{"name": "typos", "severities": []}], "[0]: severities: must be a non-empty list"),
    ([{"typos": []}], "[0]: typos: empty list of severities"),
    (["typos:0.1", {"typos": 0.1}], "typos:0.1 is listed twice"),
])
def test_bad_config_names_the_entry(value, fragment):
    with pytest.raises(PerturbSpecError) as info:
        specs_from_config(value)
    assert fragment in str(info.value)
