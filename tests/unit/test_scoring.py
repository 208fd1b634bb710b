"""Answer extraction and scoring: table-driven cases for every scorer and spec error.

Each table row is (response, targets, expected extracted, expected correct); `targets`
is always the list of accepted answers the engine passes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.scoring import (
    SCORER_TYPES,
    Score,
    Scorer,
    ScorerSpecError,
    build_scorer,
    build_scorers,
    disagreeing_samples,
    extraction_disagreement,
    extraction_failures,
    normalize_text,
    validate_scorer_spec,
    validate_scorer_specs,
)


def check(spec, response, targets, extracted, correct):
    result = build_scorer(spec).score(response, targets)
    assert (result.extracted, result.correct) == (extracted, correct), result
    assert result.score == (1.0 if correct else 0.0)


# -- normalize_text ---------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("Paris", "paris"),
        ("  The   Eiffel Tower. ", "eiffel tower"),
        ("A cat, an apple & the dog!", "cat apple dog"),
        ("Theatre", "theatre"),                      # "the" only as a whole word
        ("don't", "dont"),                           # SQuAD removes punctuation, no space
        ("$1,000", "1000"),                          # symbols count as punctuation
        ("2.5", "2.5"),                              # decimal point kept: 2.5 is not 25
        ("v1.2.", "v1.2"),
        ("José García", "josé garcía"),              # accents kept
        ("STRAßE", "straße"),                        # ß intact (lower, not casefold)
        ("Müller «quoted»", "müller quoted"),        # Unicode punctuation stripped
        ("ＡＢＣ ﬁne", "abc fine"),                   # NFKC: full-width, ligatures
        ("Jose\u0301", "josé"),                      # decomposed accent composes
        ("line\n\tbreak", "line break"),
        ("", ""),
        ("the a an", ""),
    ],
)
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_normalize_text_is_idempotent(text):
    # Normalizing twice must change nothing, or scores would depend on who normalized.
    once = normalize_text(text)
    assert normalize_text(once) == once


# -- exact / normalized / any_of ----------------------------------------------------

@pytest.mark.parametrize(
    "response, targets, extracted, correct",
    [
        ("Paris", ["Paris"], "Paris", True),
        ("  Paris\n", ["Paris"], "Paris", True),       # surrounding whitespace only
        ("paris", ["Paris"], "paris", False),          # case-sensitive
        ("Paris.", ["Paris"], "Paris.", False),        # punctuation matters
        ("Lyon", ["Paris", "Lyon"], "Lyon", True),     # any target
        ("42", [42], "42", True),                      # numbers render as text
        ("true", [True], "true", True),                # bools render as JSON does
        ("", [""], None, False),                       # empty answer is a non-answer
        ("Paris", [], "Paris", False),
        ("Paris", [None], "Paris", False),
    ],
)
def test_exact(response, targets, extracted, correct):
    check("exact", response, targets, extracted, correct)


@pytest.mark.parametrize(
    "response, targets, extracted, correct",
    [
        ("The Eiffel Tower.", ["eiffel tower"], "eiffel tower", True),
        ("**Paris**", ["Paris"], "paris", True),       # markdown bold
        ("Paris.", ["paris"], "paris", True),          # trailing period
        ("PARIS", ["Paris"], "paris", True),
        ("Paris, France", ["Paris"], "paris france", False),
        ("José García", ["josé garcía"], "josé garcía", True),   # case-insensitive only
        ("José García", ["jose garcia"], "josé garcía", False),  # accents are NOT stripped
        ("Straße", ["STRASSE"], "straße", False),      # ß is not folded to ss
        ("1,000", ["1000"], "1000", True),
        ("2.5", ["25"], "2.5", False),
        ("", ["the"], None, False),
        ("New York", ["NYC", "new york"], "new york", True),
    ],
)
def test_normalized(response, targets, extracted, correct):
    check_normalized("normalized", response, targets, extracted, correct)


def check_normalized(spec, response, targets, compared, correct):
    """`compared` is the normalized form the scorer compared; `extracted` keeps the model's own spelling."""
    result = build_scorer(spec).score(response, targets)
    assert result.correct == correct and result.score == (1.0 if correct else 0.0)
    if compared is None:
        assert result.extracted is None
    else:
        assert result.extracted == response.strip()
        assert normalize_text(result.extracted) == compared


@pytest.mark.parametrize(
    "response, targets, extracted, correct",
    [
        ("NYC", ["New York City", "NYC", "New York"], "nyc", True),
        ("the big apple!", ["NYC", "Big Apple"], "big apple", True),
        ("Boston", ["NYC", "New York"], "boston", False),
    ],
)
def test_any_of(response, targets, extracted, correct):
    check_normalized("any_of", response, targets, extracted, correct)


# -- contains -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "spec, response, targets, extracted, correct",
    [
        ("contains", "The capital is PARIS, of course.", ["Paris"], "PARIS", True),
        ("contains", "The capital is Lyon.", ["Paris"], None, False),
        ("contains", "It is New\n  York.", ["new york"], "New\n  York", True),  # wrapped line
        ("contains", "Parisian food", ["Paris"], "Paris", True),     # substring, not word
        ("contains", "anything", [""], None, False),                 # empty target never matches
        ("contains", "Lyon or Nice", ["Paris", "Nice"], "Nice", True),
        ("contains", "jose garcia", ["José García"], None, False),   # accents kept
        ({"type": "contains", "case_sensitive": True}, "PARIS", ["Paris"], None, False),
        ({"type": "contains", "case_sensitive": True}, "in Paris", ["Paris"], "Paris", True),
        ("contains", "costs $5 (approx.)", ["$5 (approx"], "$5 (approx", True),  # no regex injection
    ],
)
def test_contains(spec, response, targets, extracted, correct):
    check(spec, response, targets, extracted, correct)


# -- numeric ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "response, targets, extracted, correct",
    [
        ("The answer is 42.", ["42"], "42", True),            # trailing period
        ("The answer is 42.", [42], "42", True),
        ("**42**", [42], "42", True),                         # markdown bold
        ("3 + 4 = 7, so 12 - 5 = 7", [7], "7", True),         # last number wins
        ("First 7, then finally 8", [7], "8", False),
        ("Total: 1,000 apples", [1000], "1,000", True),       # thousands separator
        ("It costs $1,234,567.89", ["1234567.89"], "$1,234,567.89", True),
        ("-3.5", [-3.5], "-3.5", True),                       # negative
        ("The low was \u22122 degrees", [-2], "\u22122", True),  # Unicode minus
        ("so -$12 overall", [-12], "-$12", True),
        ("1e3", [1000], "1e3", True),                         # scientific notation
        ("2.5E-2", ["0.025"], "2.5E-2", True),
        ("$12", [12], "$12", True),                           # currency
        ("50%", [50], "50%", True),                           # percent sign ignored ...
        ("50%", [0.5], "50%", False),                         # ... so 50% is not 0.5
        ("50", ["50%"], "50", True),
        ("pages 3-5", [5], "5", True),                        # a range, not minus five
        ("pages 3-5", [-5], "5", False),
        ("value .5", [0.5], ".5", True),
        ("1000.0", [1000], "1000.0", True),
        ("x2 and GPT4", [2], None, False),                    # glued to words: not answers
        ("no numbers here", [0], None, False),
        ("41", [42], "41", False),
        ("7", ["seven", "7"], "7", True),                     # any target
        ("7", [True], "7", False),                            # bools are not numbers
        ("The answer is 42", [], "42", False),
    ],
)
def test_numeric(response, targets, extracted, correct):
    check("numeric", response, targets, extracted, correct)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(-10**15, 10**15),
    st.sampled_from(["", "The answer is ", "x = ", "**", "Total: $"]),
    st.sampled_from(["", ".", "**", " apples.", "\n"]),
)
def test_numeric_reads_thousands_separated_integers(n, before, after):
    written = f"{n:,}"
    response = before + (f"-${written[1:]}" if before.endswith("$") and n < 0 else written) + after
    assert build_scorer("numeric").score(response, [n]).correct


@pytest.mark.parametrize(
    "options, response, target, correct",
    [
        ({"tolerance": 0.01}, "1.01", 1.0, True),         # edge: exact in decimal
        ({"tolerance": 0.01}, "0.99", 1.0, True),
        ({"tolerance": 0.01}, "1.011", 1.0, False),
        ({"tolerance": 0.01}, "3.14159", "3.14", True),
        ({"tolerance": 0.1}, "0.3", 0.1 + 0.2, True),
        ({}, "0.30000000000000004", 0.3, False),           # default tolerance 0
        ({"tolerance": 0.05, "relative": True}, "105", 100, True),   # 5% of 100
        ({"tolerance": 0.05, "relative": True}, "105.01", 100, False),
        ({"tolerance": 0.05, "relative": True}, "-95", -100, True),
        ({"tolerance": 0.5, "relative": True}, "0.001", 0, False),  # relative to 0: exact only
        ({"tolerance": 0.5, "relative": True}, "0", 0, True),
        ({"tolerance": "1e-3"}, "2.0009", 2, True),        # YAML reads 1e-3 as a string
        ({}, "1e999999999999", 1, False),                  # absurd exponent: no crash
    ],
)
def test_numeric_tolerance(options, response, target, correct):
    result = build_scorer({"type": "numeric", **options}).score(response, [target])
    assert result.correct is correct


# -- choice -------------------------------------------------------------------------

@pytest.mark.parametrize(
    "response, extracted",
    [
        ("The answer is (B)", "B"),
        ("B.", "B"),
        ("**B**", "B"),
        ("Answer: b", "B"),
        ("b", "B"),
        ("(c)", "C"),
        ("**Answer:** D", "D"),
        ("**Answer**: (A)", "A"),
        ("The correct answer to this question is **C**.", "C"),
        ("answer is option B", "B"),
        ("Final answer: A", "A"),
        ("The answer is a.", "A"),
        ("The answer is B. Wait, no: the answer is D.", "D"),   # last explicit statement
        ("\\boxed{C}", "C"),
        ("\\boxed{\\text{D}}", "D"),
        ("B. Paris", "B"),
        ("(C) 42, because 6 x 7 = 42", "C"),
        ("A) Paris: wrong\nB) Lyon: wrong\nTherefore the answer is (C)", "C"),
        ("A) Paris\nB) Lyon", None),                   # options restated, no choice
        ("Paris is the capital, so **B. Paris**.", "B"),
        ("Looking at option B, it fits.", "B"),
        ("I think it's C", "C"),
        ("A reasonable guess is C", "C"),                 # "A reasonable" is English
        ("Ｂ", "B"),                                       # full-width letter (NFKC)
        # Things that must not be read as a choice:
        ("The answer is a dog.", None),                   # lowercase article
        ("Option (A) is wrong and (B) is wrong too", None),  # several letters mentioned
        ("C or D, hard to say", None),                    # ambiguous
        ("The answer is E", None),                        # not a valid choice
        ("None of these.", None),
        ("", None),
    ],
)
def test_choice_extraction(response, extracted):
    result = build_scorer("choice").score(response, ["B"])
    assert result.extracted == extracted
    assert result.correct is (extracted == "B")


@pytest.mark.parametrize(
    "spec, response, targets, extracted, correct",
    [
        ("choice", "Answer: b", ["B"], "B", True),
        ("choice", "Answer: B", ["b"], "B", True),        # target letter case ignored
        ("choice", "Answer: B", ["(B)"], "B", True),
        ("choice", "Answer: B", ["B. Paris"], "B", True),
        ("choice", "Answer: C", ["B"], "C", False),
        ("choice", "Answer: C", ["B", "C"], "C", True),
        ("choice", "Answer: B", [1], "B", False),         # indices are not letters
        ({"type": "choice", "choices": "ABCDEFGHIJ"}, "The answer is (J)", ["J"], "J", True),
        ({"type": "choice", "choices": "ABCDEFGHIJ"}, "I think so", ["I"], None, False),
        ({"type": "choice", "choices": ["a", "b"]}, "The answer is (B)", ["B"], "B", True),
        ({"type": "choice", "choices": "AB"}, "The answer is (C)", ["C"], None, False),
    ],
)
def test_choice(spec, response, targets, extracted, correct):
    check(spec, response, targets, extracted, correct)


# -- regex --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "options, response, targets, extracted, correct",
    [
        ({"pattern": r"FINAL: (.+)"}, "FINAL: The Louvre", ["louvre"], "The Louvre", True),
        ({"pattern": r"FINAL: (.+)"}, "no marker here", ["louvre"], None, False),
        ({"pattern": r"FINAL: (.+)", "then": "exact"}, "FINAL: louvre", ["Louvre"], "louvre", False),
        ({"pattern": r"FINAL: (.+)", "then": "exact"}, "FINAL: Louvre ", ["Louvre"], "Louvre ", True),
        ({"pattern": r"#### (.+)", "then": "numeric"}, "12 + 30\n#### $1,000", [1000], "$1,000", True),
        ({"pattern": r"#### (.+)", "then": "numeric", "tolerance": 1}, "#### 41", [42], "41", True),
        ({"pattern": r"#### (.+)", "then": "numeric"}, "#### none", [42], "none", False),
        # Last match by default; `match: first` to take the first.
        ({"pattern": r"Answer: (\w+)"}, "Answer: Lyon. Answer: Paris", ["Paris"], "Paris", True),
        ({"pattern": r"Answer: (\w+)", "match": "first"}, "Answer: Lyon. Answer: Paris", ["Paris"], "Lyon", False),
        ({"pattern": r"answer: (\w+)", "ignore_case": True}, "ANSWER: Paris", ["paris"], "Paris", True),
        ({"pattern": r"(?P<city>[A-Z][a-z]+)$", "group": "city"}, "It is Paris", ["paris"], "Paris", True),
        ({"pattern": r"\d+"}, "between 3 and 4", ["4"], "4", True),       # no groups: whole match
        ({"pattern": r"(x)|(y)", "group": 2}, "x y x", ["y"], "y", True),  # skip non-participating
        ({"pattern": r"Answer: (.*)"}, "Answer: Paris\nAnswer: ", ["paris"], "Paris", True),  # skip empty
        ({"pattern": r"(?m)^A: (.*)$"}, "Q: ?\nA: Paris\nThanks", ["paris"], "Paris", True),
    ],
)
def test_regex(options, response, targets, extracted, correct):
    check({"type": "regex", **options}, response, targets, extracted, correct)


# -- json ---------------------------------------------------------------------------

FENCED = 'Here you go:\n```json\n{"name": "Paris", "loc": {"country": "FRANCE"}, "n": 2}\n```\nDone.'


@pytest.mark.parametrize(
    "spec, response, targets, extracted, correct",
    [
        ("json", '{"a": 1, "b": [1, 2]}', [{"b": [1, 2], "a": 1}], '{"a":1,"b":[1,2]}', True),
        ("json", '{"a": 1}', ['{"a": 1.0}'], '{"a":1}', True),             # target as JSON string
        ("json", 'Result: {"a": 1} (final)', [{"a": 1}], '{"a":1}', True),  # first {...} span
        ("json", "Sure: [1, 2, 3].", [[1, 2, 3]], "[1,2,3]", True),
        ("json", '```\n{"a": true}\n```', [{"a": True}], '{"a":true}', True),
        ("json", '{"a": true}', [{"a": 1}], '{"a":true}', False),            # true != 1
        ("json", '{"a": "1"}', [{"a": 1}], '{"a":"1"}', False),              # "1" != 1 (strict)
        ("json", '{"a": "Paris"}', [{"a": "paris"}], '{"a":"Paris"}', False),  # strict strings
        ({"type": "json", "normalize": True}, '{"a": "Paris"}', [{"a": "paris"}], '{"a":"Paris"}', True),
        ("json", '{"a": [1, 2]}', [{"a": [2, 1]}], '{"a":[1,2]}', False),    # list order matters
        ("json", '{"a": 1, "b": 2}', [{"a": 1}], '{"a":1,"b":2}', False),    # extra key
        ("json", "no json {here", [{"a": 1}], None, False),
        ("json", '{"a": 1,}', [{"a": 1}], None, False),                     # invalid JSON
        ("json", "42", ["42"], "42", True),
        ("json", '"hi"', ["hi"], '"hi"', True),                             # non-JSON string target
        ("json", '{"x": 1}', [{"x": 2}, {"x": 1}], '{"x":1}', True),         # any target
        ({"type": "json", "fields": ["name", "loc.country"]}, FENCED,
         [{"name": "paris", "loc": {"country": "France"}}], '{"loc.country":"FRANCE","name":"Paris"}', True),
        ({"type": "json", "fields": ["n"]}, FENCED, [{"n": "2"}], '{"n":2}', True),   # "2" ~ 2 normalized
        ({"type": "json", "fields": ["n"]}, '{"n": 2.5}', [{"n": "25"}], '{"n":2.5}', False),
        ({"type": "json", "fields": ["n"]}, '{"n": "1,000"}', [{"n": 1000.0}], '{"n":"1,000"}', True),
        ({"type": "json", "fields": ["ok"]}, '{"ok": "True"}', [{"ok": True}], '{"ok":"True"}', True),
        ({"type": "json", "fields": ["ok"]}, '{"ok": 1}', [{"ok": True}], '{"ok":1}', False),
        ({"type": "json", "fields": ["items.1.id"]}, '{"items": [{"id": 1}, {"id": 7}]}',
         ['{"items": [{}, {"id": 7}]}'], '{"items.1.id":7}', True),
    ],
)
def test_json(spec, response, targets, extracted, correct):
    check(spec, response, targets, extracted, correct)


def test_json_fields_partial_credit():
    scorer = build_scorer({"type": "json", "fields": ["a", "b.c", "d"]})
    result = scorer.score('{"a": 1, "b": {"c": "x"}}', [{"a": 1, "b": {"c": "y"}, "d": 3}])
    # a matches; b.c differs; d is missing from the response.
    assert (result.extracted, result.correct) == ('{"a":1,"b.c":"x"}', False)
    assert result.score == pytest.approx(1 / 3)
    best = scorer.score('{"a": 1, "b": {"c": "x"}}', [{"a": 2}, {"a": 1, "b": {"c": "x"}, "d": 3}])
    assert best.score == pytest.approx(2 / 3)


# -- behaviour common to all scorers -------------------------------------------------

@pytest.mark.parametrize(
    "spec, response, target",
    [
        ("exact", "B", "B"),
        ("normalized", "B", "b"),
        ("any_of", "B", "b"),
        ("contains", "xBx", "b"),
        ("numeric", "7", 7),
        ("choice", "B", "B"),
        ("json", '{"a": 1}', {"a": 1}),
        ({"type": "regex", "pattern": "(.*)"}, "B", "b"),
    ],
)
def test_every_scorer_handles_missing_response_and_bare_target(spec, response, target):
    scorer = build_scorer(spec)
    assert isinstance(scorer, Scorer)
    assert scorer.score(None, [target]) == Score(None, False, 0.0)   # failed request
    assert scorer.score("", [target]).correct is False
    assert scorer.score(response, []).correct is False               # no accepted answers
    assert scorer.score(response, [target]).correct is True
    # A bare target (not in a list) is accepted as the single accepted answer.
    assert scorer.score(response, target).correct is True


def test_score_must_be_in_unit_interval():
    with pytest.raises(ValueError):
        Score("x", True, 1.5)


@pytest.mark.parametrize(
    "spec",
    [
        "exact", "normalized", "any_of", "contains", "numeric", "choice", "json",
        {"type": "numeric", "tolerance": 0.01, "relative": True, "name": "num"},
        {"type": "choice", "choices": "ABCDE"},
        {"type": "contains", "case_sensitive": True},
        {"type": "json", "fields": ["a", "b.c"]},
        {"type": "regex", "pattern": r"#### (.+)", "then": "numeric", "tolerance": 0.5},
    ],
)
def test_spec_round_trips(spec):
    scorer = build_scorer(spec)
    assert build_scorer(scorer.spec).spec == scorer.spec


def test_spec_type_is_case_insensitive():
    assert build_scorer("Numeric").name == "numeric"
    assert build_scorer({"type": "any-of"}).name == "any_of"


# -- build_scorers -------------------------------------------------------------------

def test_build_scorers_default_single_and_list():
    assert [s.name for s in build_scorers(None)] == ["normalized"]
    assert [s.name for s in build_scorers("numeric")] == ["numeric"]
    assert [s.name for s in build_scorers({"type": "choice"})] == ["choice"]
    names = [s.name for s in build_scorers(["numeric", {"type": "numeric", "tolerance": 1}, "exact", "numeric"])]
    assert names == ["numeric", "numeric_2", "exact", "numeric_3"]


def test_build_scorers_explicit_names_win():
    names = [s.name for s in build_scorers(["numeric", {"type": "exact", "name": "numeric"}, {"type": "exact", "name": "numeric"}])]
    assert names == ["numeric_2", "numeric", "numeric_3"]
    assert len(set(names)) == 3


def test_build_scorers_reports_every_problem():
    with pytest.raises(ScorerSpecError) as info:
        build_scorers(["numeric", {"type": "numeric", "tolerance": "lots"}, "bogus"])
    err = info.value
    assert err.field_path == "scorers[1].tolerance"
    assert err.message.startswith("must be a number")
    assert str(err).startswith("scorers[1].tolerance: must be a number")
    assert err.problems[1].startswith("scorers[2]: unknown scorer type 'bogus'")
    with pytest.raises(ScorerSpecError, match=r"^scorers: must list at least one scorer"):
        build_scorers([])


# -- spec validation ------------------------------------------------------------------

@pytest.mark.parametrize(
    "spec, expected",
    [
        ("numerc", "scorers[1]: unknown scorer type 'numerc' (did you mean 'numeric'?)"),
        (42, "scorers[1]: must be a scorer type"),
        ({"name": "x"}, "scorers[1].type: required"),
        ({"numeric": {"tolerance": 1}}, "scorers[1].type: required: one of exact"),
        ({"type": 3}, "scorers[1].type: must be a string"),
        ({"type": "numeric", "tolerance": "lots"}, "scorers[1].tolerance: must be a number"),
        ({"type": "numeric", "tolerance": True}, "scorers[1].tolerance: must be a number"),
        ({"type": "numeric", "tolerance": -0.1}, "scorers[1].tolerance: must not be negative"),
        ({"type": "numeric", "tolerance": float("nan")}, "scorers[1].tolerance: must be a number"),
        ({"type": "numeric", "relative": "yes"}, "scorers[1].relative: must be true or false"),
        ({"type": "numeric", "tolerence": 1}, "scorers[1].tolerence: unknown option for a numeric scorer (did you mean 'tolerance'?)"),
        ({"type": "exact", "case_sensitive": True}, "scorers[1].case_sensitive: unknown option for a exact scorer"),
        ({"type": "choice", "choices": 4}, "scorers[1].choices: must be a string of letters"),
        ({"type": "choice", "choices": "AB1"}, "scorers[1].choices: must contain only letters"),
        ({"type": "choice", "choices": "ABA"}, "scorers[1].choices: lists A more than once"),
        ({"type": "choice", "choices": "A"}, "scorers[1].choices: must list at least two letters"),
        ({"type": "contains", "case_sensitive": "no"}, "scorers[1].case_sensitive: must be true or false"),
        ({"type": "json", "fields": []}, "scorers[1].fields: must be a non-empty list"),
        ({"type": "json", "fields": ["a", 3]}, "scorers[1].fields[1]: must be a field name"),
        ({"type": "json", "fields": ["a..b"]}, "scorers[1].fields[0]: has an empty part"),
        ({"type": "json", "normalize": 1}, "scorers[1].normalize: must be true or false"),
        ({"type": "regex"}, "scorers[1].pattern: required"),
        ({"type": "regex", "pattern": "(unclosed"}, "scorers[1].pattern: is not a valid regular expression"),
        ({"type": "regex", "pattern": "(a)", "group": 2}, "scorers[1].group: pattern has only 1 group"),
        ({"type": "regex", "pattern": "a", "group": 1}, "scorers[1].group: pattern has no groups"),
        ({"type": "regex", "pattern": "(a)", "group": "x"}, "scorers[1].group: pattern has no group named 'x'"),
        ({"type": "regex", "pattern": "(a)", "group": -1}, "scorers[1].group: must be a group number"),
        ({"type": "regex", "pattern": "(a)", "then": "numerik"}, "scorers[1].then: must be one of normalized, exact, numeric"),
        ({"type": "regex", "pattern": "(a)", "match": "all"}, "scorers[1].match: must be first or last"),
        ({"type": "regex", "pattern": "(a)", "tolerance": 1}, "scorers[1].tolerance: only applies when then is numeric"),
        ({"type": "regex", "pattern": "(a)", "then": "numeric", "tolerance": "x"}, "scorers[1].tolerance: must be a number"),
        ({"type": "exact", "name": ""}, "scorers[1].name: must be a non-empty string"),
        ({"type": "exact", 1: 2}, "scorers[1]: option names must be strings"),
    ],
)
def test_bad_spec_names_field_path(spec, expected):
    problems = validate_scorer_spec(spec, "scorers[1]")
    assert problems and problems[0].startswith(expected), problems
    with pytest.raises(ScorerSpecError) as info:
        build_scorer(spec, "scorers[1]")
    assert str(info.value) == problems[0]
    assert info.value.field_path == problems[0].partition(": ")[0]


def test_validation_collects_all_problems_and_accepts_good_specs():
    spec = {"type": "numeric", "tolerance": "x", "relative": 2, "bogus": 1}
    fields = [p.partition(": ")[0] for p in validate_scorer_spec(spec, "scorers[0]")]
    assert sorted(fields) == ["scorers[0].bogus", "scorers[0].relative", "scorers[0].tolerance"]
    assert validate_scorer_spec({"type": "numeric", "tolerance": 0.01}, "scorers[0]") == []
    assert validate_scorer_specs(None) == []
    assert validate_scorer_specs(["exact", "nope"]) == [
        "scorers[1]: unknown scorer type 'nope'; expected one of " + ", ".join(SCORER_TYPES)
    ]


# -- extractor sensitivity ------------------------------------------------------------

def _s(correct, extracted="x"):
    return Score(extracted, correct, 1.0 if correct else 0.0)


def test_extraction_disagreement():
    numeric = [_s(True), _s(False), _s(True), _s(False, None)]
    regex = [_s(True), _s(True), _s(False), _s(False)]
    assert extraction_disagreement([numeric, regex]) == 2
    assert disagreeing_samples([numeric, regex]) == [1, 2]
    assert extraction_disagreement([numeric]) == 0
    assert extraction_disagreement([]) == 0
    assert extraction_failures(numeric) == 1
    # Unscored samples (None) are left out of the comparison.
    assert extraction_disagreement([[None, _s(True)], [_s(False), _s(True)]]) == 0
    with pytest.raises(ValueError):
        extraction_disagreement([[_s(True)], []])


def test_disagreement_from_real_scorers():
    responses = ["The answer is 42.", "Answer: 42", "I get 41, final 42 (step 3)"]
    scorers = build_scorers(["numeric", {"type": "regex", "pattern": r"Answer: (\S+)", "then": "numeric"}])
    scores = [[s.score(r, [42]) for r in responses] for s in scorers]
    assert [sc.correct for sc in scores[0]] == [True, True, False]
    assert [sc.correct for sc in scores[1]] == [False, True, False]
    assert extraction_disagreement(scores) == 1


def test_the_last_number_that_parses_is_taken_when_the_last_one_does_not():
    from decimal import Decimal

    from tuieval.scoring.numeric import extract_last_number

    # an exponent too large even for Decimal: that number is skipped, the one before it is the answer
    assert extract_last_number("7 then 1e99999999999999999999") == ("7", Decimal("7"))
    assert extract_last_number("1e99999999999999999999") is None
    assert extract_last_number("a 3, b $4.5") == ("$4.5", Decimal("4.5"))
    assert extract_last_number("no digits") is None


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.,-+\u2212$€£¥%eE xa_\u0663\n", max_size=40) | st.text(max_size=40))
def test_the_number_scan_finds_what_the_plain_rule_finds(text):
    import re

    from tuieval.scoring.numeric import _NUMBER, NUMBER_RULE

    plain = re.compile(NUMBER_RULE, re.VERBOSE)
    assert [m.groupdict() | {"span": m.span()} for m in _NUMBER.finditer(text)] == \
        [m.groupdict() | {"span": m.span()} for m in plain.finditer(text)]
