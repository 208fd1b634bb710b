"""Property tests: every perturbation is deterministic per seed and never changes what is
correct, over generated cases and over the sample suites.

"Correct" is checked here without the perturbation's own helpers: occurrences of each target
are found by slicing, option lists are parsed by a regex of the test, and name swaps are
checked by replacing the names in the original with plain str.replace.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuieval.perturb import FAMILIES, make_spec, perturb_case, perturb_cases, Perturbed, template_vars
from tuieval.suite import load_suite
from tuieval.suite.model import Case

ROOT = Path(__file__).resolve().parents[2]
SUITES = {name: load_suite(ROOT / "sample_suites" / f"{name}.yaml") for name in ("qa", "extraction", "json_format", "hidden_variables")}
REWRITES_TARGET = {"names", "options"}
SEVERITIES = {name: (None if f.default_severity is None else [0.05, 0.3, 1.0]) for name, f in FAMILIES.items()}


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list):
        return [x for v in value for x in _leaves(v)]
    if value is None or isinstance(value, bool):
        return []
    text = str(value).strip()
    return [text] if text else []


def _occurrences(text: str, target: str) -> list[str]:
    """Whole-word (at word edges), case-insensitive occurrences of target, as they are written."""
    out = []
    n = len(target)
    low = target.lower()
    for i in range(len(text) - n + 1):
        piece = text[i:i + n]
        if piece.lower() != low:
            continue
        if target[0].isalnum() or target[0] == "_":
            if i > 0 and (text[i - 1].isalnum() or text[i - 1] == "_"):
                continue
        if target[-1].isalnum() or target[-1] == "_":
            if i + n < len(text) and (text[i + n].isalnum() or text[i + n] == "_"):
                continue
        out.append(piece)
    return out


def _is_subsequence(small: list[str], big: list[str]) -> bool:
    it = iter(big)
    return all(any(x == y for y in it) for x in small)


def _option_map(text: str) -> dict[str, str]:
    return dict(re.findall(r"^[ \t]*\(?([A-Z])[).:]?\)?[ \t]+(\S.*?)[ \t]*$", text, re.M))


def check_still_correct(original: Case, result: Perturbed, input_vars: list[str]) -> None:
    new = result.case
    name = result.spec.name
    texts = [original.vars[v] for v in input_vars if isinstance(original.vars.get(v), str)]
    new_texts = [new.vars[v] for v in input_vars if isinstance(new.vars.get(v), str)]
    assert new.metadata["original_case"] == original.id and new.metadata["perturbation"] == name
    if name not in REWRITES_TARGET:
        assert new.targets == original.targets
        for target in {t for t in _leaves(original.targets)}:
            for before, after in zip(texts, new_texts):
                # every occurrence of the answer survives, exactly as written, in order
                assert _is_subsequence(_occurrences(before, target), _occurrences(after, target)), (name, target, after)
    elif name == "names":
        mapping = result.detail["names"]
        expected = original.targets
        for old, repl in mapping.items():
            expected = _replace_all(expected, old, repl)
            assert old not in repr(new.targets)
            for before, after in zip(texts, new_texts):
                assert old not in after
                assert after.count(repl) == before.count(old)
        assert new.targets == expected
    else:  # options
        for before, after, target_before, target_after in _pairs(texts, new_texts, original.targets, new.targets):
            opts_before, opts_after = _option_map(before), _option_map(after)
            if target_before in opts_before.values():
                assert target_after == target_before
            else:
                letter_before = re.search(r"[A-Z]", target_before).group(0)
                letter_after = re.search(r"[A-Z]", target_after).group(0)
                assert opts_after[letter_after] == opts_before[letter_before]
            assert sorted(opts_after.values()) == sorted(opts_before.values())


def _pairs(texts, new_texts, targets, new_targets):
    for before, after in zip(texts, new_texts):
        if before != after:
            for tb, ta in zip(targets, new_targets):
                yield before, after, tb, ta


def _replace_all(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new)
    if isinstance(value, dict):
        return {k: _replace_all(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_all(v, old, new) for v in value]
    return value


def _specs():
    for name, sevs in SEVERITIES.items():
        for sev in (sevs or [None]):
            yield make_spec(name, sev)


ALL_SPECS = list(_specs())

# ------------------------------------------------------------------------------------------
# generated cases
# ------------------------------------------------------------------------------------------

WORDS = ["the", "report", "was", "written", "by", "It", "is", "not", "do", "not", "can't", "I", "am", "1000",
         "1,000", "17", "in", "1987", "3.5", "km,", "Which", "one?", "Yes!", "said", "well;", "Zürich", "naïve",
         "over", "x", "x.x", "a,a", "Canberra;x", "CO2", "won't", "they", "are", "ok.", "Answer:", "(a)", "a", "B"]
NAMES = ["Chloe Sanders", "Mehmet Öztürk", "Laura Bennett", "Ștefan Popescu", "Kenji Sato"]


@st.composite
def cases(draw):
    kind = draw(st.sampled_from(["name", "number", "word", "choice"]))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=0, max_size=40))
    if kind == "name":
        target = draw(st.sampled_from(NAMES))
    elif kind == "number":
        target = draw(st.sampled_from(["42", "1000", "1,440", "7"]))
    elif kind == "word":
        target = draw(st.sampled_from(["Canberra", "carbon dioxide", "a", "is not", "x"]))
    else:
        target = None
    if kind == "choice":
        opts = draw(st.lists(st.sampled_from(["apple", "leek", "kale", "it is not", "1,000 m", "Chloe Sanders"]),
                             min_size=2, max_size=5, unique=True))
        style = draw(st.sampled_from(["{}) ", "{}. ", "({}) ", "{}: "]))
        block = "\n".join(style.format(chr(65 + i)) + o for i, o in enumerate(opts))
        answer = draw(st.integers(0, len(opts) - 1))
        target = draw(st.sampled_from([chr(65 + answer), opts[answer], f"({chr(65 + answer)})"]))
        text = " ".join(words) + "\n" + block + "\nAnswer with the letter."
    else:
        k = draw(st.integers(1, 3))
        for _ in range(k):
            words.insert(draw(st.integers(0, len(words))), target)
        text = " ".join(words)
    question = draw(st.sampled_from(["Who is it?", "What is not known?", "How many?"]))
    return Case(id=draw(st.sampled_from(["c1", "q-07", "ex 3"])), vars={"text": text, "question": question},
                targets=[target])


@pytest.mark.parametrize("name", sorted(FAMILIES))
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases(), seed=st.integers(0, 2**31), severity=st.sampled_from([0.05, 0.3, 1.0]))
def test_generated_cases_stay_correct_and_are_deterministic(name, case, seed, severity):
    spec = make_spec(name, None if FAMILIES[name].default_severity is None else severity)
    inputs = ["text", "question"]
    first = perturb_case(case, spec, seed=seed, input_vars=inputs)
    second = perturb_case(case, spec, seed=seed, input_vars=inputs)
    assert first == second
    if isinstance(first, Perturbed):
        check_still_correct(case, first, inputs)


# ------------------------------------------------------------------------------------------
# the sample suites
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("suite_name", sorted(SUITES))
@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_sample_suites_stay_correct_and_are_deterministic(suite_name, seed):
    suite = SUITES[suite_name]
    inputs = template_vars(suite.templates)
    a = perturb_cases(suite.cases, ALL_SPECS, seed=seed, templates=suite.templates)
    b = perturb_cases(suite.cases, ALL_SPECS, seed=seed, templates=suite.templates)
    assert [(p.case.id, p.case.vars, p.case.targets, p.case.metadata) for p in a.perturbed] == \
        [(p.case.id, p.case.vars, p.case.targets, p.case.metadata) for p in b.perturbed]
    originals = {c.id: c for c in suite.cases}
    for p in a.perturbed:
        check_still_correct(originals[p.case.metadata["original_case"]], p, inputs)
    # every case is either perturbed or skipped with a reason, under every spec
    assert len(a.perturbed) + len(a.skipped) == len(suite.cases) * len(ALL_SPECS)
    assert all(s.reason for s in a.skipped)


MC_SUITE = [Case(id=f"m{i}", vars={"question": f"Pick {i}?\nA) red\nB) green\nC) blue\nD) grey {i}"},
                 targets=["ABCD"[i % 4]]) for i in range(12)]


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_different_seed_changes_some_case(name):
    spec = make_spec(name, None if FAMILIES[name].default_severity is None else 0.5)
    cases_, templates = [], []
    for suite in SUITES.values():
        cases_ += suite.cases
        templates += suite.templates
    cases_ += MC_SUITE
    runs = [perturb_cases(cases_, [spec], seed=s, templates=templates) for s in (1, 2)]
    one = {p.case.id: (p.case.vars, p.case.targets) for p in runs[0].perturbed}
    two = {p.case.id: (p.case.vars, p.case.targets) for p in runs[1].perturbed}
    assert one.keys() == two.keys() and one
    assert any(one[k] != two[k] for k in one)
