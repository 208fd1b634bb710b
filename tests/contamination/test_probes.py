"""The probe run's cases, built from a suite before anything is stored."""

from __future__ import annotations

from collections import Counter

import pytest

from tuieval.contamination.probes import MESSAGES_VAR, ProbeSettings, build_plan, case_text, split_text
from tuieval.perturb import parse_specs
from tuieval.suite.model import Case, Gate, Suite, Template

MC = "Which river flows through the old city of Budapest in Hungary?\nA) Rhine\nB) Danube\nC) Elbe\nD) Seine"


def _suite() -> Suite:
    return Suite(
        name="tiny", path="tiny.yaml",
        templates=[Template(id="plain", prompt="Q: {{ question }}", system="Be brief."),
                   Template(id="other", prompt="{{ question }}?")],
        cases=[Case(id="c1", vars={"question": MC, "note": "ignored"}, targets=["B"], metadata={"topic": "geo"}),
               Case(id="c2", vars={"question": "Too short to probe?"}, targets=["no"], metadata={"topic": "misc"})],
        gates=[Gate(metric="accuracy", min=0.9)],
    )


def test_split_keeps_the_texts_own_line_breaks_and_needs_four_words_a_side():
    assert split_text("one two three four five six seven eight", 0.5) == ("one two three four", "five six seven eight")
    assert split_text("one two\nthree four five\nsix seven eight nine", 0.5) == ("one two\nthree four", "five\nsix seven eight nine")
    assert split_text("one two three four five six seven", 0.5) is None   # 4 | 3


def test_plan_makes_every_probe_case_linked_to_its_original():
    settings = ProbeSettings(probes=("verbatim", "rewrite", "options"), rewrite=tuple(parse_specs("casing:1")))
    plan = build_plan(_suite(), settings, seed=3)
    by_id = {c.id: c for c in plan.suite.cases}
    assert list(by_id) == ["c1", "c2", "c1~rewrite", "c2~rewrite", "c1~options", "c1~verbatim", "c1~control"]
    # one passthrough template: each case holds its own messages; gates are not a probe run's
    assert [(t.id, t.messages_var) for t in plan.suite.templates] == [("plain", MESSAGES_VAR)]
    assert plan.suite.gates == []
    assert by_id["c1"].vars[MESSAGES_VAR] == [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "Q: " + MC}]
    assert by_id["c1"].metadata == {"topic": "geo", "probe": "original"}

    rewrite = by_id["c1~rewrite"]
    assert rewrite.metadata["original_case"] == "c1" and rewrite.metadata["perturbation"] == "rewrite"
    rewritten = rewrite.vars[MESSAGES_VAR][1]["content"]
    assert rewritten != "Q: " + MC and rewritten.lower() == ("Q: " + MC).lower()   # casing only

    options = by_id["c1~options"]
    shown = options.vars[MESSAGES_VAR][1]["content"]
    letter = options.targets[0]
    assert f"{letter}) Danube" in shown   # the target follows the option text
    assert options.metadata["original_case"] == "c1"

    # verbatim: 19 words, round(9.5) = 10 shown; the system prompt names the data set
    verbatim = by_id["c1~verbatim"]
    system, user = verbatim.vars[MESSAGES_VAR]
    assert "'tiny'" in system["content"] and "word for word" in system["content"]
    assert user["content"] == "Which river flows through the old city of Budapest in"
    assert verbatim.targets == ["Hungary?\nA) Rhine\nB) Danube\nC) Elbe\nD) Seine"]
    assert verbatim.metadata == {"topic": "geo", "probe": "verbatim", "probe_of": "c1"}
    # the control: the same words in another order, cut after as many words
    control = by_id["c1~control"]
    shown_words = control.vars[MESSAGES_VAR][1]["content"].split() + control.targets[0].split()
    assert Counter(shown_words) == Counter(MC.split())
    assert len(control.vars[MESSAGES_VAR][1]["content"].split()) == 10
    assert control.metadata["probe_of"] == "c1"

    assert {(s.case_id, s.probe) for s in plan.skipped} == {("c2", "options"), ("c2", "verbatim")}
    assert plan.made == {"rewrite": 2, "options": 1, "verbatim": 1, "control": 1}


def test_the_case_text_is_what_the_template_reads_not_every_variable():
    suite = _suite()
    assert case_text(suite.cases[0], suite.templates[0]) == MC


def test_same_seed_same_cases_and_an_unknown_template_is_refused():
    settings = ProbeSettings(probes=("verbatim", "rewrite", "options"), rewrite=tuple(parse_specs("casing:1")))
    a = build_plan(_suite(), settings, seed=3).suite.cases
    b = build_plan(_suite(), settings, seed=3).suite.cases
    assert [(c.id, c.vars, c.targets) for c in a] == [(c.id, c.vars, c.targets) for c in b]
    with pytest.raises(ValueError, match="no template 'nope'"):
        build_plan(_suite(), ProbeSettings(template="nope"), seed=3)
    other = build_plan(_suite(), ProbeSettings(probes=("options",), template="other"), seed=3)
    assert other.suite.cases[0].vars[MESSAGES_VAR] == [{"role": "user", "content": MC + "?"}]
