"""Perturbing a suite's cases: derived ids, the link to the original, which variables change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tuieval.perturb import LINK_KEYS, parse_specs, perturb_cases, template_vars
from tuieval.suite import load_suite
from tuieval.suite.model import Case, Template

ROOT = Path(__file__).resolve().parents[2]


def _case(**kw) -> Case:
    base = dict(id="c01", vars={"question": "What is not known about Laura Bennett?", "hint": "do not guess"},
                targets=["Laura Bennett"], metadata={"topic": "people"})
    base.update(kw)
    return Case(**base)


def test_derived_id_and_link_metadata():
    case = _case()
    out = perturb_cases([case], parse_specs("contractions:1,options"), seed=3, input_vars=["question"])
    [p] = out.perturbed
    assert p.case.id == "c01~contractions:1"
    assert {k: p.case.metadata[k] for k in LINK_KEYS} == {"perturbation": "contractions", "severity": 1.0,
                                                          "original_case": "c01"}
    assert p.case.metadata["topic"] == "people"                 # slices still apply
    assert p.case.vars["question"] == "What's not known about Laura Bennett?"
    assert p.case.vars["hint"] == "do not guess"                # not an input variable: untouched
    [skip] = out.skipped
    assert (skip.case_id, skip.perturbation) == ("c01", "options") and "not multiple choice" in skip.reason
    # the original is not modified
    assert case.vars["question"] == "What is not known about Laura Bennett?" and case.id == "c01"
    assert "perturbation" not in case.metadata


def test_input_vars_default_to_what_the_templates_use():
    templates = [Template(id="a", prompt="Q: {{ question }}"), Template(id="b", prompt="{{ question }}", system="{{ hint }}")]
    assert template_vars(templates) == ["question", "hint"]
    out = perturb_cases([_case()], parse_specs("contractions:1"), seed=3, templates=templates[:1])
    assert out.perturbed[0].case.vars["hint"] == "do not guess"
    out = perturb_cases([_case()], parse_specs("contractions:1"), seed=3, templates=templates)
    assert out.perturbed[0].case.vars["hint"] == "don't guess"


def test_chat_messages_only_user_turns_change_and_the_original_list_is_not_mutated():
    messages = [{"role": "system", "content": "You do not guess."}, {"role": "user", "content": "I do not know."}]
    case = _case(vars={"input": messages}, targets=["x"])
    out = perturb_cases([case], parse_specs("contractions:1"), seed=1, templates=[Template("t", "", messages_var="input")])
    new = out.perturbed[0].case.vars["input"]
    assert new == [{"role": "system", "content": "You do not guess."}, {"role": "user", "content": "I don't know."}]
    assert messages[1]["content"] == "I do not know."


def test_perturbed_copies_are_not_perturbed_again():
    first = perturb_cases([_case()], parse_specs("contractions:1"), seed=1, input_vars=["question"]).cases
    again = perturb_cases([_case(), *first], parse_specs("contractions:1"), seed=1, input_vars=["question"])
    assert [c.id for c in again.cases] == ["c01~contractions:1"]


def test_seed_determines_the_output_and_a_different_seed_changes_it():
    suite = load_suite(ROOT / "sample_suites" / "extraction.yaml")
    specs = parse_specs("typos:0.1,casing,names")
    a = perturb_cases(suite.cases, specs, seed=5, templates=suite.templates)
    b = perturb_cases(suite.cases, specs, seed=5, templates=suite.templates)
    c = perturb_cases(suite.cases, specs, seed=6, templates=suite.templates)
    assert [(x.case.id, x.case.vars, x.case.targets) for x in a.perturbed] == \
        [(x.case.id, x.case.vars, x.case.targets) for x in b.perturbed]
    assert [x.case.vars for x in a.perturbed] != [x.case.vars for x in c.perturbed]


def test_same_output_in_another_process_with_another_hash_seed():
    code = ("import json; from tuieval.suite import load_suite; from tuieval.perturb import parse_specs, perturb_cases, FAMILIES\n"
            "s = load_suite('sample_suites/qa.yaml')\n"
            "r = perturb_cases(s.cases, parse_specs(','.join(sorted(FAMILIES))), seed=9, templates=s.templates)\n"
            "print(json.dumps([[c.id, c.vars, c.targets] for c in r.cases], ensure_ascii=False))")
    outs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
        outs.append(json.loads(done.stdout))
    assert outs[0] == outs[1] and len(outs[0]) > 24


def test_few_shot_examples_of_a_sweep_are_not_input():
    templates = [Template(id="plain/2shot", prompt="{{ _shots_2 }}{{ question }}")]
    assert template_vars(templates) == ["question"]


def test_the_cyclic_collector_does_not_run_while_copies_are_made_and_is_back_on_after():
    import gc

    cases = [Case(f"c{i}", {"question": f"Is {i} do not odd? It is not."}, ["yes"]) for i in range(400)]
    collections: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "start":
            collections.append(info["generation"])

    # the same work with the collector on, outside perturb_cases, does trigger collections
    gc.callbacks.append(count)
    try:
        junk = [{"vars": {"q": c.vars["question"]}, "targets": [list(c.targets)]} for c in cases for _ in range(3)]
        assert collections, "the allocations below would trigger the collector"
        specs = parse_specs("casing,contractions,typos")
        collections.clear()
        out = perturb_cases(cases, specs, seed=1, input_vars=["question"])
    finally:
        gc.callbacks.remove(count)
    del junk
    assert len(out.perturbed) == 3 * 400
    # with the collector running, these 1,200 copies set off a dozen young collections; paused,
    # at most the one that the deferred allocations trigger as the pause ends
    assert len(collections) <= 1, collections
    assert gc.isenabled()
