"""The per-sample scoring shortcuts give the Score the plain rule gives.

A regex scorer hands back its comparison scorer's Score when that Score already names the group
as extracted (instead of making a second, equal one); the targets list is passed on uncopied.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tuieval.scoring import build_scorers
from tuieval.scoring.base import Score, as_target_list

_words = st.text(alphabet=st.sampled_from("ab 1.\tÉ"), max_size=6)


def _plain(scorer, response: str, targets: list) -> Score:
    """RegexScorer's rule written out: the group as matched, the comparison's verdict."""
    extracted = scorer.extract(response)
    if extracted is None:
        return Score(None, False, 0.0)
    judged = scorer.then.score(extracted, targets)
    return Score(extracted, judged.correct, judged.score)


@settings(max_examples=300, deadline=None)
@given(then=st.sampled_from(["exact", "normalized", "numeric"]), pattern=st.sampled_from([r"Answer:(.*)", r"(\w+)$", r"=\s*(\S+)"]),
       body=_words, targets=st.lists(_words, max_size=3))
def test_regex_scores_as_the_plain_rule(then, pattern, body, targets):
    scorer = build_scorers([{"type": "regex", "pattern": pattern, "then": then}])[0]
    for response in (f"Answer:{body}", f"x = {body}", body):
        got = scorer.score(response, targets)
        assert got == _plain(scorer, response, targets)
        assert type(got) is Score


def test_a_group_with_spaces_is_reported_as_matched():
    scorer = build_scorers([{"type": "regex", "pattern": r"Answer:(.*)", "then": "exact"}])[0]
    # the comparison strips (" Paris " is "Paris"), the Score still shows the group as written
    assert scorer.score("Answer: Paris ", ["Paris"]) == Score(" Paris ", True, 1.0)
    assert scorer.score("Answer:Paris", ["Paris"]) == Score("Paris", True, 1.0)


def test_targets_as_a_list():
    targets = ["a", "b"]
    assert as_target_list(targets) == ["a", "b"]
    assert as_target_list(("a", "b")) == ["a", "b"]
    assert as_target_list("a") == ["a"]
    assert as_target_list(None) == []
