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


def test_score_behaves_as_the_frozen_dataclass_it_was():
    import dataclasses
    import pickle

    import pytest

    @dataclasses.dataclass(frozen=True)
    class Score:  # the plain definition, for comparison (same name, so the same repr)
        extracted: str | None
        correct: bool
        score: float

    from tuieval.scoring.base import Score as Fast

    for args in [("tok", True, 1.0), (None, False, 0.0), ("x", False, 0.25)]:
        fast, plain = Fast(*args), Score(*args)
        assert repr(fast) == repr(plain).replace(Score.__qualname__, "Score")
        assert hash(fast) == hash(plain)
        assert dataclasses.asdict(fast) == dataclasses.asdict(plain)
        assert fast == Fast(extracted=args[0], correct=args[1], score=args[2])
        assert fast != Fast(args[0], not args[1], args[2])
        assert pickle.loads(pickle.dumps(fast)) == fast
        assert dataclasses.replace(fast, score=0.5) == Fast(args[0], args[1], 0.5)
        with pytest.raises(dataclasses.FrozenInstanceError):
            fast.score = 0.5  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(Fast)] == ["extracted", "correct", "score"]
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match="score must be in"):
            Fast("x", True, bad)
